"""Template filters for the status pages: stored state words to plain labels."""

from __future__ import annotations

from django import template

from monitor.present import BGP_LABELS, VERDICT_LABELS

register = template.Library()

_TUNNEL = {"up": "Up", "down": "Down", "connecting": "Connecting"}


@register.filter
def state_label(value: str, dimension: str = "") -> str:
    """``established_policy`` → "Established (Policy: nothing exchanged)", ``up`` → "Up"."""
    if not value:
        return "—"
    if dimension.startswith("bgp"):
        return BGP_LABELS.get(value, value)
    if dimension == "verdict":
        return VERDICT_LABELS.get(value, value)
    if dimension.startswith("tunnel"):
        return _TUNNEL.get(value, value.capitalize())
    return value
