"""The VPN gateway: its PUT body, what differs from the intent (in place or not), a build started
and never waited for (20-45+ minutes on Azure), and reset.

VPN gateways: https://learn.microsoft.com/rest/api/network-gateway/virtual-network-gateways
"""

from __future__ import annotations

import logging
from typing import Any

from s2svpn.clients.azure.models import (
    IPCONFIG_NAMES,
    Connection,
    Gateway,
    PublicIp,
    custom_bgp_ips,
    custom_bgp_pairs,
    with_action,
)
from s2svpn.clients.azure.parse import (
    GATEWAYS,
    PUBLIC_IPS,
    parse_connection,
    parse_gateway,
    wire,
)
from s2svpn.clients.azure.session import ArmSession
from s2svpn.clients.errors import ClientError
from s2svpn.intent import SiteIntent

log = logging.getLogger("s2svpn.clients.azure")


class Gateways(ArmSession):
    """The VPN gateway. :meth:`start_gateway` sends the PUT and returns; callers re-check with
    :meth:`get_gateway` until ``provisioning_state == "Succeeded"``."""

    def gateway_body(
        self, intent: SiteIntent, subnet_id: str, public_ip_ids: list[str] | tuple[str, ...]
    ) -> dict[str, Any]:
        """The gateway PUT body (reference section 4.3)."""
        gw_id = (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{intent.resource_group}"
            f"/providers/Microsoft.Network/virtualNetworkGateways/{intent.gateway_name}"
        )
        wanted = 2 if intent.active_active else 1
        if len(public_ip_ids) != wanted:
            raise ClientError(
                f"The gateway needs {wanted} public IP(s) ({'active-active' if intent.active_active else 'active-standby'}), "
                f"got {len(public_ip_ids)}. Run the public IP step first.",
                permanent=True,
                code="PublicIpCountMismatch",
            )
        ipcs = [
            {
                "name": IPCONFIG_NAMES[i],
                "properties": {
                    "privateIPAllocationMethod": "Dynamic",
                    "subnet": {"id": subnet_id},
                    "publicIPAddress": {"id": pip_id},
                },
            }
            for i, pip_id in enumerate(public_ip_ids)
        ]
        bgp: dict[str, Any] = {"asn": intent.azure_asn}
        if custom_bgp_ips(intent):
            bgp["bgpPeeringAddresses"] = [
                {"ipconfigurationId": ipc_id, "customBgpIpAddresses": [ip]}
                for ipc_id, ip in custom_bgp_pairs(intent, gw_id)
            ]
        return {
            "location": intent.location,
            "tags": {"s2svpn": intent.slug},
            "properties": {
                "gatewayType": "Vpn",
                "vpnType": "RouteBased",
                "vpnGatewayGeneration": intent.generation,
                "sku": {"name": intent.sku, "tier": intent.sku},
                "activeActive": intent.active_active,
                "enableBgp": True,
                "bgpSettings": bgp,
                "ipConfigurations": ipcs,
            },
        }

    def _gateway_differences(
        self, gw: Gateway, intent: SiteIntent, subnet_id: str, pip_ids: list[str]
    ) -> tuple[list[str], list[str]]:
        """(changes Azure can apply in place, conflicts that need delete/recreate)."""
        conflicts, changes = [], []
        if gw.gateway_type and gw.gateway_type != "Vpn":
            conflicts.append(f"gateway type {gw.gateway_type} (wanted Vpn)")
        if gw.vpn_type != "RouteBased":
            conflicts.append(f"VPN type {gw.vpn_type} (wanted RouteBased)")
        if gw.generation and gw.generation not in ("None", intent.generation):
            conflicts.append(f"generation {gw.generation} (wanted {intent.generation})")
        if gw.sku != intent.sku:
            if gw.sku.endswith("AZ") != intent.sku.endswith("AZ") or "Basic" in (
                gw.sku,
                intent.sku,
            ):
                conflicts.append(
                    f"SKU {gw.sku} (wanted {intent.sku}; resizing across SKU families is not possible)"
                )
            else:
                changes.append(f"SKU {gw.sku} -> {intent.sku}")
        if gw.subnet_id.lower() != subnet_id.lower():
            conflicts.append(f"subnet {gw.subnet_id} (wanted {subnet_id})")
        if [p.lower() for p in gw.public_ip_ids] != [p.lower() for p in pip_ids]:
            changes.append("public IPs / active-active setting")
        if gw.active_active != intent.active_active:
            changes.append(f"active-active {gw.active_active} -> {intent.active_active}")
        if not gw.enable_bgp:
            changes.append("enable BGP")
        if gw.asn != intent.azure_asn:
            changes.append(f"ASN {gw.asn} -> {intent.azure_asn}")
        want_custom = custom_bgp_ips(intent)
        if tuple(gw.custom_bgp_ips) != want_custom:
            changes.append(f"custom BGP IPs {list(gw.custom_bgp_ips)} -> {list(want_custom)}")
        return changes, conflicts

    def get_gateway(self, intent: SiteIntent) -> Gateway | None:
        """GET the gateway (provisioning state, BGP IPs, public IPs); ``None`` when absent."""
        return self._get(GATEWAYS, "the VPN gateway", (intent.resource_group, intent.gateway_name))

    def gateway_connections(self, intent: SiteIntent) -> list[Connection]:
        """Every connection that uses the gateway, whoever made it (other s2svpn sites, the
        user's own): GET .../virtualNetworkGateways/{gw}/connections (the SDK's
        ``virtual_network_gateways.list_connections``, operation
        VirtualNetworkGateways_ListConnections in Azure/azure-rest-api-specs
        specification/network/resource-manager/Microsoft.Network/stable/*/virtualNetworkGateway.json),
        following ``nextLink``. An absent gateway has none."""
        if self.get_gateway(intent) is None:
            return []
        ops = self._sdk.virtual_network_gateways
        rg, name = intent.resource_group, intent.gateway_name
        return self._do(
            f"listing the connections of VPN gateway {name}",
            lambda: [
                parse_connection(wire(c)) for c in ops.list_connections(rg, name, **self._call)
            ],
        )

    def gateway_public_ips(self, gateway: Gateway) -> list[PublicIp]:
        """The gateway's public IP(s) in ipConfiguration order, read by their ids (an adopted
        gateway's IPs have names of their own)."""
        out = []
        for pip_id in gateway.public_ip_ids:
            parts = pip_id.strip("/").split("/")
            # /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/publicIPAddresses/<name>
            rg, name = parts[3], parts[-1]
            found = self._get(PUBLIC_IPS, f"public IP {name}", (rg, name))
            if found is None:
                raise ClientError(
                    f"Public IP {name} of VPN gateway {gateway.name} was not found; check the "
                    "gateway in the Azure portal.",
                    permanent=True,
                    code="ResourceNotFound",
                )
            out.append(found)
        return out

    def start_gateway(
        self, intent: SiteIntent, subnet_id: str, public_ip_ids: list[str] | tuple[str, ...]
    ) -> Gateway:
        """Start creating (or updating) the VPN gateway and return at once; never waits for the build.

        Idempotent: an existing gateway that is ``Updating`` is returned as is (``in_progress``);
        one that matches the intent and ``Succeeded`` is ``unchanged`` (no PUT is sent); one that
        ``Failed`` or differs in an updatable setting is PUT again (``updated``); a difference Azure
        cannot apply in place is a permanent error.
        """
        pip_ids = list(public_ip_ids)
        existing = self.get_gateway(intent)
        action = "created"
        if existing is not None:
            if existing.provisioning_state in ("Updating", "Creating"):
                return with_action(existing, "in_progress")
            if existing.provisioning_state == "Deleting":
                raise ClientError(
                    f"VPN gateway {intent.gateway_name} is being deleted; s2svpn will create it again once the "
                    "deletion has finished.",
                    permanent=False,
                    code="ResourceBeingDeleted",
                )
            changes, conflicts = self._gateway_differences(existing, intent, subnet_id, pip_ids)
            if conflicts:
                raise ClientError(
                    f"VPN gateway {intent.gateway_name} already exists with {'; '.join(conflicts)}. Azure cannot "
                    "change this in place: delete the gateway (teardown) and provision again, or adjust the site.",
                    permanent=True,
                    code="GatewayConflict",
                )
            if not changes and existing.provisioning_state == "Succeeded":
                return with_action(existing, "unchanged")
            action = "updated"
        gw = self._save(
            GATEWAYS,
            "the VPN gateway (starting its build)",
            (intent.resource_group, intent.gateway_name),
            self.gateway_body(intent, subnet_id, pip_ids),
            action=action,
            wait=False,
        )
        log.info(
            "VPN gateway %s: %s (provisioningState %s)",
            intent.gateway_name,
            action,
            getattr(gw, "provisioning_state", "?"),
        )
        return gw

    def reset_gateway(
        self, intent: SiteIntent, *, gateway_vip: str | None = None, wait: bool = False
    ) -> Gateway | None:
        """POST .../reset (forces the FQDN local gateway to be resolved again); non-blocking by default."""
        kwargs: dict[str, Any] = {"gateway_vip": gateway_vip} if gateway_vip else {}
        answer = self._lro(
            "resetting the VPN gateway",
            self._sdk.virtual_network_gateways.begin_reset,
            intent.resource_group,
            intent.gateway_name,
            wait=wait,
            **kwargs,
        )
        return parse_gateway(answer) if answer is not None else None
