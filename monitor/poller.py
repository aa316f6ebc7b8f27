"""One poll cycle: read both ends of every site concurrently, then store the readings in bulk.

Each site's Azure half, pfSense half and DNS check run as three independent calls on a bounded
thread pool (``S2SVPN_POLL_WORKERS``), so one slow firewall never holds up the rest. Every call
has a deadline (``S2SVPN_POLL_TIMEOUT``); a call that fails or misses it makes that half
"unknown, because …" (``EndStatus.error``), never "down". Clients are built once per site and
reused between cycles (their HTTP connections stay open), and rebuilt when the site's
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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from s2svpn.intent import SiteIntent
from s2svpn.status import EndStatus, TunnelState
from wizard.models import Site, SiteStatus

log = logging.getLogger(__name__)


@dataclass
class DnsReading:
    fqdn: str = ""
    address: str = ""
    ttl: int | None = None
    error: str = ""


@dataclass
class Reading:
    site_id: int
    azure: EndStatus
    pfsense: EndStatus
    dns: DnsReading = field(default_factory=DnsReading)
    at: datetime = field(default_factory=timezone.now)


def poll_interval() -> float:
    return float(getattr(settings, "S2SVPN_POLL_INTERVAL", 60))


def poll_timeout() -> float:
    """Per-call deadline: by default a third of the interval, at most 20 s."""
    value = getattr(settings, "S2SVPN_POLL_TIMEOUT", None)
    return float(value) if value else min(20.0, poll_interval() / 3)


def poll_workers() -> int:
    return int(getattr(settings, "S2SVPN_POLL_WORKERS", 96))


# ---------------------------------------------------------------------------------------------
# Clients, one pair per site, reused between cycles


def _fingerprint(site: Site) -> str:
    parts = [
        site.azure_auth,
        site.tenant_id,
        site.client_id,
        str(site.client_secret or ""),
        site.subscription_id,
        site.arm_base_url,
        site.arm_ca_bundle,
        site.pfsense_url,
        str(site.pfsense_api_key or ""),
        site.pfsense_ca_bundle,
        site.pfsense_fingerprint,
    ]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class ClientCache:
    """``site id -> (fingerprint, azure client, pfSense client)``; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[int, tuple[str, Any, Any]] = {}

    def get(self, site: Site) -> tuple[Any, Any]:
        key = _fingerprint(site)
        with self._lock:
            hit = self._clients.get(site.pk)
            if hit and hit[0] == key:
                return hit[1], hit[2]
        azure = pfsense = None
        try:
            azure = _build_azure(site)
        except Exception as err:  # a bad credential or CA bundle: that half is unknown
            azure = _Broken(f"cannot build the Azure client: {_safe(err)}")
        try:
            pfsense = _build_pfsense(site)
        except Exception as err:
            pfsense = _Broken(f"cannot build the pfSense client: {_safe(err)}")
        with self._lock:
            self._clients[site.pk] = (key, azure, pfsense)
        return azure, pfsense

    def forget(self, site_id: int) -> None:
        with self._lock:
            self._clients.pop(site_id, None)

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()


def _safe(err: BaseException) -> str:
    message = getattr(err, "message", None) or str(err) or type(err).__name__
    return message.splitlines()[0][:300]


class _Broken:
    def __init__(self, error: str) -> None:
        self.error = error

    def read_status(self, intent: SiteIntent) -> EndStatus:
        return EndStatus(error=self.error)


def _build_azure(site: Site) -> Any:
    from wizard.services import azure_client

    timeout = poll_timeout()
    # Short LRO polling: getBgpPeerStatus & co. are POST actions behind a poller.
    return azure_client(site, timeout=timeout, polling_interval=min(1.0, timeout / 4))


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


def _resolve(fqdn: str) -> DnsReading:
    from s2svpn.dns import DnsError, resolve_endpoint

    try:
        result = resolve_endpoint(
            fqdn,
            list(getattr(settings, "S2SVPN_DNS_SERVERS", []) or []) or None,
            timeout=float(getattr(settings, "S2SVPN_DNS_TIMEOUT", 3.0)),
        )
    except DnsError as err:
        return DnsReading(fqdn=fqdn, error=err.message)
    except Exception as err:
        return DnsReading(fqdn=fqdn, error=f"DNS lookup failed: {_safe(err)}")
    return DnsReading(fqdn=fqdn, address=result.address, ttl=result.ttl)


def pollable_sites() -> list[Site]:
    return list(Site.objects.filter(status=SiteStatus.ACTIVE).order_by("pk"))


def poll_sites(
    sites: Iterable[Site],
    *,
    workers: int | None = None,
    timeout: float | None = None,
    clients: ClientCache | None = None,
) -> list[Reading]:
    """Read every site's two halves and its DNS name concurrently; never raises per site."""
    sites = list(sites)
    if not sites:
        return []
    clients = clients or CLIENTS
    timeout = timeout or poll_timeout()
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(workers or poll_workers(), 3 * len(sites))),
        thread_name_prefix="poll",
    )
    jobs: list[tuple[Site, SiteIntent | None, Future, Future, Future | None]] = []
    try:
        for site in sites:
            try:
                intent = site.get_intent()
            except Exception as err:
                bad = EndStatus(error=f"the site's intent is invalid: {_safe(err)}")
                jobs.append((site, None, _done(bad), _done(bad), None))
                continue
            azure, pfsense = clients.get(site)
            fa = pool.submit(_read, "Azure", lambda c=azure, i=intent: c.read_status(i))
            fp = pool.submit(_read, "pfSense", lambda c=pfsense, i=intent: c.read_status(i))
            fd = (
                pool.submit(_resolve, intent.onprem_fqdn)
                if intent.onprem_fqdn and not intent.onprem_public_ip
                else None
            )
            jobs.append((site, intent, fa, fp, fd))
        deadline = time.monotonic() + timeout + 1.0
        readings = []
        for site, _intent, fa, fp, fd in jobs:
            azure_status = _result(fa, deadline, f"Azure did not answer within {timeout:.0f} s")
            pf_status = _result(fp, deadline, f"pfSense did not answer within {timeout:.0f} s")
            dns = DnsReading()
            if fd is not None:
                try:
                    dns = fd.result(timeout=max(0.0, deadline - time.monotonic()))
                except FutureTimeout:
                    dns = DnsReading(error="the DNS lookup did not finish in time")
            readings.append(Reading(site.pk, azure_status, pf_status, dns, timezone.now()))
        _check_keys(pool, sites, readings, clients, deadline + timeout)
        return readings
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


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


def _done(value: EndStatus) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _result(future: Future, deadline: float, late: str) -> EndStatus:
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        future.cancel()
        return EndStatus(error=late)


@dataclass
class CycleResult:
    sites: int
    seconds: float
    transitions: int
    alerts: int


def run_cycle(site_ids: Iterable[int] | None = None) -> CycleResult:
    """Poll (all active sites, or the given ones), store, alert. Returns counts for logs."""
    from monitor import storage

    started = time.monotonic()
    if site_ids is None:
        sites = pollable_sites()
    else:
        sites = list(Site.objects.filter(pk__in=list(site_ids)).order_by("pk"))
    readings = poll_sites(sites)
    outcome = storage.record(readings, sites={s.pk: s for s in sites})
    result = CycleResult(
        len(sites), time.monotonic() - started, outcome.transitions, outcome.alerts
    )
    log.info(
        "monitor: polled %d sites in %.1f s, %d transitions, %d alerts",
        result.sites,
        result.seconds,
        result.transitions,
        result.alerts,
    )
    return result
