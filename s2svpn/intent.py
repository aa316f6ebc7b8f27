"""A site's desired state, in our own words: the wizard's answers, compiled to both ends.

Pure dataclasses (no Django, no SDK). The Azure client, the pfSense client, both sandboxes, the
manual export and the lab renderers all read these; nothing else describes what a site should be.
Names follow Azure's vocabulary for the IPsec policy (``s2svpn.ipsec`` maps it to pfSense and
strongSwan).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

BgpMode = Literal["azure_default", "apipa"]
ConnectionMode = Literal["Default", "ResponderOnly", "InitiatorOnly"]
SelfTraffic = Literal["explain", "lan_source"]


@dataclass(frozen=True)
class IpsecPolicy:
    """One Azure custom IPsec/IKE policy (all eight fields are required by Azure)."""

    ike_encryption: str = "AES256"
    ike_integrity: str = "SHA256"
    dh_group: str = "DHGroup14"
    ipsec_encryption: str = "GCMAES256"
    ipsec_integrity: str = "GCMAES256"
    pfs_group: str = "PFS2048"
    sa_lifetime_seconds: int = 27000
    sa_data_size_kilobytes: int = 102400000


@dataclass(frozen=True)
class SiteIntent:
    """Everything both ends need. Defaults are the canonical scenario of shared/design.md."""

    slug: str = "home"
    # Azure placement
    location: str = "westeurope"
    resource_group: str = "rg-home-s2s"
    vnet_name: str = "vnet-hub"
    vnet_prefixes: tuple[str, ...] = ("172.16.0.0/16",)
    gateway_subnet_prefix: str = "172.16.19.224/27"
    # What s2svpn creates besides the gateway's own resources: the VNet itself (with
    # ``vnet_prefixes``; its resource group too when missing), or one prefix added to an existing
    # VNet that has no free /27 for the GatewaySubnet. Teardown removes only what a run recorded
    # as created (``Site.azure_ids``).
    create_vnet: bool = False
    vnet_added_prefix: str = ""
    # VPN gateway. ``existing_gateway``: the name of a VPN gateway that already serves the VNet
    # (built by s2svpn for another site, or by the user) in ``resource_group``; the site adopts
    # it and adds only its local network gateway and connection, and never changes the gateway;
    # its teardown deletes the gateway (with its public IPs and GatewaySubnet) only when s2svpn
    # built it for a site already torn down and no connection uses it (wizard.shared_steps). Empty: s2svpn builds (and owns)
    # ``s2svpn-<slug>-vpngw`` with its public IP(s). The settings below then follow the adopted
    # gateway (the wizard copies its SKU, ASN and active-active setting).
    existing_gateway: str = ""
    sku: str = "VpnGw1AZ"
    generation: str = "Generation1"
    azure_asn: int = 65515
    active_active: bool = False
    # Which gateway instance a tunnel's pfSense objects belong to (0, or 1 for an active-active
    # gateway's second instance: s2svpn.activeactive.tunnel_intent). Never set by the wizard.
    instance: int = 0
    bgp_mode: BgpMode = "azure_default"
    # APIPA mode only: Azure's custom BGP IP and pfSense's side of the same /30.
    azure_apipa_ip: str = ""
    onprem_apipa_ip: str = ""
    # APIPA + active-active: Azure's custom BGP IP for instance 1, chosen free on the firewall
    # (s2svpn.activeactive.apipa_azure_ips; derived from the first /30 when empty).
    azure_apipa_ip2: str = ""
    # Local network gateway (the home end)
    onprem_fqdn: str = "home-s2s.example.net"
    onprem_public_ip: str = ""  # used instead of the FQDN when set
    onprem_asn: int = 65010
    onprem_bgp_ip: str = "10.0.0.1"  # pfSense LAN address; in APIPA mode the APIPA address
    lng_prefixes: tuple[str, ...] = ()
    # Connection
    connection_mode: ConnectionMode = "ResponderOnly"
    dpd_timeout_seconds: int = 45
    policy: IpsecPolicy = field(default_factory=IpsecPolicy)
    # pfSense
    wan_interface: str = "wan"
    lan_prefixes: tuple[str, ...] = ("10.0.0.0/24", "192.168.2.0/24")
    firewall_scope: Literal["vnet", "any"] = "vnet"
    vti_descr: str = "AZUREVTI"
    # Default BGP mode only: what to do about traffic pfSense itself sends into Azure (its VTI
    # address lies inside the VNet, so replies stay in the VNet). "explain": leave it, the review
    # says why; "lan_source": outbound NAT on the VTI sources it from the LAN address
    # (s2svpn.pfsense_nat). The other fix, APIPA mode, is ``bgp_mode``.
    self_traffic: SelfTraffic = "explain"
    # Phase 1 "My identifier" (pfSense myid_type/myid_data). The default is pfSense's own "My IP
    # address" (behind NAT: the private WAN address), which the seed tunnel showed real Azure
    # accepts. Override per site only when an Azure setup needs another identity, e.g.
    # {"ike_myid_type": "address", "ike_myid_data": "<public IP>"} or "fqdn"/"dyn_dns" with a name.
    ike_myid_type: str = "myaddress"
    ike_myid_data: str = ""
    # NAT router in front of pfSense: are UDP 500/4500 forwarded to pfSense?
    behind_nat: bool = True
    ports_forwarded: bool = False

    # ---- names of the Azure resources s2svpn creates (stable, derived from the slug) ----
    @property
    def gateway_name(self) -> str:
        return self.existing_gateway or f"s2svpn-{self.slug}-vpngw"

    @property
    def owns_gateway(self) -> bool:
        """Did (or will) s2svpn build the VPN gateway, its public IPs and GatewaySubnet for this
        site? False when the site adopted a gateway that already existed."""
        return not self.existing_gateway

    @property
    def public_ip_names(self) -> tuple[str, ...]:
        """The public IPs s2svpn creates for the gateway it builds (none when adopting one)."""
        if not self.owns_gateway:
            return ()
        names = [f"s2svpn-{self.slug}-pip1"]
        if self.active_active:
            names.append(f"s2svpn-{self.slug}-pip2")
        return tuple(names)

    @property
    def lng_name(self) -> str:
        return f"s2svpn-{self.slug}-lng"

    @property
    def connection_name(self) -> str:
        return f"s2svpn-{self.slug}-conn"

    @property
    def descr(self) -> str:
        """Description stamped on every pfSense object s2svpn owns (found again by it)."""
        suffix = f"#{self.instance + 1}" if self.instance else ""
        return f"s2svpn:{self.slug}{suffix}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SiteIntent:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("policy"), dict):
            values["policy"] = IpsecPolicy(**values["policy"])
        for key in ("vnet_prefixes", "lng_prefixes", "lan_prefixes"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


CANONICAL = SiteIntent()
