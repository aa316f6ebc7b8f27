"""What the monitor's Celery tasks and buttons do, as plain functions (no Celery here).

``monitor.tasks`` wraps these for the workers; tests and the admin call them directly. A cycle
is split into shards of ``S2SVPN_POLL_SHARD`` sites, each polled by its own task
(:func:`poll_shard`) on whichever worker process or machine takes it; they share the ARM read
budget through the cache (``monitor.pace``). The cycle lock is a cache key (Redis: every
machine sees it), held until the last shard of the cycle ends (a counter in the cache) or
expires; a cycle that is still running when the next one is due makes the next one skip, and
so does one due sooner than the interval the ARM budget holds (``monitor.pace.plan``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.core.cache import cache

from monitor import poller, storage
from s2svpn.clients.errors import ClientError
from wizard.models import RunKind, Site
from wizard.runs import RunBusy, start_run

log = logging.getLogger(__name__)
LOCK = "s2svpn:monitor:cycle"
LAST = "s2svpn:monitor:cycle-started"
LEFT = "s2svpn:monitor:shards-left:{}"


def shard_size() -> int:
    from django.conf import settings

    return int(getattr(settings, "S2SVPN_POLL_SHARD", 250))


def poll_all(dispatch: Callable[[list[int], str], object] | None = None) -> int:
    """One cycle over every monitored site, in shards; returns the number of sites sent (0 when
    skipped). ``dispatch(ids, cycle)`` sends a shard to a worker (``monitor.tasks``); without
    it the shards run here, one after the other."""
    ids = list(poller.monitored_sites().order_by("pk").values_list("pk", flat=True))
    plan = poller.current_plan(len(ids))
    last = cache.get(LAST)
    if plan.stretched and last is not None and time.time() - float(last) < plan.interval - 1:
        return 0  # the budget's interval (stretched) has not passed yet
    cycle = uuid.uuid4().hex
    if not cache.add(LOCK, cycle, timeout=int(max(plan.interval, poller.poll_interval()) * 5)):
        log.info("monitor: previous cycle still running; skipping this one")
        return 0
    cache.set(LAST, time.time(), timeout=None)
    shards = [ids[i : i + shard_size()] for i in range(0, len(ids), shard_size())]
    if not shards:
        cache.delete(LOCK)
        return 0
    cache.set(LEFT.format(cycle), len(shards), timeout=int(plan.interval * 5))
    for shard in shards:
        (dispatch or poll_shard)(shard, cycle)
    return len(ids)


def poll_shard(site_ids: list[int], cycle: str) -> int:
    """Poll one shard of a cycle; the last shard to end releases the cycle lock."""
    try:
        return poller.run_cycle(site_ids).sites
    finally:
        try:
            left = cache.decr(LEFT.format(cycle))
        except ValueError:
            left = 0
        if left <= 0 and cache.get(LOCK) == cycle:
            cache.delete(LOCK)


def poll_sites(site_ids: list[int]) -> int:
    """Poll the given sites now (admin "Poll now", the status page's button, a finished run)."""
    return poller.run_cycle(site_ids).sites


def reset_gateway(site_id: int) -> str:
    """Reset the site's Azure VPN gateway (forces the FQDN to be resolved again). Returns what
    happened in words."""
    from wizard.services import azure_client

    site = Site.objects.get(pk=site_id)
    try:
        azure_client(site).reset_gateway(site.get_intent())
    except ClientError as err:
        log.warning("gateway reset for %s failed: %s", site.slug, err.message)
        return f"failed: {err.message}"
    return "reset started"


def start_repush(site: Site) -> tuple[bool, str]:
    """Start a pfSense push run (the wizard's engine); (ok, message for the user)."""
    if not site.psk:  # e.g. dropped when an end moved (wizard.binding): nothing to push
        return False, (
            f"{site.name} has no pre-shared key stored (it is removed when an end of the tunnel "
            "moves); enter or generate one on the Connection step, then push again."
        )
    try:
        run = start_run(site, RunKind.PUSH)
    except RunBusy as err:
        return False, str(err)
    except Exception as err:  # e.g. the intent is incomplete
        return False, f"Could not start the pfSense push for {site.name}: {err}"
    return True, f"pfSense push #{run.pk} started for {site.name}."


def prune() -> dict:
    return storage.prune()
