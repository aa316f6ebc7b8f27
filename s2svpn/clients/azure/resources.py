"""The customer's VNets and the simple resources of a site: the GatewaySubnet, the gateway's
public IP(s) and the local network gateway; and the deletes of teardown.

Every ``ensure_*`` reads, compares with the intent, then creates, updates or adopts; a conflicting
resource is refused with a permanent :class:`ClientError` naming the difference.

* Subnets: https://learn.microsoft.com/rest/api/virtualnetwork/subnets
* Public IPs: https://learn.microsoft.com/rest/api/virtualnetwork/public-ip-addresses
* Local network gateways: https://learn.microsoft.com/rest/api/network-gateway/local-network-gateways
"""

from __future__ import annotations

from typing import Any

from s2svpn.clients.azure.models import (
    AZ_ZONES,
    GATEWAY_SUBNET,
    LocalGateway,
    PublicIp,
    Subnet,
    VNet,
    onprem_bgp_ip,
    with_action,
)
from s2svpn.clients.azure.parse import (
    CONNECTIONS,
    GATEWAYS,
    LOCAL_GATEWAYS,
    PUBLIC_IPS,
    SUBNETS,
    VNETS,
    parse_vnet,
    wire,
)
from s2svpn.clients.azure.session import ArmSession, adopted
from s2svpn.clients.errors import ClientError
from s2svpn.intent import SiteIntent


class NetworkResources(ArmSession):
    """VNets, GatewaySubnet, public IPs, local network gateway, and teardown's deletes."""

    # ---- VNets

    def list_vnets(self, resource_group: str | None = None) -> list[VNet]:
        """GET .../virtualNetworks (all, or one resource group), following ``nextLink``."""
        ops = self._sdk.virtual_networks
        if resource_group:
            what = f"listing the virtual networks of {resource_group}"
            pages = lambda: ops.list(resource_group, **self._call)  # noqa: E731
        else:
            what = "listing the subscription's virtual networks"
            pages = lambda: ops.list_all(**self._call)  # noqa: E731
        return self._do(what, lambda: [parse_vnet(wire(v)) for v in pages()])

    def get_vnet(self, resource_group: str, name: str) -> VNet:
        """GET a VNet with its subnets; a missing VNet is a permanent error (fix the names)."""
        vnet = self._get(VNETS, f"virtual network {name}", (resource_group, name))
        if vnet is None:
            raise ClientError(
                f"Virtual network {name} was not found in resource group {resource_group}. Check the resource "
                "group and VNet names in the site settings.",
                permanent=True,
                code="ResourceNotFound",
                status=404,
            )
        return vnet

    # ---- GatewaySubnet

    @staticmethod
    def _subnet_path(intent: SiteIntent) -> tuple[str, ...]:
        return (intent.resource_group, intent.vnet_name, GATEWAY_SUBNET)

    def get_gateway_subnet(self, intent: SiteIntent) -> Subnet | None:
        return self._get(SUBNETS, "the GatewaySubnet", self._subnet_path(intent))

    def ensure_gateway_subnet(self, intent: SiteIntent, *, wait: bool = True) -> Subnet:
        """Create ``GatewaySubnet`` with the intent's prefix, or adopt an identical one.

        An existing GatewaySubnet with another prefix is a permanent conflict: Azure allows one per
        VNet and it cannot be resized while a gateway uses it.
        """
        existing = self.get_gateway_subnet(intent)
        if existing is not None:
            if existing.address_prefix != intent.gateway_subnet_prefix:
                raise ClientError(
                    f"VNet {intent.vnet_name} already has a GatewaySubnet {existing.address_prefix}, but this site "
                    f"wants {intent.gateway_subnet_prefix}. Use {existing.address_prefix} in the site settings, or "
                    "delete the existing GatewaySubnet if nothing uses it.",
                    permanent=True,
                    code="GatewaySubnetConflict",
                )
            return with_action(existing, adopted(existing))
        body = {"properties": {"addressPrefix": intent.gateway_subnet_prefix}}
        path = self._subnet_path(intent)
        return self._save(SUBNETS, "the GatewaySubnet", path, body, action="created", wait=wait)

    # ---- public IPs

    def get_public_ip(self, intent: SiteIntent, name: str) -> PublicIp | None:
        return self._get(PUBLIC_IPS, f"public IP {name}", (intent.resource_group, name))

    def ensure_public_ips(self, intent: SiteIntent, *, wait: bool = True) -> list[PublicIp]:
        """Standard, Static IPv4 public IP(s) for the gateway (two when active-active); zone-redundant
        for the AZ SKUs. Existing IPs are adopted when they match; a Basic/Dynamic or differently
        zoned IP with our name is a permanent conflict (SKU and zones cannot be changed)."""
        zones = list(AZ_ZONES) if intent.sku.endswith("AZ") else []
        out = []
        for name in intent.public_ip_names:
            existing = self.get_public_ip(intent, name)
            if existing is not None:
                _refuse_unusable_public_ip(existing, zones)
                out.append(with_action(existing, adopted(existing)))
                continue
            body: dict[str, Any] = {
                "location": intent.location,
                "sku": {"name": "Standard", "tier": "Regional"},
                "properties": {
                    "publicIPAllocationMethod": "Static",
                    "publicIPAddressVersion": "IPv4",
                },
                "tags": {"s2svpn": intent.slug},
            }
            if zones:
                body["zones"] = zones
            path = (intent.resource_group, name)
            out.append(
                self._save(PUBLIC_IPS, f"public IP {name}", path, body, action="created", wait=wait)
            )
        return out

    # ---- local network gateway

    def local_gateway_body(self, intent: SiteIntent) -> dict[str, Any]:
        """The LNG PUT body (reference section 4.4): FQDN or IP, BGP ASN/peer, optional prefixes."""
        props: dict[str, Any] = {
            "localNetworkAddressSpace": {"addressPrefixes": list(intent.lng_prefixes)},
            "bgpSettings": {"asn": intent.onprem_asn, "bgpPeeringAddress": onprem_bgp_ip(intent)},
        }
        if intent.onprem_public_ip:
            props["gatewayIpAddress"] = intent.onprem_public_ip
        else:
            props["fqdn"] = intent.onprem_fqdn
        return {"location": intent.location, "tags": {"s2svpn": intent.slug}, "properties": props}

    def get_local_gateway(self, intent: SiteIntent) -> LocalGateway | None:
        return self._get(
            LOCAL_GATEWAYS, "the local network gateway", (intent.resource_group, intent.lng_name)
        )

    def ensure_local_gateway(self, intent: SiteIntent, *, wait: bool = True) -> LocalGateway:
        """Create, adopt or update the local network gateway (every field can be updated in place;
        a different location is a permanent conflict)."""
        existing = self.get_local_gateway(intent)
        action = "created"
        if existing is not None:
            if (
                existing.location
                and existing.location.replace(" ", "").lower()
                != intent.location.replace(" ", "").lower()
            ):
                raise ClientError(
                    f"Local network gateway {intent.lng_name} already exists in {existing.location}, not "
                    f"{intent.location}. Delete it or choose the same region.",
                    permanent=True,
                    code="LocalGatewayConflict",
                )
            if existing.provisioning_state == "Updating":
                return with_action(existing, "in_progress")
            want_fqdn = "" if intent.onprem_public_ip else intent.onprem_fqdn
            same = (
                existing.fqdn == want_fqdn
                and existing.gateway_ip == intent.onprem_public_ip
                and tuple(existing.address_prefixes) == tuple(intent.lng_prefixes)
                and existing.bgp_asn == intent.onprem_asn
                and existing.bgp_peering_address == onprem_bgp_ip(intent)
            )
            if same and existing.provisioning_state == "Succeeded":
                return with_action(existing, "unchanged")
            action = "updated"
        path, body = (intent.resource_group, intent.lng_name), self.local_gateway_body(intent)
        return self._save(
            LOCAL_GATEWAYS, "the local network gateway", path, body, action=action, wait=wait
        )

    # ---- deletes: "deleted" | "gone" | "deleting" (re-check until not deleting)

    def delete_connection(self, intent: SiteIntent, *, wait: bool = False) -> str:
        """DELETE the connection: ``"deleted" | "gone" | "deleting"`` (re-check until not deleting)."""
        path = (intent.resource_group, intent.connection_name)
        return self._delete(CONNECTIONS, f"connection {intent.connection_name}", path, wait)

    def delete_local_gateway(self, intent: SiteIntent, *, wait: bool = False) -> str:
        path = (intent.resource_group, intent.lng_name)
        return self._delete(LOCAL_GATEWAYS, f"local network gateway {intent.lng_name}", path, wait)

    def delete_gateway(self, intent: SiteIntent, *, wait: bool = False) -> str:
        path = (intent.resource_group, intent.gateway_name)
        return self._delete(GATEWAYS, f"VPN gateway {intent.gateway_name}", path, wait)

    def delete_public_ips(self, intent: SiteIntent, *, wait: bool = False) -> str:
        """Delete every public IP of the site; ``"deleting"`` while any is still going away."""
        results = [
            self._delete(PUBLIC_IPS, f"public IP {name}", (intent.resource_group, name), wait)
            for name in _all_pip_names(intent)
        ]
        if "deleting" in results:
            return "deleting"
        return "deleted" if "deleted" in results else "gone"

    def delete_public_ips_by_id(self, ids: list[str], *, wait: bool = False) -> str:
        """Delete the public IPs with these ARM ids (those of a gateway s2svpn built for another
        site, read from that gateway before it was deleted); same answers as
        :meth:`delete_public_ips`."""
        results = []
        for pip_id in ids:
            # /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/publicIPAddresses/<name>
            parts = pip_id.strip("/").split("/")
            rg, name = parts[3], parts[-1]
            results.append(self._delete(PUBLIC_IPS, f"public IP {name}", (rg, name), wait))
        if "deleting" in results:
            return "deleting"
        return "deleted" if "deleted" in results else "gone"

    def delete_gateway_subnet(self, intent: SiteIntent, *, wait: bool = False) -> str:
        return self._delete(SUBNETS, "the GatewaySubnet", self._subnet_path(intent), wait)


def _refuse_unusable_public_ip(existing: PublicIp, zones: list[str]) -> None:
    """A public IP with our name that the gateway cannot use (SKU and zones cannot be changed)."""
    problems = []
    if existing.sku != "Standard":
        problems.append(f"SKU {existing.sku} (needs Standard)")
    if existing.allocation != "Static":
        problems.append(f"allocation {existing.allocation} (needs Static)")
    if sorted(existing.zones) != zones:
        problems.append(f"zones {list(existing.zones) or 'none'} (needs {zones or 'none'})")
    if problems:
        raise ClientError(
            f"Public IP {existing.name} already exists with {', '.join(problems)}. These cannot be "
            "changed: delete it in the Azure portal, or pick another site name.",
            permanent=True,
            code="PublicIpConflict",
        )


def _all_pip_names(intent: SiteIntent) -> tuple[str, ...]:
    """Both possible names, so teardown also removes a second IP left from an active-active past."""
    names = list(intent.public_ip_names)
    second = f"s2svpn-{intent.slug}-pip2"
    if second not in names:
        names.append(second)
    return tuple(names)
