"""Active-active: the two gateway instances, their BGP addresses and the two pfSense tunnels.

Pure (netaddr, no Django). An active-active Azure VPN gateway runs two instances, each with its
own public IP and its own BGP address; both build a tunnel to the same on-prem device through the
one connection. pfSense therefore needs one phase 1 per Azure public IP, one VTI per instance and
one BGP neighbour per instance (reference/pfsense.md gotcha 17).

Facts this module builds on, with their sources:

* Azure's default BGP addresses of an active-active gateway sit at the *bottom* of the
  GatewaySubnet, one per instance, in the order of the gateway's ipConfigurations: Microsoft's
  PowerShell walk-through (MicrosoftDocs/azure-docs articles/vpn-gateway/
  vpn-gateway-activeactive-rm-powershell.md, "Obtain the gateway public IP addresses and the BGP
  Peer IP address") shows ``"BgpPeeringAddress": "10.12.255.4,10.12.255.5"`` for the
  GatewaySubnet 10.12.255.0/27 and says the order of public IPs and BGP addresses is the same;
  Terraform's active-active acceptance test (hashicorp/terraform-provider-azurerm #1040) read
  ``10.0.1.4,10.0.1.5`` back for 10.0.1.0/24. The first four addresses of every Azure subnet are
  reserved, so the instances get the 5th and 6th (network + 4, network + 5). The issue quotes
  ``10.41.255.4,10.41.255.5`` for 10.41.255.0/27; the revision we could read uses 10.12.255.x,
  the same offsets.
* An active-standby gateway's one default BGP address is the last usable address (spec example
  VirtualNetworkGatewayGet.json: ``bgpPeeringAddress`` 10.0.1.30 for a /27; azure.md section 4.3).
* The structured form is ``bgpSettings.bgpPeeringAddresses[]``: one entry per ipConfiguration
  with ``ipconfigurationId``, ``defaultBgpIpAddresses`` (read-only), ``customBgpIpAddresses``
  (APIPA 169.254.21.0-169.254.22.255) and ``tunnelIpAddresses`` (the instance's public IP) -
  spec examples VirtualNetworkGatewayGet.json / VirtualNetworkGatewayUpdate.json (2026-03-01).
* Custom APIPA per instance: ``customBgpIpAddresses`` per ipConfiguration on the gateway, and the
  connection picks one per ipConfiguration in ``gatewayCustomBgpIpAddresses[]`` - spec example
  VirtualNetworkGatewayConnectionCreate.json lists 169.254.21.1 for ``ipConfigurations/default``
  and 169.254.21.3 for ``ipConfigurations/ActiveActive``.
* BGP status: ``getBgpPeerStatus`` answers ``BgpPeerStatus`` rows whose ``localAddress`` is "the
  virtual network gateway's local address" (network spec, BgpPeerStatus); with two instances
  there is one row per instance and neighbour, told apart by ``localAddress``. (The spec's
  example body is empty; one row per instance is our reading of the schema, not a recorded
  answer.)

Transit addressing (default BGP mode). pfSense builds a VTI as a point-to-point interface:
``interface_ipsec_vti_configure()`` (pfsense/pfsense RELENG_2_7_2, src/etc/inc/interfaces.inc)
runs ``ifconfig ipsecN inet <local>/<bits> <remote>`` with ``<local>/<bits>`` from
``ipsec_idinfo_to_cidr()`` (src/etc/inc/ipsec.inc: an ``address`` local id becomes /30, a
``network`` local id keeps its own netbits) and ``<remote>`` the bare remote address. The peer
of a point-to-point interface is reached through a host route whatever the netmask, and the phase 2
page (vpn_ipsec_phase2.php) only requires a valid address and an integer bit count for VTI. So a
/30 is a convention, not a requirement: Azure's instance 0 address (network + 4) is the network
address of its own /30, which is why the /30 design cannot hold it. s2svpn gives each tunnel a
**/32 point-to-point** pair instead: pfSense's local address is taken from the *top* of the
GatewaySubnet (last usable, then the one below), which Azure's active-active instances (bottom of
the subnet) do not use, and the remote is the instance's real BGP address. BGP itself is sourced
from pfSense's LAN address with multihop, as in active-standby, so the two sessions are
symmetrical. (A /31 would also work on FreeBSD, but /32 needs no pairing rule at all.)

APIPA mode: instance 0 keeps the site's /30 (pfSense .1, Azure .2). Instance 1 gets Azure's next
custom address from the next free /30 (Azure takes its second host, e.g. 169.254.21.6); pfSense's
VTI for it uses its *same* APIPA address (the local network gateway has one BGP address, which
both instances peer with) as a /32 towards 169.254.21.6, so each BGP session is on a connected
point-to-point peer and needs no multihop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from netaddr import IPAddress, IPNetwork

from s2svpn.intent import SiteIntent
from s2svpn.netplan import Transit, transit_for, transit_for_apipa

INSTANCES = 2
# BGP timers on an active-active site's two neighbours. With both instances up, a stopped
# instance's routes go when its session's hold timer runs out (Azure has no BFD; a planned
# maintenance may close the session earlier). BGP uses the smaller of the two hold times offered
# (RFC 4271 section 4.2), so keepalive 10 / hold 30 on pfSense bounds failover to 30 s against
# Azure's fixed 60 / 180; three keepalives per hold time keeps one or two lost packets on the
# internet path from dropping a healthy session. (Not verified against real Azure; the lab's
# Azure stand-in is FRR with 60 / 180.)
KEEPALIVE_SECONDS = 10
HOLD_SECONDS = 30
FIRST_INSTANCE_OFFSET = 4  # Azure reserves network+0..3 in every subnet
IPCONFIG_NAMES = ("default", "activeActive")  # Azure's default names (azure.md, NAT FAQ)


@dataclass(frozen=True)
class Tunnel:
    """One instance's tunnel as both ends see it."""

    index: int  # 0 = ipConfiguration "default", 1 = "activeActive"
    azure_public_ip: str
    azure_bgp_ip: str  # the address pfSense's BGP neighbour points at
    transit: Transit | None  # pfSense VTI local address and its point-to-point peer
    intent: SiteIntent  # the site as this tunnel's pfSense objects are named

    @property
    def label(self) -> str:
        return f"instance {self.index} ({self.azure_public_ip or 'public IP not known yet'})"


def instance_count(intent: SiteIntent) -> int:
    return INSTANCES if intent.active_active else 1


def predicted_default_bgp_ips(gateway_subnet: str, active_active: bool) -> tuple[str, ...]:
    """Azure's default BGP addresses before the gateway exists (read the gateway afterwards)."""
    net = IPNetwork(gateway_subnet)
    if not active_active:
        return (str(IPAddress(net.last - 1)),)
    return tuple(str(IPAddress(net.first + FIRST_INSTANCE_OFFSET + i)) for i in range(INSTANCES))


def tunnel_intent(intent: SiteIntent, index: int) -> SiteIntent:
    """The site as tunnel ``index``'s pfSense objects are named: instance 0 keeps the site's own
    names (an active-standby site converted to active-active keeps its tunnel); instance 1 gets
    ``s2svpn:<slug>#2`` and the VTI name with a 2."""
    if index == 0:
        return intent
    return replace(intent, instance=index, vti_descr=f"{intent.vti_descr[:21]}{index + 1}")


def vti_names(intent: SiteIntent) -> tuple[str, ...]:
    """The VTI interface name of every tunnel of the site."""
    return tuple(tunnel_intent(intent, i).vti_descr for i in range(instance_count(intent)))


def apipa_azure_ips(intent: SiteIntent) -> tuple[str, ...]:
    """Azure's custom APIPA BGP address per instance (APIPA mode only): instance 1's is the one
    the wizard chose free on the firewall (``azure_apipa_ip2``), else the next /30's."""
    first = transit_for(intent)
    if first is None:
        return ()
    if not intent.active_active:
        return (first.azure_ip,)
    return (first.azure_ip, intent.azure_apipa_ip2 or second_apipa(first.network).azure_ip)


def second_apipa(first_network: str, taken: list[str] | tuple[str, ...] = ()) -> Transit:
    """Instance 1's APIPA /30: the first free one that touches neither the site's own /30 nor
    ``taken`` (other sites' addresses on the same firewall). Azure takes its second host."""
    return transit_for_apipa(taken=[first_network, *taken])


def _top_of_subnet(gateway_subnet: str, index: int, avoid: set[str]) -> str:
    net = IPNetwork(gateway_subnet)
    candidate = net.last - 1 - index
    while str(IPAddress(candidate)) in avoid:
        candidate -= 1
    return str(IPAddress(candidate))


def transit(
    intent: SiteIntent, index: int, azure_bgp_ip: str | None, azure_ips: tuple[str, ...] = ()
) -> Transit | None:
    """Tunnel ``index``'s VTI pair (see the module docstring for the design); ``None`` in default
    BGP mode while Azure's address is not known."""
    if not intent.active_active:
        return transit_for(intent, azure_bgp_ip)
    if intent.bgp_mode == "apipa":
        first = transit_for(intent)
        assert first is not None
        if index == 0:
            return first
        if not azure_bgp_ip:
            return None
        return Transit(
            network=f"{first.pfsense_ip}/32", pfsense_ip=first.pfsense_ip, azure_ip=azure_bgp_ip
        )
    if not azure_bgp_ip:
        return None
    avoid = set(azure_ips) | {azure_bgp_ip}
    local = _top_of_subnet(intent.gateway_subnet_prefix, index, avoid)
    return Transit(network=f"{local}/32", pfsense_ip=local, azure_ip=azure_bgp_ip)


def tunnels(
    intent: SiteIntent,
    public_ips: list[str] | tuple[str, ...],
    bgp_ips: list[str] | tuple[str, ...] = (),
) -> list[Tunnel]:
    """Both ends of every tunnel. ``bgp_ips`` are the addresses Azure reports per instance
    (custom APIPA ones in APIPA mode); missing ones are predicted."""
    count = instance_count(intent)
    if intent.bgp_mode == "apipa":
        wanted = apipa_azure_ips(intent)
    else:
        wanted = tuple(bgp_ips) or predicted_default_bgp_ips(
            intent.gateway_subnet_prefix, intent.active_active
        )
    out = []
    for index in range(count):
        pip = public_ips[index] if index < len(public_ips) else ""
        bgp = wanted[index] if index < len(wanted) else ""
        out.append(
            Tunnel(
                index=index,
                azure_public_ip=pip,
                azure_bgp_ip=bgp,
                transit=transit(intent, index, bgp, tuple(wanted)),
                intent=tunnel_intent(intent, index),
            )
        )
    return out
