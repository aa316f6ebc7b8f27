"""Typed client for the Azure end: a VNet's GatewaySubnet, public IPs, the VPN gateway, the local
network gateway and the connection, over ``azure-mgmt-network`` (api-version 2026-03-01).

Our own frozen dataclasses go in and out, never SDK objects. Every ``ensure_*`` reads, compares
with the desired state (a :class:`~s2svpn.intent.SiteIntent`), then creates, updates or leaves the
resource alone; an existing resource that matches is adopted, one that conflicts is refused with a
permanent :class:`~s2svpn.clients.errors.ClientError` naming the difference. The returned dataclass
carries ``action`` = ``"created" | "updated" | "unchanged" | "in_progress"``, so a Celery step can
call the same method again and again until ``provisioning_state == "Succeeded"``.

The VPN gateway build (20-45+ minutes) is never waited for: :meth:`AzureVpnClient.start_gateway`
sends the PUT and returns; callers re-check with :meth:`AzureVpnClient.get_gateway`.

The modules: ``session`` (the SDK client and the one read / save / delete mechanism), ``errors``
(Azure's refusals in plain words), ``models`` and ``parse`` (our dataclasses from Azure's JSON),
``resources`` (VNets, GatewaySubnet, public IPs, local network gateway, deletes), ``gateway``,
``connection`` and ``bgp`` (BGP reads and the monitor's reading), ``groups`` (the resource group
and VNet s2svpn creates when they are missing, an address space added to a full VNet).
"""

from __future__ import annotations

from s2svpn.clients.azure.bgp import BgpReads
from s2svpn.clients.azure.errors import HINTS, TRANSIENT_CODES, missing_permission, translate
from s2svpn.clients.azure.gateway import Gateways
from s2svpn.clients.azure.groups import GroupsAndVnets, ResourceGroup
from s2svpn.clients.azure.models import (
    BGP_STATES,
    CONNECTION_STATES,
    GATEWAY_SUBNET,
    IPCONFIG_NAMES,
    Connection,
    Gateway,
    LocalGateway,
    PublicIp,
    Subnet,
    VNet,
)
from s2svpn.clients.azure.parse import (
    parse_bgp_peers,
    parse_connection,
    parse_gateway,
    parse_local_gateway,
    parse_policy,
    parse_public_ip,
    parse_routes,
    parse_subnet,
    parse_timespan,
    parse_vnet,
)
from s2svpn.clients.azure.resources import NetworkResources
from s2svpn.clients.azure.session import _StaticToken

__all__ = [
    "BGP_STATES",
    "CONNECTION_STATES",
    "GATEWAY_SUBNET",
    "HINTS",
    "IPCONFIG_NAMES",
    "TRANSIENT_CODES",
    "AzureVpnClient",
    "Connection",
    "Gateway",
    "LocalGateway",
    "PublicIp",
    "ResourceGroup",
    "Subnet",
    "VNet",
    "_StaticToken",
    "missing_permission",
    "parse_bgp_peers",
    "parse_connection",
    "parse_gateway",
    "parse_local_gateway",
    "parse_policy",
    "parse_public_ip",
    "parse_routes",
    "parse_subnet",
    "parse_timespan",
    "parse_vnet",
    "translate",
]


class AzureVpnClient(BgpReads, Gateways, NetworkResources, GroupsAndVnets):
    """The Azure half of a site, one subscription. Thread-safe as the SDK client is."""
