"""What the status pages show, computed from stored rows only (never a call to either end).

``cards(sites, now)`` loads, in a fixed number of queries whatever the number of sites, the
snapshots, the verdict transitions of the last 7 days and the hourly samples of the last 24 h,
and returns one ``Card`` per site with its SVGs already rendered.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils.safestring import SafeString

from monitor import svg
from monitor.history import human_bytes, human_duration, segments, traffic, uptime
from monitor.models import VERDICT_COLOURS, Sample, Snapshot, Transition
from monitor.observations import (
    advertised_prefixes,
    azure_peer,
    learned_prefixes,
    negotiated,
    pfsense_peer,
    route_table,
)
from monitor.serialize import end_from_dict
from s2svpn.intent import SiteIntent
from s2svpn.status import BgpPeer, EndStatus, TunnelState
from wizard.models import Site

VERDICT_LABELS = {
    "healthy": "Healthy",
    "degraded": "Degraded",
    "down": "Down",
    "unknown": "Unknown",
    "": "Not polled yet",
}
TUNNEL_CSS = {"up": "healthy", "connecting": "degraded", "down": "down", "unknown": "unknown"}
BGP_LABELS = {
    "established": "Established",
    "established_policy": "Established (Policy: nothing exchanged)",
    "active": "Active",
    "connect": "Connect",
    "opensent": "OpenSent",
    "openconfirm": "OpenConfirm",
    "idle": "Idle",
    "stopped": "Stopped",
    "not_running": "FRR not running",
    "unknown": "Unknown",
    "none": "No session",
    "pending": "Not read yet",
}


def bgp_css(state: str) -> str:
    if state == "established":
        return "healthy"
    if state in ("unknown", "", "pending"):
        return "unknown"
    if state in ("established_policy", "connect", "opensent", "openconfirm", "active"):
        return "degraded"
    return "down"


@dataclass
class Half:
    name: str
    error: str
    tunnel: str
    tunnel_css: str
    negotiated: dict[str, str]
    uptime: str
    bytes_in: str
    bytes_out: str
    bgp: str
    bgp_css: str
    peer: str
    received: str
    sent: str
    learned: list[str]
    advertised: list[str]
    # Active-active: one row per gateway instance (s2svpn.activeactive_status), else empty.
    instances: list[dict[str, Any]] = field(default_factory=list)
    # When Azure's BGP tables shown were read (ISO time; they are read on a slower cadence).
    bgp_read_at: str = ""


def half(name: str, end: EndStatus, peer: BgpPeer | None, policy_text: str) -> Half:
    if end.error:
        return Half(
            name, end.error, "Unknown", "unknown", {}, "—", "—", "—", "Unknown", "unknown",
            "", "—", "—", [], [],
        )  # fmt: skip
    tunnel = end.tunnel.value
    agreed = negotiated(end)
    if not agreed and policy_text:
        agreed = {"policy": policy_text}
    up_seconds = None
    for sa in end.sas:
        if sa.state.upper() == "ESTABLISHED" and sa.established_seconds is not None:
            up_seconds = sa.established_seconds
            break
    if up_seconds is None and peer is not None and end.tunnel == TunnelState.UP:
        up_seconds = peer.uptime_seconds
    state = peer.state.value if peer else "pending" if end.details.get("bgp_not_read") else "none"
    b_in, b_out = end.bytes_in, end.bytes_out
    if b_in is None and end.sas:
        b_in = sum(c.bytes_in for sa in end.sas for c in sa.children)
        b_out = sum(c.bytes_out for sa in end.sas for c in sa.children)
    return Half(
        name=name,
        error="",
        tunnel={"up": "Up", "down": "Down", "connecting": "Connecting"}.get(tunnel, "Unknown"),
        tunnel_css=TUNNEL_CSS.get(tunnel, "unknown"),
        negotiated=agreed,
        uptime=human_duration(up_seconds),
        bytes_in=human_bytes(b_in),
        bytes_out=human_bytes(b_out),
        bgp=BGP_LABELS.get(state, state),
        bgp_css=bgp_css(state),
        peer=f"{peer.neighbor} (AS {peer.asn})" if peer else "",
        received=str(peer.prefixes_received) if peer else "—",
        sent=str(peer.prefixes_sent) if peer and peer.prefixes_sent is not None else "—",
        bgp_read_at=str(end.details.get("bgp_read_at") or ""),
        learned=learned_prefixes(end),
        advertised=advertised_prefixes(end),
        instances=[
            {
                **row,
                "bgp_label": BGP_LABELS.get(row.get("bgp", ""), row.get("bgp", "")),
                "bgp_css": bgp_css(row.get("bgp", "")),
                "tunnel_css": TUNNEL_CSS.get(row.get("tunnel", ""), "unknown"),
            }
            for row in end.details.get("instances") or []
        ],
    )


@dataclass
class Card:
    site: Site
    intent: SiteIntent
    snapshot: Snapshot | None
    verdict: str
    verdict_label: str
    colour: str
    reason: str
    since: datetime | None
    polled_at: datetime | None
    findings: list[dict[str, Any]]
    azure: Half | None
    pfsense: Half | None
    uptime_24h: str
    uptime_7d: str
    timeline: SafeString
    traffic: SafeString
    topology: SafeString
    dns: dict[str, Any] = field(default_factory=dict)
    azure_end: EndStatus | None = None
    pfsense_end: EndStatus | None = None


def _percent(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 0.99995:
        return "100%"
    return f"{value * 100:.2f}%"


def _policy_text(intent: SiteIntent) -> str:
    from s2svpn.ipsec import to_strongswan

    try:
        ike, esp = to_strongswan(intent.policy)
    except ValueError:
        return ""
    return f"IKE {ike} · ESP {esp}"


def halves_summary(azure: EndStatus, pfsense: EndStatus, intent: SiteIntent) -> dict[str, Any]:
    """Both halves as the cards show them, computed once per poll and stored on the snapshot."""
    policy = _policy_text(intent)
    return {
        "azure": dataclasses.asdict(half("Azure", azure, azure_peer(azure, intent), policy)),
        "pfsense": dataclasses.asdict(
            half("pfSense", pfsense, pfsense_peer(pfsense, intent), policy)
        ),
    }


def cards(
    sites: Sequence[Site],
    now: datetime,
    *,
    days: int = 7,
    traffic_hours: int = 24,
    detail: bool = False,
) -> list[Card]:
    """One card per site; 2 queries (snapshots come with ``select_related('snapshot')``).

    Without ``detail`` the halves come from the summary stored at poll time (the list page does
    not deserialise every reading); with it, from the readings (the site page needs the routes).
    """
    ids = [s.pk for s in sites]
    week_start = now - timedelta(days=days)
    day_start = now - timedelta(hours=24)
    changes: dict[int, list[tuple[datetime, str, str]]] = defaultdict(list)
    for site_id, at, old, new in (
        Transition.objects.filter(site_id__in=ids, dimension="verdict", at__gte=week_start)
        .order_by("site_id", "at", "pk")
        .values_list("site_id", "at", "old", "new")
    ):
        changes[site_id].append((at, old, new))
    series: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
    for site_id, bucket, t_in, t_out in Sample.objects.filter(
        site_id__in=ids,
        resolution="hour",
        bucket__gte=(now - timedelta(hours=traffic_hours)).replace(
            minute=0, second=0, microsecond=0
        ),
    ).values_list("site_id", "bucket", "traffic_in", "traffic_out"):
        series[site_id].append((bucket, t_in, t_out))
    out = []
    for site in sites:
        snap = _snapshot_of(site)
        out.append(
            _card(
                site,
                snap,
                changes.get(site.pk, []),
                series.get(site.pk, []),
                now,
                week_start,
                day_start,
                traffic_hours,
                detail,
            )
        )
    return out


def _snapshot_of(site: Site) -> Snapshot | None:
    try:
        return site.snapshot
    except Snapshot.DoesNotExist:
        return None


def removed_on(site: Site) -> datetime | None:
    """When a torn-down site's teardown finished (None while the site exists)."""
    from wizard.models import RunKind, RunStatus, SiteStatus

    if site.status != SiteStatus.REMOVED:
        return None
    runs = site.runs.filter(kind=RunKind.TEARDOWN, status=RunStatus.SUCCEEDED)
    return runs.order_by("-finished").values_list("finished", flat=True).first() or site.updated


def _card(
    site: Site,
    snap: Snapshot | None,
    week: list[tuple[datetime, str, str]],
    samples: list[tuple[datetime, int, int]],
    now: datetime,
    week_start: datetime,
    day_start: datetime,
    traffic_hours: int,
    detail: bool = True,
) -> Card:
    try:
        intent = site.get_intent()
    except Exception:
        intent = SiteIntent(slug=site.slug)
    current = snap.verdict if snap else ""
    week_parts = segments(week, current, week_start, now)
    day_parts = segments(week, current, day_start, now)
    azure = pfsense = None
    az_end = pf_end = None
    summary = (snap.summary if snap is not None else None) or {}
    if snap is not None and not detail and summary.get("azure") and summary.get("pfsense"):
        azure, pfsense = Half(**summary["azure"]), Half(**summary["pfsense"])
    elif snap is not None:
        az_end, pf_end = end_from_dict(snap.azure), end_from_dict(snap.pfsense)
        policy = _policy_text(intent)
        azure = half("Azure", az_end, azure_peer(az_end, intent), policy)
        pfsense = half("pfSense", pf_end, pfsense_peer(pf_end, intent), policy)
    states = (snap.states if snap else {}) or {}
    bgp_state = bgp_css(states.get("bgp_pfsense", "unknown"))
    if bgp_css(states.get("bgp_azure", "unknown")) == "down":
        bgp_state = "down"
    dns = (snap.dns if snap else {}) or {}
    label = VERDICT_LABELS.get(current, current)
    reason = snap.reason if snap else "Waiting for the first poll."
    since = snap.verdict_since if snap else None
    findings = list(snap.findings) if snap else []
    if removed := removed_on(site):
        # torn down: the last reading is history, not the state of a tunnel that is gone
        current, label, findings, since = "removed", "Removed", [], removed
        reason = f"Removed on {removed:%d %b %Y %H:%M} UTC; the history below is kept."
    return Card(
        site=site,
        intent=intent,
        snapshot=snap,
        verdict=current or "nodata",
        verdict_label=label,
        colour=VERDICT_COLOURS.get(current, "grey"),
        reason=reason,
        since=since,
        polled_at=snap.polled_at if snap else None,
        findings=findings,
        azure=azure,
        pfsense=pfsense,
        uptime_24h=_percent(uptime(day_parts)),
        uptime_7d=_percent(uptime(week_parts)),
        timeline=svg.timeline(
            day_parts, day_start, now, label=f"{site.name}: verdict over 24 hours"
        ),
        traffic=svg.traffic(
            traffic(samples, now, traffic_hours), label=f"{site.name}: traffic per hour"
        ),
        topology=svg.topology(
            tunnel_azure=TUNNEL_CSS.get(states.get("tunnel_azure", "unknown"), "unknown"),
            tunnel_pfsense=TUNNEL_CSS.get(states.get("tunnel_pfsense", "unknown"), "unknown"),
            bgp=bgp_state,
            vnet=", ".join(intent.vnet_prefixes),
            lan=f"{len(intent.lan_prefixes)} prefixes"
            if len(intent.lan_prefixes) != 1
            else intent.lan_prefixes[0],
            fqdn=intent.onprem_fqdn if not intent.onprem_public_ip else intent.onprem_public_ip,
            address=dns.get("address", ""),
            label=f"{site.name}: topology, tunnel {states.get('tunnel_azure', 'unknown')}",
        ),
        dns=dns,
        azure_end=az_end,
        pfsense_end=pf_end,
    )


@dataclass
class RouteSection:
    title: str
    learned_by: str
    advertised_by: str
    rows: list[Any]
    missing: int
    unexpected: int
    unknown: str


def route_sections(card: Card) -> list[RouteSection]:
    """Azure learned vs pfSense advertised vs intended LAN; pfSense learned vs Azure advertised vs VNet."""
    out = []
    az, pf, intent = card.azure_end, card.pfsense_end, card.intent
    if az is None or pf is None:
        return out
    for title, learner, sender, intended, learned_by, advertised_by in (
        ("Routes Azure learned from pfSense", az, pf, intent.lan_prefixes, "Azure", "pfSense"),
        ("Routes pfSense learned from Azure", pf, az, intent.vnet_prefixes, "pfSense", "Azure"),
    ):
        unknown = ""
        if learner.error:
            unknown = f"{learned_by} could not be read: {learner.error}"
        elif sender.error:
            unknown = f"{advertised_by} could not be read, its advertised routes are unknown."
        rows = route_table(
            learned_prefixes(learner) if not learner.error else [],
            advertised_prefixes(sender) if not sender.error else [],
            intended,
        )
        out.append(
            RouteSection(
                title,
                learned_by,
                advertised_by,
                rows,
                sum(r.status == "missing" for r in rows),
                sum(r.status == "unexpected" for r in rows),
                unknown,
            )
        )
    return out


def week_timeline(site: Site, card: Card, now: datetime) -> SafeString:
    """The 7-day band for the site page (one extra query)."""
    start = now - timedelta(days=7)
    week = list(
        Transition.objects.filter(site=site, dimension="verdict", at__gte=start)
        .order_by("at", "pk")
        .values_list("at", "old", "new")
    )
    current = card.snapshot.verdict if card.snapshot else ""
    return svg.timeline(
        segments(week, current, start, now), start, now, label="verdict over 7 days"
    )
