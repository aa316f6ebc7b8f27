"""What the monitor's Celery tasks and buttons do, as plain functions (no Celery here).

``monitor.tasks`` wraps these for the workers; tests and the admin call them directly. A poll
cycle that is still running when the next one is due makes the next one skip (a cache lock:
effective across processes with Redis as the cache, per process with the default local-memory
cache).
"""

from __future__ import annotations

import logging

from django.core.cache import cache

from monitor import poller, storage
from s2svpn.clients.errors import ClientError
from wizard.models import RunKind, Site
from wizard.runs import RunBusy, start_run

log = logging.getLogger(__name__)
LOCK = "s2svpn:monitor:cycle"


def poll_all() -> int:
    """One cycle over every active site; returns the number polled (0 when skipped)."""
    if not cache.add(LOCK, "1", timeout=int(poller.poll_interval() * 5)):
        log.info("monitor: previous cycle still running; skipping this one")
        return 0
    try:
        return poller.run_cycle().sites
    finally:
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
