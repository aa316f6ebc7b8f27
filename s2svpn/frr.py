"""Parsers for FRR ``vtysh -c '… json'`` output, normalised to our own types.

pfSense runs FRR (pfSense-pkg-frr); s2svpn reads it through the REST API's command endpoint, so
every answer arrives as text in ``data.output``. This module turns that text into
:class:`~s2svpn.status.BgpPeer` / :class:`~s2svpn.status.Route` and :class:`BgpState`.

Shapes handled (JSON keys from FRRouting/frr ``bgpd/bgp_vty.c`` and ``bgpd/bgp_route.c``,
https://docs.frrouting.org/en/latest/bgp.html):

* summary: bare (``show bgp ipv4 unicast summary json``), ``{"ipv4Unicast": …}``
  (``show ip bgp summary json``) and VRF-wrapped ``{"default": {"ipv4Unicast": …}}``
  (``show bgp vrf all ipv4 summary json``); ``pfxRcd`` or the older ``prefixReceivedCount``;
* neighbors (``show bgp neighbors json``, also VRF-wrapped);
* routes / advertised-routes / received-routes (``{"warning": …}`` without soft-reconfiguration);
* ``show ip route json`` (the RIB), ``show ip bgp vrf all nexthop json``, route summaries;
* non-JSON output such as ``Exiting: failed to connect to any daemons.`` = FRR is not running.

FRR "Established" with ``peerState: "Policy"`` is the eBGP-requires-policy trap (session up, zero
prefixes exchanged) and becomes :attr:`BgpState.POLICY`. Pure module: no Django, no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from s2svpn.status import BgpPeer, BgpState, Route

__all__ = [
    "FrrNotRunning",
    "FrrWarning",
    "Nexthop",
    "RibRoute",
    "load_output",
    "normalise_state",
    "parse_advertised_routes",
    "parse_ip_route",
    "parse_neighbors",
    "parse_nexthops",
    "parse_received_routes",
    "parse_route_summary",
    "parse_routes",
    "parse_summary",
]

_NOT_RUNNING_MARKERS = (
    "failed to connect to any daemons",
    "is not running",
    "no such file or directory",
    "connection refused",
)


class FrrNotRunning(Exception):
    """vtysh answered with text instead of JSON: FRR (or bgpd) is not running."""


class FrrWarning(Exception):
    """vtysh answered ``{"warning": "…"}`` (for example received-routes without soft-reconfig)."""


@dataclass(frozen=True)
class Nexthop:
    """One entry of ``show ip bgp nexthop json``."""

    address: str
    valid: bool
    resolved_prefix: str = ""
    interfaces: tuple[str, ...] = ()
    vrf: str = "default"


@dataclass(frozen=True)
class RibRoute:
    """One selected route of ``show ip route json`` (the RIB zebra installs)."""

    prefix: str
    protocol: str
    installed: bool
    next_hop: str = ""
    interface: str = ""


def load_output(output: str | bytes | dict | list | None, result_code: int | None = 0) -> Any:
    """Decode one vtysh answer; raise :class:`FrrNotRunning` when it is not JSON.

    ``result_code`` is the command endpoint's exit status. vtysh exits 1 with a plain-text line
    ("Exiting: failed to connect to any daemons.") when bgpd/zebra are down.
    """
    if isinstance(output, (dict, list)):
        return output
    text = output.decode() if isinstance(output, bytes) else (output or "")
    stripped = text.strip()
    if not stripped:
        raise FrrNotRunning("vtysh returned no output (FRR is probably not running).")
    try:
        return json.loads(stripped)
    except ValueError:
        first_line = stripped.splitlines()[0][:200]
        if any(marker in stripped.lower() for marker in _NOT_RUNNING_MARKERS) or result_code:
            raise FrrNotRunning(f"FRR is not running: vtysh said {first_line!r}.") from None
        raise FrrNotRunning(f"vtysh did not answer JSON: {first_line!r}.") from None


def normalise_state(state: str | None, peer_state: str | None = None) -> BgpState:
    """FRR's ``state`` (+ ``peerState``) in our words. ``Idle (Admin)`` is still Idle."""
    word = (state or "").split("(")[0].strip().lower()
    if word == "established":
        if (peer_state or "").strip().lower() == "policy":
            return BgpState.POLICY
        return BgpState.ESTABLISHED
    return {
        "active": BgpState.ACTIVE,
        "connect": BgpState.CONNECT,
        "opensent": BgpState.OPENSENT,
        "openconfirm": BgpState.OPENCONFIRM,
        "idle": BgpState.IDLE,
        "clearing": BgpState.IDLE,
        "deleted": BgpState.IDLE,
    }.get(word, BgpState.UNKNOWN)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _summary_blocks(data: Any, afi: str) -> list[tuple[str, dict]]:
    """Find every ``{…, "peers": {…}}`` block, whatever wraps it, as (vrf, block)."""
    if not isinstance(data, dict):
        return []
    if "peers" in data:
        return [(str(data.get("vrfName") or "default"), data)]
    blocks: list[tuple[str, dict]] = []
    wrapped = [key for key in data if key.endswith("Unicast") or key.endswith("Multicast")]
    if wrapped:
        keys = [afi] if afi in data else wrapped
        for key in keys:
            blocks.extend(_summary_blocks(data[key], afi))
        return blocks
    for vrf, inner in data.items():  # VRF-wrapped: {"default": {"ipv4Unicast": {...}}, "red": …}
        for name, block in _summary_blocks(inner, afi):
            blocks.append((vrf if name == "default" else name, block))
    return blocks


def parse_summary(data: Any, *, vrf: str | None = None, afi: str = "ipv4Unicast") -> list[BgpPeer]:
    """BGP peers of ``show [ip] bgp [vrf all] [ipv4 [unicast]] summary json``.

    ``vrf=None`` returns the peers of every VRF; ``afi`` picks the family when the output holds
    several (``ipv4Unicast`` by default, falling back to whatever family is present).
    """
    data = load_output(data)
    if isinstance(data, dict) and "warning" in data and "peers" not in data:
        raise FrrWarning(str(data["warning"]))
    peers: list[BgpPeer] = []
    for block_vrf, block in _summary_blocks(data, afi):
        if vrf is not None and block_vrf != vrf:
            continue
        for neighbor, raw in (block.get("peers") or {}).items():
            state = normalise_state(raw.get("state"), raw.get("peerState"))
            received = raw.get("pfxRcd", raw.get("prefixReceivedCount", 0))
            established = state in (BgpState.ESTABLISHED, BgpState.POLICY)
            uptime_ms = _int(raw.get("peerUptimeMsec"))
            peers.append(
                BgpPeer(
                    neighbor=neighbor,
                    asn=_int(raw.get("remoteAs")) or 0,
                    state=state,
                    local_address="",
                    prefixes_received=_int(received) or 0,
                    prefixes_sent=_int(raw.get("pfxSnt")),
                    uptime_seconds=(uptime_ms / 1000.0)
                    if established and uptime_ms is not None
                    else None,
                    messages_received=_int(raw.get("msgRcvd")),
                    messages_sent=_int(raw.get("msgSent")),
                )
            )
    return peers


def _looks_like_neighbor(value: Any) -> bool:
    return isinstance(value, dict) and any(
        key in value for key in ("bgpState", "remoteAs", "nbrDesc", "localAs")
    )


def _neighbor_entries(data: Any) -> list[tuple[str, dict]]:
    if not isinstance(data, dict):
        return []
    entries: list[tuple[str, dict]] = []
    for key, value in data.items():
        if _looks_like_neighbor(value):
            entries.append((key, value))
        elif isinstance(value, dict) and ("vrfName" in value or "vrfId" in value):
            entries.extend(_neighbor_entries(value))
    return entries


def parse_neighbors(data: Any) -> list[BgpPeer]:
    """Peers of ``show bgp [vrf all] [ipv4 unicast] neighbors [<ip>] json``.

    Entries without a session description (the trimmed VRF fixture) come back with
    :attr:`BgpState.UNKNOWN` and ASN 0 rather than being dropped.
    """
    data = load_output(data)
    if isinstance(data, dict) and "warning" in data:
        raise FrrWarning(str(data["warning"]))
    peers: list[BgpPeer] = []
    for neighbor, raw in _neighbor_entries(data):
        af = (raw.get("addressFamilyInfo") or {}).get("ipv4Unicast") or {}
        policy = bool(af.get("inboundEbgpRequiresPolicy") or af.get("outboundEbgpRequiresPolicy"))
        state = normalise_state(raw.get("bgpState"), "Policy" if policy else None)
        established = state in (BgpState.ESTABLISHED, BgpState.POLICY)
        uptime_ms = _int(raw.get("bgpTimerUpMsec"))
        stats = raw.get("messageStats") or {}
        peers.append(
            BgpPeer(
                neighbor=neighbor,
                asn=_int(raw.get("remoteAs")) or 0,
                state=state,
                local_address=str(raw.get("hostLocal") or ""),
                prefixes_received=_int(af.get("acceptedPrefixCounter")) or 0,
                prefixes_sent=_int(af.get("sentPrefixCounter")),
                uptime_seconds=(uptime_ms / 1000.0)
                if established and uptime_ms is not None
                else None,
                messages_received=_int(stats.get("totalRecv")),
                messages_sent=_int(stats.get("totalSent")),
            )
        )
    return peers


def _best(paths: Any) -> dict:
    if isinstance(paths, dict):
        return paths
    if not isinstance(paths, list) or not paths:
        return {}
    for path in paths:
        if isinstance(path, dict) and path.get("bestpath"):
            return path
    return paths[0] if isinstance(paths[0], dict) else {}


_ORIGIN_CODES = {"i": "IGP", "e": "EGP", "?": "incomplete"}


def _route(prefix: str, path: dict) -> Route:
    next_hop = path.get("nextHop") or ""
    if not next_hop:
        hops = path.get("nexthops") or []
        used = [hop for hop in hops if isinstance(hop, dict) and hop.get("used")] or hops
        next_hop = (used[0].get("ip") or "") if used and isinstance(used[0], dict) else ""
    origin = path.get("origin") or _ORIGIN_CODES.get(str(path.get("bgpOriginCode") or ""), "")
    return Route(
        prefix=str(path.get("network") or prefix),
        next_hop=str(next_hop),
        as_path=str(path.get("path") or ""),
        origin=str(origin),
    )


def parse_routes(data: Any) -> list[Route]:
    """Accepted (post-policy) routes: ``… neighbors <ip> routes json`` or ``show ip bgp json``."""
    data = load_output(data)
    if isinstance(data, dict) and "warning" in data and "routes" not in data:
        raise FrrWarning(str(data["warning"]))
    routes = (data or {}).get("routes") or {}
    return [_route(prefix, _best(paths)) for prefix, paths in routes.items()]


def parse_advertised_routes(data: Any) -> list[Route]:
    """What we send: ``… neighbors <ip> advertised-routes json``."""
    data = load_output(data)
    if isinstance(data, dict) and "warning" in data and "advertisedRoutes" not in data:
        raise FrrWarning(str(data["warning"]))
    routes = (data or {}).get("advertisedRoutes") or {}
    return [_route(prefix, _best(path)) for prefix, path in routes.items()]


def parse_received_routes(data: Any) -> list[Route]:
    """Pre-policy routes; needs soft-reconfiguration inbound, else raises :class:`FrrWarning`."""
    data = load_output(data)
    if isinstance(data, dict) and "warning" in data and "receivedRoutes" not in data:
        raise FrrWarning(str(data["warning"]))
    routes = (data or {}).get("receivedRoutes") or {}
    return [_route(prefix, _best(path)) for prefix, path in routes.items()]


def parse_ip_route(data: Any, *, protocol: str | None = None) -> list[RibRoute]:
    """The selected routes of ``show ip route [bgp] json`` (optionally only one protocol)."""
    data = load_output(data)
    result: list[RibRoute] = []
    for prefix, entries in (data or {}).items():
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("selected", True):
                continue
            if protocol and entry.get("protocol") != protocol:
                continue
            hops = [hop for hop in entry.get("nexthops") or [] if isinstance(hop, dict)]
            via = next((hop for hop in hops if hop.get("fib")), hops[0] if hops else {})
            ip = next((hop.get("ip") for hop in hops if hop.get("ip")), "")
            result.append(
                RibRoute(
                    prefix=str(entry.get("prefix") or prefix),
                    protocol=str(entry.get("protocol") or ""),
                    installed=bool(entry.get("installed")),
                    next_hop=str(ip or ""),
                    interface=str(via.get("interfaceName") or ""),
                )
            )
    return result


def parse_nexthops(data: Any) -> list[Nexthop]:
    """``show ip bgp [vrf all] nexthop json``: is each BGP next hop resolvable, and via what."""
    data = load_output(data)
    result: list[Nexthop] = []

    def walk(block: Any, vrf: str) -> None:
        if not isinstance(block, dict):
            return
        for key, value in block.items():
            if not isinstance(value, dict):
                continue
            if "valid" in value and ("resolvedPrefix" in value or "nexthops" in value):
                result.append(
                    Nexthop(
                        address=key,
                        valid=bool(value.get("valid")),
                        resolved_prefix=str(value.get("resolvedPrefix") or ""),
                        interfaces=tuple(
                            str(hop.get("interfaceName"))
                            for hop in value.get("nexthops") or []
                            if isinstance(hop, dict) and hop.get("interfaceName")
                        ),
                        vrf=vrf,
                    )
                )
            elif key in ("ipv4", "ipv6"):
                walk(value, vrf)
            else:
                walk(value, key)

    walk(data, "default")
    return result


def parse_route_summary(data: Any, *, vrf: str = "default") -> dict[str, int]:
    """``show ip route [vrf all] summary json`` as ``{protocol: routes in the FIB}``."""
    data = load_output(data)
    block = data.get(vrf, data) if isinstance(data, dict) and "routes" not in data else data
    return {
        str(entry.get("type")): _int(entry.get("fib")) or 0
        for entry in (block or {}).get("routes") or []
        if isinstance(entry, dict)
    }
