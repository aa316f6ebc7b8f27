"""The Azure half of a site's poll at Azure's pace: the connection status every cycle (one GET),
the BGP tables on a slower cadence, started in one cycle and collected in a later one.

getBgpPeerStatus / getLearnedRoutes / getAdvertisedRoutes are long-running POSTs (202 +
``Location`` + ``Retry-After``, tens of seconds on real Azure). They are started with the
client's ``start_bgp_reads`` and their state (plain JSON) kept in the cache between cycles; a
later cycle asks once (``collect_bgp_reads``) when Azure's ``Retry-After`` has passed. No worker
thread waits for them. Until fresh tables arrive the reading carries the last known ones from
the site's previous snapshot, with when they were read (``details["bgp_read_at"]``); a BGP read
that fails or runs late is noted (``details["bgp_error"]``) and never costs the connection
status, bytes or anything else read in the same cycle.

BGP reads start when the site's cadence is due (:func:`monitor.pace.plan`), at once when the
connection status differs from the previous snapshot's, and again while the tunnel is up but the
last tables showed a session that was not Established.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache

from monitor import pace
from s2svpn.clients.azure.bgp import READS
from s2svpn.clients.azure.models import CONNECTION_STATES, onprem_bgp_ip
from s2svpn.clients.errors import ClientError
from s2svpn.intent import SiteIntent
from s2svpn.status import BgpPeer, BgpState, EndStatus, Route, TunnelState

KEY = "s2svpn:monitor:bgp:{}"


def bgp_cadence() -> float:
    """Seconds between BGP table reads of a site (configured; the budget may slow it down)."""
    return float(getattr(settings, "S2SVPN_BGP_CADENCE", 300))


def bgp_deadline() -> float:
    """A started BGP read not finished this long after it started is given up and restarted."""
    return float(getattr(settings, "S2SVPN_BGP_DEADLINE", 300))


def recheck() -> float:
    """Wait before asking again when Azure's 202 carries no Retry-After."""
    return float(getattr(settings, "S2SVPN_BGP_RECHECK", 10))


def _failed(err: ClientError) -> EndStatus:
    return EndStatus(error=err.message, details={"code": err.code, "permanent": err.permanent})


def read(
    client: Any,
    intent: SiteIntent,
    previous: dict[str, Any],
    cadence: float,
    state: dict[str, Any],
    subscription: str = "",
) -> EndStatus:
    """One Azure reading; ``previous`` is the last stored Azure half (``{}`` if none), ``state``
    the site's BGP read state (:func:`load_states`), updated in place (:func:`save_states`)."""
    try:
        conn = client.get_connection(intent)
    except ClientError as err:
        return _failed(err)
    if conn is None:
        return EndStatus(
            error=f"Connection {intent.connection_name} does not exist in Azure; provision the site first.",
            details={"missing": "connection"},
        )
    details: dict[str, Any] = {
        "connection_status": conn.status,
        "provisioning_state": conn.provisioning_state,
    }
    if conn.tunnels:
        details["tunnels"] = [list(t) for t in conn.tunnels]
    status = EndStatus(
        tunnel=CONNECTION_STATES.get(conn.status.lower(), TunnelState.UNKNOWN),
        bytes_in=conn.ingress_bytes,
        bytes_out=conn.egress_bytes,
        details=details,
    )
    changed = (previous.get("details") or {}).get("connection_status") != conn.status
    changed = changed or (status.tunnel == TunnelState.UP and _unsettled(previous))
    if not previous:
        state.clear()  # a site's first poll: whatever an earlier site with its id left
    fresh = _bgp(client, intent, changed, cadence, details, state, subscription.lower())
    if fresh is not None:
        peers, status.learned_routes, status.advertised_routes = _this_site(intent, *fresh)
        status.bgp_peers = with_prefixes_sent(peers, status.advertised_routes, intent)
        details["bgp_read_at"] = datetime.now(UTC).isoformat()
    else:
        _carry(previous, status)
    if "bgp_read_at" not in details:
        # no BGP tables yet (a new site, or a cold start: at Azure's pace the first reads of
        # 1,000 sites take minutes): pending, not "no session" (monitor.diagnosis)
        details["bgp_not_read"] = True
    return status


def with_prefixes_sent(peers: list[BgpPeer], advertised: list[Route], intent: SiteIntent):
    """Azure's peers, the one at home with how many prefixes Azure sends it.

    ``BgpPeerStatus`` has ``routesReceived`` but no sent count (azure-rest-api-specs,
    specification/network/resource-manager/Microsoft.Network/stable/*/virtualNetworkGateway.json, definition ``BgpPeerStatus``: neighbor, asn, state,
    connectedDuration, routesReceived, messagesSent, messagesReceived); the prefixes Azure sends a
    peer are what ``getAdvertisedRoutes?peer=<that peer>`` lists, which the BGP reads ask for the
    on-prem BGP address. Each prefix counts once (an active-active gateway lists it per instance).
    """
    home = onprem_bgp_ip(intent)
    sent = len({route.prefix for route in advertised})
    return [replace(p, prefixes_sent=sent) if p.neighbor == home else p for p in peers]


def _this_site(
    intent: SiteIntent, peers: list, learned: list, advertised: list
) -> tuple[list, list, list]:
    """The gateway's BGP tables as far as they are this site's: a gateway shared by several
    homes (s2svpn.gateway_share) lists every home's session and the prefixes each advertises.
    Other homes' peers, and the routes learned from them (next hop = that peer), are left out,
    so one home's session or prefixes never colour another's status. When the site's own peer
    is not in the table (not configured yet), nothing is left out."""
    mine = onprem_bgp_ip(intent)
    if not any(peer.neighbor == mine for peer in peers):
        return peers, learned, advertised
    others = {peer.neighbor for peer in peers} - {mine}
    return (
        [peer for peer in peers if peer.neighbor not in others],
        [route for route in learned if route.next_hop not in others],
        advertised,
    )


def _unsettled(previous: dict[str, Any]) -> bool:
    """The tunnel is up but the last BGP tables showed no session, or one not Established: read
    them again now rather than a cadence later (a session comes up seconds after its tunnel, so
    the read started when the tunnel came back often still sees it Idle). The write budget and
    the one-read-in-flight rule still bound how often."""
    from monitor.serialize import end_from_dict

    if not (previous.get("details") or {}).get("bgp_read_at"):
        return False
    peers = end_from_dict(previous).bgp_peers
    return not peers or any(peer.state != BgpState.ESTABLISHED for peer in peers)


def _carry(previous: dict[str, Any], status: EndStatus) -> None:
    """The last known BGP tables (and when they were read) into this reading."""
    from monitor.serialize import end_from_dict

    before = previous.get("details") or {}
    if not before.get("bgp_read_at"):
        return
    old = end_from_dict(previous)
    status.bgp_peers, status.learned_routes = old.bgp_peers, old.learned_routes
    status.advertised_routes = old.advertised_routes
    status.details["bgp_read_at"] = before["bgp_read_at"]


def _bgp(
    client: Any,
    intent: SiteIntent,
    changed: bool,
    cadence: float,
    details: dict[str, Any],
    state: dict[str, Any],
    subscription: str,
) -> tuple[list, list, list] | None:
    """Fresh BGP tables if a read finished now; else ``None`` (started, pending, not due, failed).

    ``state`` is ``{"started", "reads"?, "next"?, "error"?}``; the last error stays in the
    reading (``details["bgp_error"]``) until fresh tables arrive."""
    result = _advance(client, intent, state, changed, cadence, subscription)
    if result is None:
        if state.get("reads"):
            details["bgp_pending_since"] = state["started"]
        if state.get("error"):
            details["bgp_error"] = state["error"]
        return None
    started = state["started"]
    state.clear()
    state["started"] = started
    return result["peers"], result["learned"], result["advertised"]


def load_states(site_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Every site's BGP read state (``{}`` when none), in one cache round trip."""
    found = cache.get_many([KEY.format(pk) for pk in site_ids])
    return {pk: dict(found.get(KEY.format(pk)) or {}) for pk in site_ids}


def save_states(states: dict[int, dict[str, Any]], before: dict[int, dict[str, Any]]) -> None:
    """Store the states that changed since :func:`load_states` (one round trip; most sites'
    state does not change between their BGP reads)."""
    changed = {KEY.format(pk): state for pk, state in states.items() if state != before.get(pk)}
    if changed:
        cache.set_many(changed, timeout=None)


def _advance(
    client: Any,
    intent: SiteIntent,
    state: dict[str, Any],
    changed: bool,
    cadence: float,
    subscription: str,
) -> dict[str, Any] | None:
    """One step of a site's BGP reads, ``state`` updated in place; the results when done."""
    now = time.time()
    if state.get("reads") and now - state["started"] > bgp_deadline():
        state["error"] = "Azure did not finish reading the BGP tables in time; asked again."
        state.pop("reads")
    if not state.get("reads"):
        if not (changed or now - state.get("started", 0) >= cadence):
            return None
        if not pace.budget(subscription).try_take("writes", len(READS)):
            return None  # the write budget is spent: a later cycle starts them
        state["started"] = now
        try:
            state["reads"] = client.start_bgp_reads(intent)
        except ClientError as err:
            state["error"] = f"starting the BGP reads failed: {err.message}"
            return None
        state["next"] = now + pace.last_retry_after()
    if now < state.get("next", 0):
        return None
    try:
        result = client.collect_bgp_reads(state["reads"])
    except ClientError as err:
        state["error"] = f"reading the BGP tables failed: {err.message}"
        state.pop("reads")
        return None
    if result is None:
        state["next"] = time.time() + (pace.last_retry_after() or recheck())
    return result


def forget(site_id: int) -> None:
    cache.delete(KEY.format(site_id))
