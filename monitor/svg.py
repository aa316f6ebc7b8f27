"""Server-rendered SVG: the state timeline, the traffic chart and the topology picture.

Plain strings built in Python (no template per bar: a status page with many cards stays cheap).
Every piece of text is escaped; colours come from the CSS classes in static/s2svpn/monitor.css
(``.s-healthy``, ``.s-down``, …) so the palette lives in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from monitor.history import Segment, TrafficPoint, human_bytes

LABELS = {
    "healthy": "Healthy",
    "degraded": "Degraded",
    "down": "Down",
    "unknown": "Unknown",
    "": "No data",
}


def timeline(parts: Sequence[Segment], start: datetime, end: datetime, *, label: str) -> SafeString:
    """A horizontal band coloured by verdict, with the window's start, middle and end marked."""
    width, bar = 300, 16
    total = (end - start).total_seconds() or 1.0
    rects = []
    for seg in parts:
        x = (seg.start - start).total_seconds() / total * width
        w = max(seg.seconds / total * width, 0.8)
        known = seg.value if seg.value in LABELS else "unknown"  # a fixed vocabulary: no escaping
        rects.append(
            f'<rect class="s-{known or "nodata"}" x="{x:.1f}" y="2" width="{w:.1f}" '
            f'height="{bar}"><title>{LABELS[known]} {_when(seg.start)}-'
            f"{seg.end.hour:02d}:{seg.end.minute:02d} UTC</title></rect>"
        )
    middle = start + (end - start) / 2
    return mark_safe(  # noqa: S308 - all text above is escaped
        f'<div class="tl"><svg class="chart timeline" viewBox="0 0 {width} {bar + 4}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="none">'
        f'<rect class="track" x="0" y="2" width="{width}" height="{bar}"/>'
        + "".join(rects)
        + '</svg><div class="ticks">'
        f"<span>{escape(_ago(start, end))}</span><span>{escape(_ago(middle, end))}</span>"
        "<span>now</span></div></div>"
    )


_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _when(at: datetime) -> str:
    return f"{at.day:02d} {_MONTHS[at.month]} {at.hour:02d}:{at.minute:02d}"


def _ago(at: datetime, now: datetime) -> str:
    hours = round((now - at).total_seconds() / 3600)
    if hours >= 48:
        return f"-{hours // 24}d"
    return f"-{hours}h"


def traffic(points: Sequence[TrafficPoint], *, label: str) -> SafeString:
    """Bars per hour: bytes into Azure (up) and out of Azure (down), with the peak labelled."""
    width, height = 300, 70
    axis = height / 2
    peak = max([max(p.bytes_in, p.bytes_out) for p in points] + [1])
    n = max(len(points), 1)
    step = width / n
    bar = max(step - 1.5, 1)
    bars = []
    for i, p in enumerate(points):
        if not (p.bytes_in or p.bytes_out):
            continue  # nothing to draw (and nothing to hover)
        x = i * step
        h_in = p.bytes_in / peak * (axis - 10)
        h_out = p.bytes_out / peak * (axis - 10)
        # built from a date and two numbers only: nothing to escape
        bars.append(
            f"<g><title>{_when(p.start)} UTC: "
            f"{human_bytes(p.bytes_in)} to Azure, {human_bytes(p.bytes_out)} from Azure</title>"
            f'<rect class="t-in" x="{x:.1f}" y="{axis - h_in:.1f}" width="{bar:.1f}" height="{h_in:.1f}"/>'
            f'<rect class="t-out" x="{x:.1f}" y="{axis:.1f}" width="{bar:.1f}" height="{h_out:.1f}"/></g>'
        )
    empty = peak <= 1
    legend = (
        '<span class="muted">no traffic yet</span>'
        if empty
        else f'<span class="t-in-key">▲ to</span> / <span class="t-out-key">▼ from Azure</span>'
        f" · peak {escape(human_bytes(peak))}/h"
    )
    return mark_safe(  # noqa: S308 - all text above is escaped
        f'<div class="tr"><svg class="chart traffic" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="none">'
        f'<line class="axis" x1="0" y1="{axis}" x2="{width}" y2="{axis}"/>'
        + "".join(bars)
        + f'</svg><div class="ticks">{legend}</div></div>'
    )


def topology(
    *,
    tunnel_azure: str,
    tunnel_pfsense: str,
    bgp: str,
    vnet: str,
    lan: str,
    fqdn: str,
    address: str,
    label: str,
) -> SafeString:
    """VNet ─ VPN gateway ═ tunnel ═ NAT router ─ pfSense ─ LAN, coloured by state.

    ``tunnel_*``/``bgp`` are CSS states: healthy (up), degraded, down, unknown.
    """
    t_az = f"s-{tunnel_azure}"
    t_pf = f"s-{tunnel_pfsense}"
    return mark_safe(  # noqa: S308 - all text is escaped
        '<svg class="topology" viewBox="0 0 600 92" role="img" '
        f'aria-label="{escape(label)}">'
        '<rect class="node azure" x="2" y="22" width="92" height="44" rx="6"/>'
        f'<text x="48" y="40" text-anchor="middle" class="nt">Azure VNet</text>'
        f'<text x="48" y="56" text-anchor="middle" class="ns">{escape(vnet)}</text>'
        '<line class="wire" x1="94" y1="44" x2="118" y2="44"/>'
        '<rect class="node azure" x="118" y="26" width="84" height="36" rx="6"/>'
        '<text x="160" y="48" text-anchor="middle" class="nt">VPN gateway</text>'
        f'<line class="tunnel {t_az}" x1="202" y1="44" x2="300" y2="44"/>'
        f'<line class="tunnel {t_pf}" x1="300" y1="44" x2="392" y2="44"/>'
        f'<text x="297" y="34" text-anchor="middle" class="ns">IPsec · BGP <tspan class="b-{escape(bgp)}">●</tspan></text>'
        f'<text x="297" y="64" text-anchor="middle" class="ns">{escape(fqdn)}'
        f"{(' → ' + escape(address)) if address else ''}</text>"
        '<rect class="node home" x="392" y="26" width="64" height="36" rx="6"/>'
        '<text x="424" y="48" text-anchor="middle" class="nt">NAT</text>'
        '<line class="wire" x1="456" y1="44" x2="470" y2="44"/>'
        '<rect class="node home" x="470" y="26" width="64" height="36" rx="6"/>'
        '<text x="502" y="48" text-anchor="middle" class="nt">pfSense</text>'
        '<line class="wire" x1="534" y1="44" x2="544" y2="44"/>'
        '<rect class="node home" x="544" y="22" width="54" height="44" rx="6"/>'
        '<text x="571" y="40" text-anchor="middle" class="nt">LAN</text>'
        f'<text x="571" y="56" text-anchor="middle" class="ns">{escape(lan)}</text>'
        "</svg>"
    )
