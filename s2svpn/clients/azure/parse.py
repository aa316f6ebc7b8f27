"""Azure's wire JSON (ARM's property names, api-version 2026-03-01) to our dataclasses.

Reads arrive as JSON straight from the pipeline (the SDK's model deserialisation is skipped on
purpose); PUT answers and listed pages come as SDK models, which :func:`wire` turns into JSON.
"""

from __future__ import annotations

import re
from typing import Any

from s2svpn.clients.azure.models import (
    BGP_STATES,
    Connection,
    Gateway,
    GatewayInstance,
    Kind,
    LocalGateway,
    PublicIp,
    Subnet,
    VNet,
)
from s2svpn.intent import IpsecPolicy
from s2svpn.status import BgpPeer, BgpState, Route


def _p(body: dict[str, Any]) -> dict[str, Any]:
    return body.get("properties") or {}


def _ref(value: Any) -> str:
    return value.get("id", "") if isinstance(value, dict) else ""


def _rg_of(resource_id: str) -> str:
    m = re.search(r"/resourceGroups/([^/]+)", resource_id, re.IGNORECASE)
    return m.group(1) if m else ""


def _resource(body: dict[str, Any]) -> dict[str, Any]:
    """The fields every resource has (see :class:`Resource`)."""
    return {
        "id": body.get("id", ""),
        "name": body.get("name", ""),
        "location": body.get("location", ""),
        "provisioning_state": _p(body).get("provisioningState", ""),
        "s2svpn_tag": (body.get("tags") or {}).get("s2svpn", ""),
    }


def parse_subnet(body: dict[str, Any]) -> Subnet:
    props = _p(body)
    prefix = props.get("addressPrefix") or next(iter(props.get("addressPrefixes") or []), "")
    return Subnet(
        **_resource(body),
        address_prefix=prefix,
        ip_configuration_ids=tuple(_ref(r) for r in props.get("ipConfigurations") or []),
    )


def parse_vnet(body: dict[str, Any]) -> VNet:
    props = _p(body)
    return VNet(
        **_resource(body),
        resource_group=_rg_of(body.get("id", "")),
        address_prefixes=tuple((props.get("addressSpace") or {}).get("addressPrefixes") or []),
        subnets=tuple(parse_subnet(s) for s in props.get("subnets") or []),
    )


def parse_public_ip(body: dict[str, Any]) -> PublicIp:
    props = _p(body)
    return PublicIp(
        **_resource(body),
        ip_address=props.get("ipAddress", "") or "",
        sku=(body.get("sku") or {}).get("name", ""),
        allocation=props.get("publicIPAllocationMethod", ""),
        zones=tuple(body.get("zones") or ()),
        ip_configuration_id=_ref(props.get("ipConfiguration")),
    )


def parse_gateway(body: dict[str, Any]) -> Gateway:
    props = _p(body)
    bgp = props.get("bgpSettings") or {}
    peering = bgp.get("bgpPeeringAddresses") or []
    ipcs = props.get("ipConfigurations") or []
    return Gateway(
        **_resource(body),
        gateway_type=props.get("gatewayType", ""),
        vpn_type=props.get("vpnType", ""),
        sku=(props.get("sku") or {}).get("name", ""),
        generation=props.get("vpnGatewayGeneration", "") or "",
        active_active=bool(props.get("activeActive")),
        enable_bgp=bool(props.get("enableBgp")),
        asn=bgp.get("asn"),
        bgp_peering_address=bgp.get("bgpPeeringAddress", "") or "",
        default_bgp_ips=tuple(ip for p in peering for ip in p.get("defaultBgpIpAddresses") or []),
        custom_bgp_ips=tuple(ip for p in peering for ip in p.get("customBgpIpAddresses") or []),
        tunnel_ips=tuple(ip for p in peering for ip in p.get("tunnelIpAddresses") or []),
        public_ip_ids=tuple(_ref(_p(i).get("publicIPAddress")) for i in ipcs),
        subnet_id=_ref(_p(ipcs[0]).get("subnet")) if ipcs else "",
        ip_configuration_ids=tuple(i.get("id", "") for i in ipcs),
        instances=tuple(
            GatewayInstance(
                ip_configuration_id=p.get("ipconfigurationId", "") or "",
                default_bgp_ips=tuple(p.get("defaultBgpIpAddresses") or ()),
                custom_bgp_ips=tuple(p.get("customBgpIpAddresses") or ()),
                tunnel_ips=tuple(p.get("tunnelIpAddresses") or ()),
            )
            for p in peering
        ),
    )


def parse_local_gateway(body: dict[str, Any]) -> LocalGateway:
    props = _p(body)
    bgp = props.get("bgpSettings") or {}
    return LocalGateway(
        **_resource(body),
        fqdn=props.get("fqdn", "") or "",
        gateway_ip=props.get("gatewayIpAddress", "") or "",
        address_prefixes=tuple(
            (props.get("localNetworkAddressSpace") or {}).get("addressPrefixes") or []
        ),
        bgp_asn=bgp.get("asn"),
        bgp_peering_address=bgp.get("bgpPeeringAddress", "") or "",
    )


# Our IpsecPolicy field -> ARM's ipsecPolicies property (one table for reading and writing).
POLICY_WIRE = (
    ("ike_encryption", "ikeEncryption"),
    ("ike_integrity", "ikeIntegrity"),
    ("dh_group", "dhGroup"),
    ("ipsec_encryption", "ipsecEncryption"),
    ("ipsec_integrity", "ipsecIntegrity"),
    ("pfs_group", "pfsGroup"),
    ("sa_lifetime_seconds", "saLifeTimeSeconds"),
    ("sa_data_size_kilobytes", "saDataSizeKilobytes"),
)


def parse_policy(policy: dict[str, Any]) -> IpsecPolicy:
    values = {ours: policy[wire] for ours, wire in POLICY_WIRE}
    values["sa_lifetime_seconds"] = int(values["sa_lifetime_seconds"])
    values["sa_data_size_kilobytes"] = int(values["sa_data_size_kilobytes"])
    return IpsecPolicy(**values)


def policy_wire(policy: IpsecPolicy) -> dict[str, Any]:
    """Our policy as one entry of ARM's ``ipsecPolicies``."""
    return {wire: getattr(policy, ours) for ours, wire in POLICY_WIRE}


def parse_connection(body: dict[str, Any]) -> Connection:
    props = _p(body)
    policies = props.get("ipsecPolicies") or []
    return Connection(
        **_resource(body),
        connection_type=props.get("connectionType", ""),
        protocol=props.get("connectionProtocol", ""),
        mode=props.get("connectionMode", "") or "Default",
        enable_bgp=bool(props.get("enableBgp")),
        gateway_id=_ref(props.get("virtualNetworkGateway1")),
        local_gateway_id=_ref(props.get("localNetworkGateway2")),
        authentication_type=props.get("authenticationType", "") or "PSK",
        dpd_timeout_seconds=props.get("dpdTimeoutSeconds"),
        use_policy_based_traffic_selectors=bool(props.get("usePolicyBasedTrafficSelectors")),
        ipsec_policy=parse_policy(policies[0]) if policies else None,
        custom_bgp_ips=tuple(
            (c.get("ipConfigurationId", ""), c.get("customBgpIpAddress", ""))
            for c in props.get("gatewayCustomBgpIpAddresses") or []
        ),
        status=props.get("connectionStatus", "") or "",
        ingress_bytes=int(props.get("ingressBytesTransferred") or 0),
        egress_bytes=int(props.get("egressBytesTransferred") or 0),
        tunnels=tuple(
            (t.get("tunnel", "") or "", t.get("connectionStatus", "") or "")
            for t in props.get("tunnelConnectionStatus") or []
        ),
    )


def parse_timespan(value: Any) -> float | None:
    """Parse .NET TimeSpan text (``d.hh:mm:ss.fffffff`` or ``hh:mm:ss``) to seconds, leniently."""
    if not isinstance(value, str) or not value:
        return None
    m = re.fullmatch(r"(?:(\d+)\.)?(\d+):(\d{1,2}):(\d{1,2})(?:\.(\d+))?", value.strip())
    if not m:
        return None
    days, hours, minutes, seconds, frac = m.groups()
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return total + (float(f"0.{frac}") if frac else 0.0)


def parse_bgp_peers(body: dict[str, Any]) -> list[BgpPeer]:
    """``BgpPeerStatusListResult`` (reference section 4.6) -> our :class:`BgpPeer` list."""
    peers = []
    for item in (body or {}).get("value") or []:
        state = BGP_STATES.get(str(item.get("state", "")).lower(), BgpState.UNKNOWN)
        peers.append(
            BgpPeer(
                neighbor=item.get("neighbor", ""),
                asn=int(item.get("asn") or 0),
                state=state,
                local_address=item.get("localAddress", "") or "",
                prefixes_received=int(item.get("routesReceived") or 0),
                uptime_seconds=parse_timespan(item.get("connectedDuration"))
                if state == BgpState.ESTABLISHED
                else None,
                messages_received=item.get("messagesReceived"),
                messages_sent=item.get("messagesSent"),
            )
        )
    return peers


def parse_routes(body: dict[str, Any]) -> list[Route]:
    """``GatewayRouteListResult`` (reference section 4.7) -> our :class:`Route` list."""
    return [
        Route(
            prefix=item.get("network", ""),
            next_hop=item.get("nextHop", "") or "",
            as_path=item.get("asPath", "") or "",
            origin=item.get("origin", "") or "",
        )
        for item in (body or {}).get("value") or []
    ]


def wire(model: Any) -> dict[str, Any]:
    """SDK hybrid model (or dict) -> plain wire-named dict."""
    if model is None:
        return {}
    if isinstance(model, dict) and not hasattr(model, "as_dict"):
        return model
    return model.as_dict()


# The resource types s2svpn reads and writes, for the session's read / save / delete mechanism.
VNETS = Kind("virtual_networks", ("virtualNetworks",), parse_vnet)
SUBNETS = Kind("subnets", ("virtualNetworks", "subnets"), parse_subnet)
PUBLIC_IPS = Kind("public_ip_addresses", ("publicIPAddresses",), parse_public_ip)
GATEWAYS = Kind("virtual_network_gateways", ("virtualNetworkGateways",), parse_gateway)
LOCAL_GATEWAYS = Kind("local_network_gateways", ("localNetworkGateways",), parse_local_gateway)
CONNECTIONS = Kind("virtual_network_gateway_connections", ("connections",), parse_connection)
