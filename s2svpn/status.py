"""What the monitor reads from each end, in our own vocabulary (both clients return these).

Vendor words are normalised at the boundary: Azure ``connectionStatus`` / BGP ``state``, FRR
``state``/``peerState`` and strongSwan SA states all become the enums below.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class TunnelState(str, enum.Enum):
    UP = "up"  # Azure Connected / IKE ESTABLISHED + child INSTALLED
    CONNECTING = "connecting"
    DOWN = "down"
    UNKNOWN = "unknown"  # we could not ask (the reason travels beside it)


class BgpState(str, enum.Enum):
    ESTABLISHED = "established"
    POLICY = "established_policy"  # FRR: Established but peerState Policy, nothing exchanged
    ACTIVE = "active"
    CONNECT = "connect"
    OPENSENT = "opensent"
    OPENCONFIRM = "openconfirm"
    IDLE = "idle"
    STOPPED = "stopped"
    NOT_RUNNING = "not_running"  # FRR/bgpd not running
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class BgpPeer:
    neighbor: str
    asn: int
    state: BgpState
    local_address: str = ""
    prefixes_received: int = 0
    prefixes_sent: int | None = None
    uptime_seconds: float | None = None
    messages_received: int | None = None
    messages_sent: int | None = None


@dataclass(frozen=True)
class Route:
    prefix: str
    next_hop: str = ""
    as_path: str = ""
    origin: str = ""


@dataclass(frozen=True)
class IkeSa:
    """One IKE SA with its child SAs, as pfSense (strongSwan) reports it."""

    con_id: str
    state: str  # strongSwan words: ESTABLISHED, CONNECTING, ...
    remote_host: str = ""
    local_host: str = ""
    nat_remote: bool = False
    nat_local: bool = False
    encr_alg: str = ""
    encr_keysize: int | None = None
    integ_alg: str = ""
    prf_alg: str = ""
    dh_group: str = ""
    established_seconds: int | None = None
    children: tuple[ChildSa, ...] = ()


@dataclass(frozen=True)
class ChildSa:
    name: str
    state: str  # INSTALLED, REKEYING, ...
    reqid: int | None = None
    encr_alg: str = ""
    encr_keysize: int | None = None
    integ_alg: str = ""
    dh_group: str = ""
    bytes_in: int = 0
    bytes_out: int = 0
    local_ts: tuple[str, ...] = ()
    remote_ts: tuple[str, ...] = ()


@dataclass
class EndStatus:
    """One end's reading. ``error`` set means "unknown, because …" — never "down"."""

    tunnel: TunnelState = TunnelState.UNKNOWN
    bgp_peers: list[BgpPeer] = field(default_factory=list)
    learned_routes: list[Route] = field(default_factory=list)
    advertised_routes: list[Route] = field(default_factory=list)
    bytes_in: int | None = None
    bytes_out: int | None = None
    sas: list[IkeSa] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    error: str = ""
