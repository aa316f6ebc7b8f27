"""``EndStatus`` ⇄ JSON for the snapshot table (pure; no Django).

The stored form is ``dataclasses.asdict`` with enums as their values, so a snapshot written by one
version can be read back by the next: unknown keys are ignored, missing ones take the defaults.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from s2svpn.status import BgpPeer, BgpState, ChildSa, EndStatus, IkeSa, Route, TunnelState


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def end_to_dict(end: EndStatus) -> dict[str, Any]:
    """A JSON-ready dict of one end's reading."""
    return _plain(end)


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _enum(cls: type[enum.Enum], value: Any, default: enum.Enum) -> Any:
    try:
        return cls(value)
    except ValueError:
        return default


def _child(data: dict[str, Any]) -> ChildSa:
    values = _known(ChildSa, data)
    for key in ("local_ts", "remote_ts"):
        values[key] = tuple(values.get(key) or ())
    return ChildSa(**values)


def _sa(data: dict[str, Any]) -> IkeSa:
    values = _known(IkeSa, data)
    values["children"] = tuple(_child(c) for c in values.get("children") or ())
    return IkeSa(**values)


def _peer(data: dict[str, Any]) -> BgpPeer:
    values = _known(BgpPeer, data)
    values["state"] = _enum(BgpState, values.get("state"), BgpState.UNKNOWN)
    return BgpPeer(**values)


def end_from_dict(data: dict[str, Any] | None) -> EndStatus:
    """The reading back from its stored form; an empty dict is "never polled" (unknown)."""
    if not data:
        return EndStatus(error="not polled yet")
    return EndStatus(
        tunnel=_enum(TunnelState, data.get("tunnel"), TunnelState.UNKNOWN),
        bgp_peers=[_peer(p) for p in data.get("bgp_peers") or ()],
        learned_routes=[Route(**_known(Route, r)) for r in data.get("learned_routes") or ()],
        advertised_routes=[Route(**_known(Route, r)) for r in data.get("advertised_routes") or ()],
        bytes_in=data.get("bytes_in"),
        bytes_out=data.get("bytes_out"),
        sas=[_sa(s) for s in data.get("sas") or ()],
        details=dict(data.get("details") or {}),
        error=data.get("error") or "",
    )
