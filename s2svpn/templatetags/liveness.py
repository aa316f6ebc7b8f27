"""``{% no_worker_running as no_worker %}``: the run and status pages say so instead of an ETA."""

from __future__ import annotations

from django import template

from s2svpn import heartbeat

register = template.Library()


@register.simple_tag
def no_worker_running() -> bool:
    """True when no worker has beaten within ``S2SVPN_WORKER_DEAD_AFTER`` seconds."""
    return not heartbeat.live("worker").exists()
