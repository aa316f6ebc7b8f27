"""BGP addressing: Azure's default BGP address, the APIPA mode, the VTI transit /30, the on-prem
BGP peer and the prefixes pfSense advertises
(https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp,
https://learn.microsoft.com/azure/vpn-gateway/bgp-howto)."""

from __future__ import annotations

from collections.abc import Sequence

from netaddr import AddrFormatError, IPAddress, IPNetwork, IPSet

from s2svpn.intent import SiteIntent
from s2svpn.netplan.addresses import (
    APIPA_RANGE,
    MAX_ADVERTISED_PREFIXES,
    AddressError,
    Transit,
    _ip,
    _net,
    _vnet,
)

# ---------------------------------------------------------------------------------------------
# BGP addressing


def azure_default_bgp_ip(gateway_subnet: str) -> str:
    """Predict Azure's default BGP peer IP: the last usable address of the GatewaySubnet.

    172.16.19.224/27 -> 172.16.19.254 (the broadcast address .255 is reserved). Azure assigns
    it when the gateway is created; read ``bgpSettings.bgpPeeringAddresses`` afterwards and
    prefer that value (https://learn.microsoft.com/azure/vpn-gateway/bgp-howto).
    """
    net = _net(gateway_subnet, "gateway_subnet_prefix", "GatewaySubnet")
    return str(IPAddress(net.last - 1))


def _transit_around(ip: IPAddress, field: str, who: str) -> tuple[IPNetwork, IPAddress]:
    """The /30 containing ``ip`` and its other usable host."""
    net = IPNetwork(f"{ip}/30").cidr
    hosts = [IPAddress(net.first + 1), IPAddress(net.first + 2)]
    if ip not in hosts:
        kind = "network" if ip == IPAddress(net.first) else "broadcast"
        raise AddressError(
            f"{who} {ip} is the {kind} address of its /30 ({net}), so no VTI /30 can hold it; "
            f"use a host address such as {hosts[0]} or {hosts[1]}.",
            field,
        )
    other = hosts[1] if ip == hosts[0] else hosts[0]
    return net, other


def transit_for_azure_default(azure_bgp_ip: str) -> Transit:
    """The pfSense VTI /30 around Azure's default BGP IP.

    Azure 172.16.19.254 -> 172.16.19.252/30 with pfSense on 172.16.19.253 (reference/pfsense.md
    section 4.3). The pfSense address usually lies inside the GatewaySubnet (pfsense.md section 9
    item 14): Azure never uses it, and pfSense reaches Azure's BGP IP over the VTI. APIPA mode
    avoids this overlap altogether.
    """
    ip = _ip(azure_bgp_ip, "gateway_subnet_prefix", "Azure BGP IP")
    net, other = _transit_around(ip, "gateway_subnet_prefix", "Azure's BGP IP")
    return Transit(network=str(net), pfsense_ip=str(other), azure_ip=str(ip))


def _apipa_ip(text: str, field: str, who: str) -> IPAddress:
    ip = _ip(text, field, who)
    if ip not in APIPA_RANGE:
        raise AddressError(
            f"{who} {ip} is outside Azure's APIPA range 169.254.21.0-169.254.22.255; pick an "
            "address in that range, such as 169.254.21.2.",
            field,
        )
    return ip


def transit_for_apipa(
    azure_ip: str | None = None, pfsense_ip: str | None = None, taken: Sequence[str] = ()
) -> Transit:
    """Choose or validate the APIPA transit /30 (Azure custom BGP IP + pfSense's side).

    Convention (as in reference/pfsense.md section 9 item 14): in each /30 pfSense takes the
    first host and Azure the second - 169.254.21.0/30 gives pfSense 169.254.21.1 and Azure
    169.254.21.2, mirroring the default mode (pfSense .253, Azure .254). With no addresses given
    the first /30 of 169.254.21.0-169.254.22.255 that touches nothing in ``taken`` (addresses or
    CIDRs used by other connections) is chosen; with one address the /30 around it is used; with
    both, they must be the two hosts of one /30. Both ends must be in Azure's APIPA range
    (https://learn.microsoft.com/azure/vpn-gateway/bgp-howto).
    """
    used = IPSet()
    for item in taken:
        try:
            used.add(IPNetwork(str(item).strip()))
        except (AddrFormatError, ValueError, TypeError):
            raise AddressError(
                f"Taken address {item!r} is unreadable; list addresses like 169.254.21.1.",
                "azure_apipa_ip",
            ) from None

    if azure_ip is None and pfsense_ip is None:
        for cidr in APIPA_RANGE.iter_cidrs():
            for net in cidr.subnet(30):
                if not (IPSet([net]) & used):
                    return Transit(
                        str(net), str(IPAddress(net.first + 1)), str(IPAddress(net.first + 2))
                    )
        raise AddressError(
            "Every /30 of 169.254.21.0-169.254.22.255 is already used by another connection; "
            "free one or use the Azure default BGP IP mode.",
            "azure_apipa_ip",
        )

    azure = _apipa_ip(azure_ip, "azure_apipa_ip", "Azure APIPA BGP IP") if azure_ip else None
    pfs = _apipa_ip(pfsense_ip, "onprem_apipa_ip", "pfSense APIPA address") if pfsense_ip else None
    if azure is not None:
        net, other = _transit_around(azure, "azure_apipa_ip", "Azure APIPA BGP IP")
    else:
        assert pfs is not None
        net, other = _transit_around(pfs, "onprem_apipa_ip", "pfSense APIPA address")
    if azure is not None and pfs is not None:
        if azure == pfs:
            raise AddressError(
                f"Azure and pfSense both use {azure}; the two ends of the VTI need the two "
                f"different hosts of one /30, e.g. pfSense {IPAddress(net.first + 1)} and Azure "
                f"{IPAddress(net.first + 2)}.",
                "onprem_apipa_ip",
            )
        if pfs != other:
            raise AddressError(
                f"pfSense APIPA address {pfs} is not in the same /30 as Azure's {azure} ({net}); "
                f"use {other}.",
                "onprem_apipa_ip",
            )
    azure = azure if azure is not None else other
    pfs = pfs if pfs is not None else other
    for ip, field, who in ((azure, "azure_apipa_ip", "Azure"), (pfs, "onprem_apipa_ip", "pfSense")):
        if ip in used:
            raise AddressError(
                f"{who}'s APIPA address {ip} is already used by another connection; APIPA "
                "addresses must be unique per gateway - pick another /30.",
                field,
            )
    return Transit(network=str(net), pfsense_ip=str(pfs), azure_ip=str(azure))


_NOT_A_PEER = (
    (IPNetwork("0.0.0.0/8"), "is in 0.0.0.0/8 ('this network')"),
    (IPNetwork("127.0.0.0/8"), "is a host loopback (127.0.0.0/8) that never leaves pfSense"),
    (IPNetwork("224.0.0.0/4"), "is a multicast address"),
    (IPNetwork("240.0.0.0/4"), "is in the reserved 240.0.0.0/4 block"),
)


def validate_onprem_bgp_ip(
    ip: str, vnet_prefixes: Sequence[str], public_ip: str | None = None
) -> str:
    """Check the on-prem (pfSense) BGP peer IP that goes into the local network gateway.

    It must not lie in the VNet and must differ from the public IP
    (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp); the pfSense LAN
    address (10.0.0.1) or an APIPA address (then Azure needs APIPA too) are typical.
    """
    field = "onprem_bgp_ip"
    addr = _ip(ip, field, "On-prem BGP peer IP")
    for block, why in _NOT_A_PEER:
        if addr in block:
            raise AddressError(
                f"On-prem BGP peer IP {addr} {why}; use pfSense's LAN address (e.g. 10.0.0.1).",
                field,
            )
    for vnet in _vnet(vnet_prefixes):
        if addr in vnet:
            raise AddressError(
                f"On-prem BGP peer IP {addr} lies inside the VNet address space {vnet}; Azure "
                "would route it into the VNet. Use an address of your home network, such as "
                "pfSense's LAN address.",
                field,
            )
    if public_ip and str(public_ip).strip() == str(addr):
        raise AddressError(
            f"On-prem BGP peer IP {addr} is the site's public IP; Azure requires the BGP peer to "
            "differ from it. Use pfSense's LAN address instead.",
            field,
        )
    return str(addr)


def validate_advertised_prefixes(
    prefixes: Sequence[str], vnet_prefixes: Sequence[str]
) -> list[str]:
    """Check the prefixes pfSense advertises to Azure; return them normalised.

    Each must be an IPv4 CIDR without host bits, listed once, and must not overlap the VNet
    (Azure refuses on-prem prefixes inside or around its own space). At most 4,000: Azure drops
    the session beyond that (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp).
    """
    field = "lan_prefixes"
    if len(prefixes) > MAX_ADVERTISED_PREFIXES:
        raise AddressError(
            f"pfSense would advertise {len(prefixes)} prefixes; Azure accepts at most "
            f"{MAX_ADVERTISED_PREFIXES} and drops the BGP session beyond that. Summarise them.",
            field,
        )
    vnets = _vnet(vnet_prefixes)
    out: list[str] = []
    seen: set[IPNetwork] = set()
    for text in prefixes:
        net = _net(text, field, "Advertised prefix")
        if net in seen:
            raise AddressError(f"Advertised prefix {net} is listed twice; remove one.", field)
        seen.add(net)
        for vnet in vnets:
            if net.first <= vnet.last and vnet.first <= net.last:
                raise AddressError(
                    f"Advertised prefix {net} overlaps the VNet address space {vnet}; Azure "
                    "would have two routes for the same addresses. Renumber the home network or "
                    "advertise only prefixes outside the VNet.",
                    field,
                )
        out.append(str(net))
    return out


def transit_for(intent: SiteIntent, azure_bgp_ip: str | None = None) -> Transit | None:
    """The VTI /30 for a site.

    ``azure_default`` mode needs Azure's BGP IP (known once the gateway exists; pass
    ``azure_default_bgp_ip(intent.gateway_subnet_prefix)`` for a prediction) and returns None
    without it. ``apipa`` mode is fully known up front from ``intent.azure_apipa_ip`` and
    ``intent.onprem_apipa_ip`` (empty values are chosen by :func:`transit_for_apipa`).
    """
    if intent.bgp_mode == "apipa":
        return transit_for_apipa(intent.azure_apipa_ip or None, intent.onprem_apipa_ip or None)
    if not azure_bgp_ip:
        return None
    return transit_for_azure_default(azure_bgp_ip)
