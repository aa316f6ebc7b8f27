"""One poll cycle: read both ends of every site concurrently, then store the readings in bulk.

Each site's Azure half, pfSense half and DNS check run as three independent calls on a bounded
thread pool (``S2SVPN_POLL_WORKERS``), so one slow firewall never holds up the rest. Every call
has a deadline counted from when it starts (``S2SVPN_POLL_TIMEOUT``, also given to the clients
as their HTTP timeout), and the whole cycle a budget (``S2SVPN_POLL_CYCLE_BUDGET``, default the
interval); a call that fails or misses either makes that half "unknown, because …"
(``EndStatus.error``), never "down". Clients are built once per site, in the worker threads, and
reused between cycles (their HTTP connections stay open); they are rebuilt when the site's
connection settings change.

Readings go to ``monitor.storage.record`` — bulk writes, then alerts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from monitor import azure_half, leases, pace, storage
from monitor.models import Snapshot
from monitor.readings import DnsReading, Reading
from s2svpn import activeactive_status
from s2svpn.intent import SiteIntent
from s2svpn.status import EndStatus, TunnelState
from wizard.models import Run, RunKind, Site, SiteStatus

log = logging.getLogger(__name__)


def poll_interval() -> float:
    return float(getattr(settings, "S2SVPN_POLL_INTERVAL", 60))


def poll_timeout() -> float:
    """Per-call deadline: by default a third of the interval, at most 20 s."""
    value = getattr(settings, "S2SVPN_POLL_TIMEOUT", None)
    return float(value) if value else min(20.0, poll_interval() / 3)


def poll_workers() -> int:
    return int(getattr(settings, "S2SVPN_POLL_WORKERS", 128))


def cycle_budget() -> float:
    """How long one cycle may take before calls still queued are given up (default: the
    interval, so cycles never pile up)."""
    value = getattr(settings, "S2SVPN_POLL_CYCLE_BUDGET", None)
    return float(value) if value else max(poll_interval(), poll_timeout())


def lro_interval() -> float:
    """Seconds between status checks of Azure's POST actions (getBgpPeerStatus & co.) when Azure
    sends no Retry-After (it usually does; the sandbox does not)."""
    return float(getattr(settings, "S2SVPN_POLL_LRO_INTERVAL", 0.25))


# ---------------------------------------------------------------------------------------------
# Clients, one pair per site, reused between cycles


def _azure_fingerprint(site: Site) -> str:
    """What an Azure client is made of: sites with the same credential, subscription and ARM
    endpoint share one client (one SDK pipeline, one pool of kept-alive connections to ARM)."""
    parts = [
        site.azure_auth,
        site.tenant_id,
        site.client_id,
        str(site.client_secret or ""),
        site.subscription_id,
        site.arm_base_url,
        site.arm_ca_bundle,
    ]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _pfsense_fingerprint(site: Site) -> str:
    parts = [
        site.pfsense_url,
        str(site.pfsense_api_key or ""),
        site.pfsense_ca_bundle,
        site.pfsense_fingerprint,
    ]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class ClientCache:
    """Clients reused between cycles; thread-safe.

    Azure: one client per credential + subscription + ARM endpoint (``_azure_fingerprint``),
    shared by every site of that subscription: its connections to ARM stay busy (so open) and
    are reused across sites, instead of a TLS connection per site that the server may close
    while the site waits for its next poll. pfSense: one client per site (every site is its own
    firewall), rebuilt when the site's firewall settings change.

    Clients are built in the worker threads (building 1,000 clients serially would cost the
    cycle seconds).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pfsense: dict[int, tuple[str, Any, dict[int, Any]]] = {}
        self._azure: dict[str, Any] = {}
        self._building: dict[str, threading.Lock] = {}

    def client(self, site: Site, kind: str) -> Any:
        if kind == "azure":
            return self._shared_azure(site)
        return self._site_pfsense(site)[1]

    def _site_pfsense(self, site: Site) -> tuple[str, Any, dict[int, Any]]:
        key = _pfsense_fingerprint(site)
        with self._lock:
            hit = self._pfsense.get(site.pk)
            if hit and hit[0] == key:
                return hit
        entry = (key, _built(_build_pfsense, site, "pfSense"), {})
        with self._lock:
            self._pfsense[site.pk] = entry
        return entry

    def pfsense_memos(self, site: Site) -> Callable[[int], Any]:
        """Tunnel ``i``'s ``StatusMemo`` for the site's pfSense client (what it may reuse from
        its last reading: configuration and BGP tables, for up to the configured BGP cadence);
        new with each new client."""
        from s2svpn.clients.pfsense.status import StatusMemo

        memos = self._site_pfsense(site)[2]
        max_age = azure_half.bgp_cadence()

        def memo(index: int) -> Any:
            with self._lock:
                return memos.setdefault(index, StatusMemo(max_age=max_age))

        return memo

    def _shared_azure(self, site: Site) -> Any:
        key = _azure_fingerprint(site)
        with self._lock:
            if key in self._azure:
                return self._azure[key]
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one thread builds it; the subscription's other sites wait for it
            with self._lock:
                if key in self._azure:
                    return self._azure[key]
            client = _built(_build_azure, site, "Azure")
            with self._lock:
                self._azure[key] = client
        return client

    def get(self, site: Site) -> tuple[Any, Any]:
        return self.client(site, "azure"), self.client(site, "pfsense")

    def forget(self, site_id: int) -> None:
        with self._lock:
            self._pfsense.pop(site_id, None)

    def clear(self) -> None:
        with self._lock:
            self._pfsense.clear()
            self._azure.clear()


def _built(build: Callable[[Site], Any], site: Site, name: str) -> Any:
    try:
        return build(site)
    except Exception as err:  # a bad credential or CA bundle: that half is unknown
        return _Broken(f"cannot build the {name} client: {_safe(err)}")


def _safe(err: BaseException) -> str:
    message = getattr(err, "message", None) or str(err) or type(err).__name__
    return message.splitlines()[0][:300]


class _Broken:
    def __init__(self, error: str) -> None:
        self.error = error

    def read_status(self, intent: SiteIntent, memo: Any = None) -> EndStatus:
        return EndStatus(error=self.error)

    def get_connection(self, intent: SiteIntent) -> Any:
        from s2svpn.clients.errors import ClientError

        raise ClientError(self.error, permanent=True, code="Client")


def _build_azure(site: Site) -> Any:
    from wizard.services import azure_client

    timeout = poll_timeout()
    # Every request paced by the subscription's shared ARM budget (monitor.pace), through the
    # SDK pipeline's own request/response hooks; BGP reads are started and collected by
    # monitor.azure_half, never waited for.
    hooks = pace.Hooks(site.subscription_id or "")
    return azure_client(
        site,
        timeout=timeout,
        polling_interval=lro_interval(),
        connections=poll_workers(),  # every poll thread may be reading this subscription
        **hooks.kwargs(),
    )


def _build_pfsense(site: Site) -> Any:
    from wizard.services import pfsense_client

    try:
        return pfsense_client(site, timeout=poll_timeout())
    except TypeError:
        return pfsense_client(site)


CLIENTS = ClientCache()


# ---------------------------------------------------------------------------------------------
# One cycle


def _read(what: str, fn: Callable[[], EndStatus]) -> EndStatus:
    try:
        result = fn()
    except Exception as err:
        log.warning("reading %s failed: %s", what, _safe(err))
        return EndStatus(error=f"reading {what} failed: {_safe(err)}")
    if not isinstance(result, EndStatus):
        return EndStatus(error=f"reading {what} returned nothing usable")
    return result


def _resolve(fqdn: str, site: Site) -> DnsReading:
    """The home end's FQDN as the site's nameservers answer it (the sandbox's for its sites)."""
    from s2svpn.dns import DnsError, resolve_endpoint

    try:
        result = resolve_endpoint(
            fqdn,
            site.nameservers(),
            timeout=float(getattr(settings, "S2SVPN_DNS_TIMEOUT", 3.0)),
        )
    except DnsError as err:
        return DnsReading(fqdn=fqdn, error=err.message)
    except Exception as err:
        return DnsReading(fqdn=fqdn, error=f"DNS lookup failed: {_safe(err)}")
    return DnsReading(fqdn=fqdn, address=result.address, ttl=result.ttl)


def monitored_sites() -> QuerySet[Site]:
    """The sites the monitor watches: the active ones, and those whose latest run is a pfSense
    push (running, or failed): a push leaves Azure and the tunnel in place, so reading them is
    safe and the status page keeps moving while it runs."""
    latest_kind = Run.objects.filter(site=OuterRef("pk")).order_by("-created", "-pk").values("kind")
    pushed = Q(status__in=[SiteStatus.PROVISIONING, SiteStatus.FAILED], latest_kind=RunKind.PUSH)
    return Site.objects.alias(latest_kind=Subquery(latest_kind[:1])).filter(
        Q(status=SiteStatus.ACTIVE) | pushed
    )


def pollable_sites() -> list[Site]:
    return list(monitored_sites().order_by("pk"))


def current_plan(sites: int | None = None) -> pace.Plan:
    """The interval and BGP cadence the ARM read budget holds for the monitored sites."""
    count = monitored_sites().count() if sites is None else sites
    return pace.plan(count, poll_interval(), azure_half.bgp_cadence())


def poll_sites(
    sites: Iterable[Site],
    *,
    workers: int | None = None,
    timeout: float | None = None,
    clients: ClientCache | None = None,
    plan: pace.Plan | None = None,
) -> list[Reading]:
    """Read every site's two halves and its DNS name concurrently; never raises per site.

    The Azure half is :func:`monitor.azure_half.read` (connection status now, BGP tables on the
    plan's cadence, against the last stored Azure half)."""
    sites = list(sites)
    if not sites:
        return []
    clients = clients or CLIENTS
    plan = plan or current_plan()
    before = dict(
        Snapshot.objects.filter(site_id__in=[s.pk for s in sites]).values_list("site_id", "azure")
    )
    bgp_before = azure_half.load_states([s.pk for s in sites])
    bgp = {pk: dict(state) for pk, state in bgp_before.items()}
    timeout = timeout or poll_timeout()
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(workers or poll_workers(), 3 * len(sites))),
        thread_name_prefix="poll",
    )
    budget = max(cycle_budget(), plan.interval)
    jobs: list[tuple[Site, _Job, _Job, _Job | None]] = []
    try:
        for site in sites:
            try:
                intent = site.get_intent()
            except Exception as err:
                bad = EndStatus(error=f"the site's intent is invalid: {_safe(err)}")
                jobs.append((site, _Job.done(bad), _Job.done(bad), None))
                continue
            fa = _Job(
                pool,
                _read,
                "Azure",
                lambda s=site, i=intent: activeactive_status.annotate_azure(
                    azure_half.read(
                        clients.client(s, "azure"),
                        i,
                        before.get(s.pk) or {},
                        plan.bgp_cadence,
                        bgp[s.pk],
                        s.subscription_id or "",
                    ),
                    i,
                ),
            )
            fp = _Job(
                pool,
                _read,
                "pfSense",
                lambda s=site, i=intent: activeactive_status.read_pfsense(
                    clients.client(s, "pfsense"), i, clients.pfsense_memos(s)
                ),
            )
            fd = (
                _Job(pool, _resolve, intent.onprem_fqdn, site)
                if intent.onprem_fqdn and not intent.onprem_public_ip
                else None
            )
            jobs.append((site, fa, fp, fd))
        cycle_end = time.monotonic() + budget
        readings = []
        for site, fa, fp, fd in jobs:
            azure_status = fa.result(timeout, cycle_end, "Azure", budget)
            pf_status = fp.result(timeout, cycle_end, "pfSense", budget)
            dns = DnsReading()
            if fd is not None:
                dns = fd.result(timeout, cycle_end, "DNS", budget)
            readings.append(Reading(site.pk, azure_status, pf_status, dns, timezone.now()))
        azure_half.save_states(bgp, bgp_before)
        _check_keys(pool, sites, readings, clients, time.monotonic() + timeout)
        return readings
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class _Job:
    """One call on the pool that knows when it started, so its deadline runs from then."""

    def __init__(self, pool: ThreadPoolExecutor | None, fn: Callable, *args: Any) -> None:
        self.started: float | None = None
        self.future: Future
        if pool is not None:
            self.future = pool.submit(self._run, fn, *args)

    @classmethod
    def done(cls, value: Any) -> _Job:
        job = cls(None, _read)
        job.future = Future()
        job.future.set_result(value)
        return job

    def _run(self, fn: Callable, *args: Any) -> Any:
        self.started = time.monotonic()
        return fn(*args)

    def result(self, timeout: float, cycle_end: float, what: str, budget: float) -> Any:
        while True:
            now = time.monotonic()
            limit = cycle_end if self.started is None else min(self.started + timeout, cycle_end)
            try:
                return self.future.result(timeout=max(0.0, min(limit - now, 0.5)))
            except FutureTimeout:
                if time.monotonic() < limit:
                    continue
            self.future.cancel()
            if what == "DNS":
                return DnsReading(error="the DNS lookup did not finish in time")
            if self.started is None:
                return EndStatus(
                    error=f"{what} was not read: the poll cycle ran out of its {budget:.0f} s "
                    "(too many sites for the workers; raise S2SVPN_POLL_WORKERS)"
                )
            return EndStatus(error=f"{what} did not answer within {timeout:.0f} s")


def _down(end: EndStatus) -> bool:
    return not end.error and end.tunnel in (TunnelState.DOWN, TunnelState.CONNECTING)


def _check_keys(
    pool: ThreadPoolExecutor,
    sites: list[Site],
    readings: list[Reading],
    clients: ClientCache,
    deadline: float,
) -> None:
    """For a tunnel that is down, does each end still hold the site's pre-shared key?

    Only then (a down tunnel is rare; the key is read, compared in constant time and dropped).
    The answer goes to ``details["psk_matches_site"]`` (True/False), used by the PSK rule.
    """
    by_id = {s.pk: s for s in sites}
    jobs = []
    for reading in readings:
        if not (_down(reading.azure) or _down(reading.pfsense)):
            continue
        site = by_id[reading.site_id]
        if not site.psk:
            continue
        azure, pfsense = clients.get(site)
        intent = site.get_intent()
        psk = str(site.psk)
        if not reading.azure.error and hasattr(azure, "shared_key_matches"):
            jobs.append((reading.azure, pool.submit(_azure_key, azure, intent, psk)))
        if not reading.pfsense.error and hasattr(pfsense, "find_phase1"):
            jobs.append((reading.pfsense, pool.submit(_pfsense_key, pfsense, intent, psk)))
    for end, future in jobs:
        try:
            same = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except Exception:
            continue
        if same is not None:
            end.details["psk_matches_site"] = same


def _azure_key(client: Any, intent: SiteIntent, psk: str) -> bool | None:
    try:
        return bool(client.shared_key_matches(intent, psk))
    except Exception:
        return None


def _pfsense_key(client: Any, intent: SiteIntent, psk: str) -> bool | None:
    try:
        phase1 = client.find_phase1(descr=intent.descr)
    except Exception:
        return None
    if not phase1 or "pre_shared_key" not in phase1:
        return None
    return hmac.compare_digest(str(phase1["pre_shared_key"]).encode(), psk.encode())


def _store(readings: list[Reading], sites: dict[int, Site]) -> storage.Outcome:
    """Store; if another writer stored one of these sites meanwhile (a lease that expired under
    a very slow cycle), store again against what it wrote: its changes are not written twice."""
    try:
        return storage.record(readings, sites=sites)
    except IntegrityError:
        log.warning("monitor: another poll stored some of these sites first; storing again")
        return storage.record(readings, sites=sites)


@dataclass
class CycleResult:
    sites: int
    seconds: float
    transitions: int
    alerts: int
    store_seconds: float = 0.0


def run_cycle(site_ids: Iterable[int] | None = None) -> CycleResult:
    """Poll (all monitored sites, or the given ones), store, alert. Returns counts for logs.

    Only the sites this cycle can claim are polled: a site another poll holds is left to it."""
    started = time.monotonic()
    if site_ids is None:
        sites = pollable_sites()
    else:
        sites = list(Site.objects.filter(pk__in=list(site_ids)).order_by("pk"))
    holder, claimed = leases.claim([s.pk for s in sites], 2 * cycle_budget() + poll_timeout())
    try:
        sites = [s for s in sites if s.pk in claimed]
        readings = poll_sites(sites)
        stored = time.monotonic()
        outcome = _store(readings, {s.pk: s for s in sites})
    finally:
        leases.release(holder)
    now = time.monotonic()
    result = CycleResult(
        len(sites), now - started, outcome.transitions, outcome.alerts, now - stored
    )
    log.info(
        "monitor: polled %d sites in %.1f s, %d transitions, %d alerts",
        result.sites,
        result.seconds,
        result.transitions,
        result.alerts,
    )
    return result
