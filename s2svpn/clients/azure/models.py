"""The Azure end in our own words: frozen dataclasses for the resources s2svpn reads and writes,
and the tables that turn Azure's state vocabulary into ours. Never SDK objects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from s2svpn.intent import IpsecPolicy, SiteIntent
from s2svpn.status import BgpState, TunnelState

T = TypeVar("T")

API_VERSION = "2026-03-01"
GATEWAY_SUBNET = "GatewaySubnet"
IPCONFIG_NAMES = ("default", "activeActive")
AZ_ZONES = ("1", "2", "3")

CONNECTION_STATES = {
    "connected": TunnelState.UP,
    "connecting": TunnelState.CONNECTING,
    "notconnected": TunnelState.DOWN,
    "unknown": TunnelState.UNKNOWN,
}
BGP_STATES = {
    "connected": BgpState.ESTABLISHED,
    "connecting": BgpState.CONNECT,
    "idle": BgpState.IDLE,
    "stopped": BgpState.STOPPED,
    "unknown": BgpState.UNKNOWN,
}


@dataclass(frozen=True)
class Kind(Generic[T]):
    """One ARM resource type: its operation group on ``NetworkManagementClient`` (writes), its
    path under ``Microsoft.Network`` (reads, e.g. ``("virtualNetworks", "subnets")``) and our
    parser."""

    ops: str
    segments: tuple[str, ...]
    parse: Callable[[dict[str, Any]], T]


@dataclass(frozen=True, kw_only=True)
class Resource:
    """What every ARM resource has, and ``action``: what the last ``ensure_*`` did with it."""

    id: str
    name: str
    location: str = ""
    provisioning_state: str = ""
    action: str = ""
    # The value of the resource's ``s2svpn`` tag: the slug of the site s2svpn created it for
    # (every PUT s2svpn sends tags it so); empty for what s2svpn did not create.
    s2svpn_tag: str = ""


@dataclass(frozen=True, kw_only=True)
class Subnet(Resource):
    address_prefix: str
    ip_configuration_ids: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class VNet(Resource):
    resource_group: str
    address_prefixes: tuple[str, ...] = ()
    subnets: tuple[Subnet, ...] = ()

    def subnet(self, name: str) -> Subnet | None:
        return next((s for s in self.subnets if s.name.lower() == name.lower()), None)


@dataclass(frozen=True, kw_only=True)
class PublicIp(Resource):
    ip_address: str = ""
    sku: str = ""
    allocation: str = ""
    zones: tuple[str, ...] = ()
    ip_configuration_id: str = ""


@dataclass(frozen=True)
class GatewayInstance:
    """One instance of the gateway, from one ``bgpSettings.bgpPeeringAddresses[]`` entry (an
    active-active gateway has two, in ipConfiguration order)."""

    ip_configuration_id: str
    default_bgp_ips: tuple[str, ...] = ()
    custom_bgp_ips: tuple[str, ...] = ()
    tunnel_ips: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Gateway(Resource):
    gateway_type: str = ""
    vpn_type: str = ""
    sku: str = ""
    generation: str = ""
    active_active: bool = False
    enable_bgp: bool = False
    asn: int | None = None
    bgp_peering_address: str = ""
    default_bgp_ips: tuple[str, ...] = ()
    custom_bgp_ips: tuple[str, ...] = ()
    tunnel_ips: tuple[str, ...] = ()
    public_ip_ids: tuple[str, ...] = ()
    subnet_id: str = ""
    ip_configuration_ids: tuple[str, ...] = ()
    instances: tuple[GatewayInstance, ...] = ()

    @property
    def ready(self) -> bool:
        return self.provisioning_state == "Succeeded"


@dataclass(frozen=True, kw_only=True)
class LocalGateway(Resource):
    fqdn: str = ""
    gateway_ip: str = ""
    address_prefixes: tuple[str, ...] = ()
    bgp_asn: int | None = None
    bgp_peering_address: str = ""


@dataclass(frozen=True, kw_only=True)
class Connection(Resource):
    connection_type: str = ""
    protocol: str = ""
    mode: str = ""
    enable_bgp: bool = False
    gateway_id: str = ""
    local_gateway_id: str = ""
    authentication_type: str = ""
    dpd_timeout_seconds: int | None = None
    use_policy_based_traffic_selectors: bool = False
    ipsec_policy: IpsecPolicy | None = None
    custom_bgp_ips: tuple[tuple[str, str], ...] = ()  # (ipConfigurationId, customBgpIpAddress)
    status: str = ""
    ingress_bytes: int = 0
    egress_bytes: int = 0
    # tunnelConnectionStatus[]: (tunnel, connectionStatus) per tunnel (one per active-active instance)
    tunnels: tuple[tuple[str, str], ...] = ()


def with_action(obj: T, action: str) -> T:
    """``obj`` with ``action`` = created | updated | unchanged | in_progress (what a step did)."""
    return replace(obj, action=action)  # type: ignore[type-var]


def onprem_bgp_ip(intent: SiteIntent) -> str:
    """The BGP address Azure peers with at home: the APIPA one in APIPA mode, else pfSense's LAN."""
    if intent.bgp_mode == "apipa" and intent.onprem_apipa_ip:
        return intent.onprem_apipa_ip
    return intent.onprem_bgp_ip


def custom_bgp_ip(intent: SiteIntent) -> str:
    """Azure's own APIPA BGP address when the site uses one, else ``""``."""
    return intent.azure_apipa_ip if intent.bgp_mode == "apipa" and intent.azure_apipa_ip else ""


def custom_bgp_ips(intent: SiteIntent) -> tuple[str, ...]:
    """Azure's APIPA BGP address per gateway instance, in ipConfiguration order (one for
    active-standby, two for active-active: s2svpn.activeactive); ``()`` in default BGP mode."""
    if not custom_bgp_ip(intent):
        return ()
    from s2svpn.activeactive import apipa_azure_ips

    return apipa_azure_ips(intent)


def custom_bgp_pairs(intent: SiteIntent, gateway_id: str) -> list[tuple[str, str]]:
    """``(ipConfiguration id, custom APIPA address)`` per instance, as the gateway's
    ``bgpPeeringAddresses`` and the connection's ``gatewayCustomBgpIpAddresses`` name them."""
    return [
        (f"{gateway_id}/ipConfigurations/{IPCONFIG_NAMES[i]}", ip)
        for i, ip in enumerate(custom_bgp_ips(intent))
    ]
