"""Celery tasks for the monitor: short, ids only (never secrets).

Beat runs ``poll_all`` every ``S2SVPN_POLL_INTERVAL`` seconds and ``prune`` hourly (entries added
in ``monitor.apps``). A cycle that is still running when the next one is due makes the next one
skip (a cache lock: effective across processes with Redis as the cache, per process with the
default local-memory cache), and a queued cycle older than the interval expires unrun.
"""

from __future__ import annotations

import logging

from django.core.cache import cache

from monitor import poller, storage
from s2svpn.celery import app  # bind to the configured app even where nothing imported it yet

log = logging.getLogger(__name__)
LOCK = "s2svpn:monitor:cycle"


@app.task(ignore_result=True)
def poll_all() -> int:
    """One cycle over every active site; returns the number polled (0 when skipped)."""
    if not cache.add(LOCK, "1", timeout=int(poller.poll_interval() * 5)):
        log.info("monitor: previous cycle still running; skipping this one")
        return 0
    try:
        return poller.run_cycle().sites
    finally:
        cache.delete(LOCK)


@app.task(ignore_result=True)
def poll_sites(site_ids: list[int]) -> int:
    """Poll the given sites now (admin "poll now", the status page's button)."""
    return poller.run_cycle(site_ids).sites


@app.task(ignore_result=True)
def reset_gateway(site_id: int) -> str:
    """Reset the site's Azure VPN gateway (forces the FQDN to be resolved again)."""
    from monitor.admin_actions import do_reset_gateway
    from wizard.models import Site

    site = Site.objects.get(pk=site_id)
    return do_reset_gateway(site)


@app.task(ignore_result=True)
def prune() -> dict:
    return storage.prune()
