"""The status page's view of the monitor's pace: how old Azure's BGP tables are, and an
operations line (ARM reads, 429s absorbed, an interval the ARM read budget had to stretch)."""

from __future__ import annotations

from datetime import datetime

from django import template

from monitor import clock, pace

register = template.Library()


@register.filter
def bgp_age(read_at: str) -> str:
    """``2026-11-30T05:00:00+00:00`` → "read 3 min ago"."""
    try:
        seconds = (clock.now() - datetime.fromisoformat(read_at)).total_seconds()
    except (TypeError, ValueError):
        return ""
    if seconds < 90:
        return f"read {max(0, int(seconds))} s ago"
    if seconds < 5400:
        return f"read {int(seconds // 60)} min ago"
    return f"read {seconds / 3600:.1f} h ago"


@register.inclusion_tag("monitor/_operations.html")
def arm_operations() -> dict:
    plan = pace.last_plan()
    if plan is None:  # no cycle yet: count the sites once
        from monitor.poller import current_plan

        plan = current_plan()
    return {"counts": pace.counters(), "plan": plan, "note": plan.note()}
