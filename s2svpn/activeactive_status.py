"""Reading and judging an active-active site's two tunnels (pure: no Django, no I/O of its own).

pfSense: each tunnel is read on its own (its phase 1, SAs and BGP neighbour, found by the tunnel's
description) and the two readings are combined into one ``EndStatus`` whose tunnel is up while
either is. Azure: the connection is one resource; ``getBgpPeerStatus`` has one row per instance,
told apart by ``localAddress`` (s2svpn.activeactive). Both ends list the instances in
``details["instances"]`` for the status page, and :func:`verdict` turns "one of two down" into
Degraded with a reason that names the instance (the alert's text).
"""

from __future__ import annotations

from typing import Any

from s2svpn import activeactive
from s2svpn.intent import SiteIntent
from s2svpn.status import BgpPeer, BgpState, EndStatus, TunnelState

DEGRADED = "degraded"
_TUNNEL = {"connected": "up", "connecting": "connecting", "notconnected": "down"}


def _bgp_ips(intent: SiteIntent, azure_bgp_ips: list[str] | tuple[str, ...] = ()) -> list[str]:
    return [t.azure_bgp_ip for t in activeactive.tunnels(intent, (), tuple(azure_bgp_ips))]


def _peer(peers: list[BgpPeer], neighbor: str) -> BgpPeer | None:
    return next((p for p in peers if p.neighbor == neighbor), None)


def read_pfsense(client: Any, intent: SiteIntent, memos: Any = None) -> EndStatus:
    """pfSense's reading of the site: both tunnels for an active-active site. ``memos(i)`` gives
    tunnel ``i``'s ``StatusMemo`` (the monitor's, kept between polls), if any."""

    def read(tunnel: SiteIntent, index: int) -> EndStatus:
        if memos is None:
            return client.read_status(tunnel)
        return client.read_status(tunnel, memos(index))

    if not intent.active_active:
        return read(intent, 0)
    readings = [
        read(activeactive.tunnel_intent(intent, i), i) for i in range(activeactive.INSTANCES)
    ]
    first = readings[0]
    if all(r.error for r in readings):
        return first
    states = [r.tunnel for r in readings if not r.error]
    tunnel = (
        TunnelState.UP
        if TunnelState.UP in states
        else TunnelState.CONNECTING
        if TunnelState.CONNECTING in states
        else states[0]
    )
    instances = []
    for index, reading in enumerate(readings):
        neighbor = str(reading.details.get("neighbor") or "")
        peer = _peer(reading.bgp_peers, neighbor) if neighbor else None
        instances.append(
            {
                "index": index,
                "public_ip": (reading.details.get("phase1") or {}).get("remote_gateway", ""),
                "azure_bgp_ip": neighbor,
                "tunnel": "unknown" if reading.error else reading.tunnel.value,
                "bgp": peer.state.value if peer else ("unknown" if reading.error else "none"),
                "error": reading.error,
            }
        )
    peers: dict[str, BgpPeer] = {}
    for reading in readings:
        for peer in reading.bgp_peers:
            peers.setdefault(peer.neighbor, peer)
    return EndStatus(
        tunnel=tunnel,
        bgp_peers=list(peers.values()),
        learned_routes=_union(r.learned_routes for r in readings),
        advertised_routes=_union(r.advertised_routes for r in readings),
        bytes_in=sum(r.bytes_in or 0 for r in readings),
        bytes_out=sum(r.bytes_out or 0 for r in readings),
        sas=[sa for r in readings for sa in r.sas],
        details={**first.details, "instances": instances},
        error="",
    )


def _union(groups) -> list:
    seen, out = set(), []
    for group in groups:
        for route in group:
            if route not in seen:
                seen.add(route)
                out.append(route)
    return out


def annotate_azure(end: EndStatus, intent: SiteIntent) -> EndStatus:
    """Azure's reading with one entry per instance from its BGP rows (by ``localAddress``)."""
    if not intent.active_active or end.error:
        return end
    # tunnelConnectionStatus lists one tunnel per instance; we read them in instance order (the
    # entries' "tunnel" names are not documented, so they are shown, not parsed).
    tunnels = end.details.get("tunnels") or []
    instances = []
    for index, address in enumerate(_bgp_ips(intent)):
        row = next((p for p in end.bgp_peers if p.local_address == address), None)
        name, status = tunnels[index] if index < len(tunnels) else ("", "")
        instances.append(
            {
                "index": index,
                "azure_bgp_ip": address,
                "bgp": row.state.value
                if row
                else "pending"
                if end.details.get("bgp_not_read")  # no BGP tables read yet (monitor)
                else "none",
                "neighbor": row.neighbor if row else "",
                "tunnel": _TUNNEL.get(status.lower(), ""),
                "tunnel_name": name,
            }
        )
    end.details["instances"] = instances
    return end


def instance_problems(azure: EndStatus, pfsense: EndStatus, intent: SiteIntent) -> list[str]:
    """What is wrong with each instance's tunnel, one line per instance that is not fully up."""
    if not intent.active_active:
        return []
    az = {i["index"]: i for i in azure.details.get("instances") or []}
    pf = {i["index"]: i for i in pfsense.details.get("instances") or []}
    out = []
    for index in range(activeactive.INSTANCES):
        a, p = az.get(index) or {}, pf.get(index) or {}
        wrong = []
        if p and p.get("tunnel") not in ("up", "unknown"):
            wrong.append(f"pfSense's tunnel is {p['tunnel']}")
        if p and p.get("bgp") not in (BgpState.ESTABLISHED.value, "unknown"):
            wrong.append(f"pfSense's BGP session is {p['bgp'].replace('_', ' ')}")
        if a and a.get("tunnel") in ("down", "connecting"):
            wrong.append(f"Azure's tunnel is {a['tunnel']}")
        if a and a.get("bgp") not in (BgpState.ESTABLISHED.value, "pending"):
            wrong.append(f"Azure's BGP session is {a['bgp'].replace('_', ' ')}")
        if wrong:
            public = p.get("public_ip") or ""
            bgp = p.get("azure_bgp_ip") or a.get("azure_bgp_ip") or ""
            where = ", ".join(
                x
                for x in (f"public IP {public}" if public else "", f"BGP {bgp}" if bgp else "")
                if x
            )
            out.append(f"Azure gateway instance {index} ({where}): {', '.join(wrong)}")
    return out


def verdict(
    verdict: str, reason: str, azure: EndStatus, pfsense: EndStatus, intent: SiteIntent
) -> tuple[str, str]:
    """One of two tunnels down (the other carrying the traffic) is Degraded, naming the instance."""
    if not intent.active_active or verdict not in ("healthy", DEGRADED):
        return verdict, reason
    problems = instance_problems(azure, pfsense, intent)
    if not problems or len(problems) == activeactive.INSTANCES:
        return verdict, reason
    return DEGRADED, (
        "One of the two active-active tunnels is down, traffic runs over the other: "
        + "; ".join(problems)
        + "."
    )
