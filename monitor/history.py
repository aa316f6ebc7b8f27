"""History from transition rows: state segments over a window, uptime, traffic buckets (pure).

The verdict at any moment is the ``new`` value of the latest transition before it; the value at
the start of a window is the ``old`` of the first transition inside it (or the current verdict
when nothing changed). An empty ``old`` marks the first observation: the time before it is
"no data" and does not count. Uptime is healthy time over known time (degraded, down and healthy;
"unknown" — we could not read an end — counts for neither).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    value: str  # healthy | degraded | down | unknown | "" (no data)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def value_at(changes: Sequence[tuple[datetime, str, str]], at: datetime, current: str) -> str:
    """The value at ``at`` given the changes of a window (oldest first) and the current value."""
    if not changes:
        return current
    value = changes[0][1]
    for when, _old, new in changes:
        if when > at:
            break
        value = new
    return value


def segments(
    changes: Sequence[tuple[datetime, str, str]], current: str, start: datetime, end: datetime
) -> list[Segment]:
    """``changes``: ``(at, old, new)`` oldest first (earlier ones only set the starting value)."""
    out: list[Segment] = []
    cursor = start
    value = value_at(changes, start, current)
    changes = [c for c in changes if c[0] > start]
    for at, _old, new in changes:
        at = min(max(at, start), end)
        if at > cursor:
            out.append(Segment(cursor, at, value))
        cursor, value = at, new
    if end > cursor:
        out.append(Segment(cursor, end, value))
    return out


def uptime(parts: Iterable[Segment]) -> float | None:
    """Healthy fraction of the known time, or None when nothing is known."""
    known = healthy = 0.0
    for seg in parts:
        if seg.value in ("healthy", "degraded", "down"):
            known += seg.seconds
            if seg.value == "healthy":
                healthy += seg.seconds
    return healthy / known if known > 0 else None


@dataclass(frozen=True)
class TrafficPoint:
    start: datetime
    bytes_in: int
    bytes_out: int


def traffic(
    samples: Iterable[tuple[datetime, int, int]], end: datetime, hours: int = 24
) -> list[TrafficPoint]:
    """Per-hour traffic for the last ``hours`` hours, zero-filled; ``samples``: (bucket, in, out)."""
    last = end.replace(minute=0, second=0, microsecond=0)
    first = last - timedelta(hours=hours - 1)
    totals = [[0, 0] for _ in range(hours)]
    for bucket, b_in, b_out in samples:
        index = int((bucket - first).total_seconds() // 3600)
        if 0 <= index < hours:
            totals[index][0] += b_in or 0
            totals[index][1] += b_out or 0
    return [
        TrafficPoint(first + timedelta(hours=i), t_in, t_out)
        for i, (t_in, t_out) in enumerate(totals)
    ]


def human_bytes(value: float | int | None) -> str:
    if value is None:
        return "—"
    value = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
