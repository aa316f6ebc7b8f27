"""Small presentation helpers for the wizard: state colours, durations, and the topology SVG."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

from s2svpn import activeactive, netplan
from wizard.plan import normalise_facts

register = template.Library()

STATE_CLASS = {
    # step states
    "pending": "idle",
    "queued": "busy",
    "running": "busy",
    "waiting": "busy",
    "done": "ok",
    "failed": "bad",
    "skipped": "idle",
    # run states
    "succeeded": "ok",
    "errored": "bad",
    "cancelled": "warn",
    # site states
    "draft": "idle",
    "provisioning": "busy",
    "active": "ok",
    "tearing_down": "busy",
    "removed": "idle",
}


@register.filter
def state_class(state: str) -> str:
    """The badge colour class of a step, run or site state."""
    return STATE_CLASS.get(str(state), "idle")


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def duration(seconds: float | None) -> str:
    """12.3 -> "12 s"; 125 -> "2 min 05 s"; 3725 -> "1 h 02 min"."""
    if seconds is None:
        return ""
    s = max(0, round(float(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


@register.filter
def eta(when: datetime | None) -> str:
    """Time left until ``when``, in words."""
    if not when:
        return ""
    left = (when - timezone.now()).total_seconds()
    if left <= 0:
        return "any moment now"
    return f"in about {duration(left)}"


# ------------------------------------------------------------------------------ topology

NODE_STEPS = {
    "vnet": ("az_subnet",),
    "gateway": ("az_pip", "az_gateway"),
    "internet": ("az_lng", "az_connection", "az_psk"),
    "router": ("verify",),
    "pfsense": ("pf_preflight", "pf_phase1", "pf_rest"),
    "lan": ("verify",),
}


def _combine(states: list[str]) -> str:
    if not states:
        return "idle"
    classes = [state_class(s) for s in states]
    for wanted in ("bad", "busy"):
        if wanted in classes:
            return wanted
    if all(c == "ok" for c in classes):
        return "ok"
    if "ok" in classes:
        return "busy"
    return "idle"


def topology_context(site: Any, run: Any = None) -> dict[str, Any]:
    intent = site.get_intent()
    steps: dict[str, str] = {}
    facts: dict[str, Any] = {}
    if run is not None:
        steps = {s.key: s.state for s in run.steps.all()}
        facts = normalise_facts(run.data)
    if run is not None and run.kind == "teardown":
        node_state = {k: "idle" for k in NODE_STEPS}
    else:
        node_state = {
            node: _combine([steps[k] for k in keys if k in steps])
            for node, keys in NODE_STEPS.items()
        }
    verify = steps.get("verify")
    if run is not None and run.kind == "teardown":
        tunnel = {"succeeded": "Removed from both ends", "failed": "Tear-down stopped"}.get(
            run.status, "Tearing down"
        )
        verify = {"succeeded": "skipped", "failed": "failed"}.get(run.status, "running")
    elif verify == "done":
        tunnel = "Connected · BGP Established"
    elif verify in ("running", "waiting", "queued"):
        tunnel = "Waiting for the tunnel and BGP"
    elif verify == "failed":
        tunnel = "Tunnel or BGP not up"
    else:
        tunnel = "Not connected yet"
    bgp_ip = facts.get("azure_bgp_ip") or ""
    if not bgp_ip:
        transit = netplan.transit_for(intent, None) if intent.bgp_mode == "apipa" else None
        try:
            bgp_ip = (
                transit.azure_ip
                if transit
                else activeactive.predicted_default_bgp_ips(
                    intent.gateway_subnet_prefix, intent.active_active
                )[0]
            )
        except netplan.AddressError:
            bgp_ip = "?"
    try:
        transit = activeactive.transit(intent, 0, bgp_ip)  # instance 0 when active-active
    except netplan.AddressError:
        transit = None
    wizard = (site.intent or {}).get("_wizard") or {}
    home = intent.onprem_public_ip or (wizard.get("dns") or {}).get("address") or ""
    return {
        "site": site,
        "intent": intent,
        "state": node_state,
        "tunnel": tunnel,
        "tunnel_state": state_class(verify or "pending"),
        "public_ip": facts.get("azure_public_ip") or "public IP pending",
        "bgp_ip": bgp_ip,
        "pf_vti": f"{transit.pfsense_ip}/30" if transit else "VTI /30",
        "home_ip": home,
        "vnet_prefixes": ", ".join(intent.vnet_prefixes),
        "lan_prefixes": list(intent.lan_prefixes)[:3],
    }


@register.inclusion_tag("wizard/partials/topology.html")
def topology(site: Any, run: Any = None) -> dict[str, Any]:
    """Inline SVG: Azure VNet — VPN gateway — internet — NAT router — pfSense — LAN."""
    return topology_context(site, run)
