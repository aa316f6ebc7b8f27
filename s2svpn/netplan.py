"""Address planning for one site: GatewaySubnet, BGP addressing, the VTI transit /30, prefixes.

Pure (netaddr, no Django). Every refusal is an :class:`AddressError` whose ``field`` names the
:class:`~s2svpn.intent.SiteIntent` field at fault and whose message says what is wrong and how to
fix it.

Vendor references:

* GatewaySubnet size and name:
  https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings#gwsub
* BGP addresses, APIPA range 169.254.21.0-169.254.22.255, on-prem BGP peer rules, 4,000 prefixes:
  https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp
  https://learn.microsoft.com/azure/vpn-gateway/bgp-howto
* pfSense VTI (a /30 is assumed for IPv4): reference/pfsense.md section 4.3 and section 9 item 14.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netaddr import AddrFormatError, IPAddress, IPNetwork, IPSet

from s2svpn.errors import InputError
from s2svpn.intent import SiteIntent

GATEWAY_SUBNET_NAME = "GatewaySubnet"
APIPA_RANGE = IPSet(["169.254.21.0/24", "169.254.22.0/24"])
"""Where Azure accepts custom (APIPA) BGP addresses: 169.254.21.0 - 169.254.22.255."""
APIPA_FIRST_TRANSIT = "169.254.21.0/30"
LINK_LOCAL = IPNetwork("169.254.0.0/16")
MAX_ADVERTISED_PREFIXES = 4000
"""Azure drops the BGP session when a peer advertises more than 4,000 prefixes."""


class AddressError(InputError):
    """An address that cannot work. ``field`` is the SiteIntent field it belongs to."""


@dataclass(frozen=True)
class Transit:
    """The VTI /30 between pfSense and Azure's BGP address."""

    network: str  # "172.16.19.252/30"
    pfsense_ip: str  # "172.16.19.253"
    azure_ip: str  # "172.16.19.254"


# ---------------------------------------------------------------------------------------------
# parsing helpers


def _net(text: str, field: str, what: str) -> IPNetwork:
    """Parse an IPv4 CIDR, refusing host bits (Azure rejects them too)."""
    raw = str(text).strip()
    if "/" not in raw:
        raise AddressError(
            f"{what} {raw!r} has no prefix length; write it as a CIDR such as 10.0.0.0/24.", field
        )
    try:
        net = IPNetwork(raw)
    except (AddrFormatError, ValueError, TypeError):
        raise AddressError(
            f"{what} {raw!r} is not a valid IPv4 CIDR; write it like 10.0.0.0/24.", field
        ) from None
    if net.version != 4:
        raise AddressError(
            f"{what} {raw} is IPv6; Azure site-to-site BGP here is IPv4 only, use an IPv4 CIDR.",
            field,
        )
    if net.ip != net.network:
        raise AddressError(
            f"{what} {raw} has host bits set; for a /{net.prefixlen} the prefix is {net.cidr}.",
            field,
        )
    return net


def _ip(text: str, field: str, what: str) -> IPAddress:
    raw = str(text).strip()
    try:
        ip = IPAddress(raw)
    except (AddrFormatError, ValueError, TypeError):
        raise AddressError(
            f"{what} {raw!r} is not an IPv4 address; write it like 10.0.0.1.", field
        ) from None
    if ip.version != 4:
        raise AddressError(f"{what} {raw} is IPv6; use an IPv4 address.", field)
    return ip


def _vnet(vnet_prefixes: Sequence[str]) -> list[IPNetwork]:
    if not vnet_prefixes:
        raise AddressError(
            "The virtual network has no address space; add at least one prefix such as "
            "172.16.0.0/16.",
            "vnet_prefixes",
        )
    return [_net(p, "vnet_prefixes", "VNet address space") for p in vnet_prefixes]


def _subnets(other_subnets: Sequence[tuple[str, str]]) -> list[tuple[str, IPNetwork]]:
    out = []
    for name, prefix in other_subnets:
        try:
            out.append((name, IPNetwork(str(prefix).strip()).cidr))
        except (AddrFormatError, ValueError, TypeError):
            raise AddressError(
                f"Existing subnet {name!r} has an unreadable prefix {prefix!r}; fix it in Azure first.",
                "gateway_subnet_prefix",
            ) from None
    return out


# ---------------------------------------------------------------------------------------------
# GatewaySubnet


def _min_prefixlen_for(sku: str) -> int:
    return 29 if sku == "Basic" else 27


def validate_gateway_subnet(
    prefix: str,
    vnet_prefixes: Sequence[str],
    other_subnets: Sequence[tuple[str, str]] = (),
    sku: str = "VpnGw1AZ",
    name: str = GATEWAY_SUBNET_NAME,
) -> str:
    """Return the normalised GatewaySubnet CIDR or raise :class:`AddressError`.

    Rules (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings#gwsub):
    the name is exactly ``GatewaySubnet``; ``/27`` or larger for every VpnGw SKU (``/29`` only for
    Basic); entirely inside one VNet prefix; no overlap with the VNet's other subnets.
    ``other_subnets`` are ``(name, prefix)`` pairs as read from Azure; an existing subnet called
    GatewaySubnet with the same prefix is accepted (it is adopted, not created again).
    """
    field = "gateway_subnet_prefix"
    if name != GATEWAY_SUBNET_NAME:
        raise AddressError(
            f"The gateway subnet is called {name!r}; Azure only deploys a VPN gateway into a "
            f"subnet named exactly {GATEWAY_SUBNET_NAME!r} (case-sensitive). Rename it.",
            "gateway_subnet_name",
        )
    net = _net(prefix, field, "GatewaySubnet")
    smallest = _min_prefixlen_for(sku)
    if net.prefixlen > smallest:
        if sku == "Basic":
            hint = "the Basic SKU needs at least a /29"
        else:
            hint = f"{sku} needs a /27 or larger (only the legacy Basic SKU works with /28-/29)"
        raise AddressError(
            f"GatewaySubnet {net} is a /{net.prefixlen}; {hint}. Use a /{smallest} such as "
            f"{IPNetwork(f'{net.network}/{smallest}').cidr}.",
            field,
        )
    vnets = _vnet(vnet_prefixes)
    if not any(net in v for v in vnets):
        where = ", ".join(str(v) for v in vnets)
        raise AddressError(
            f"GatewaySubnet {net} is not inside the VNet address space ({where}); pick a free "
            "range inside it or add an address space to the VNet first.",
            field,
        )
    for other_name, other in _subnets(other_subnets):
        if other_name == GATEWAY_SUBNET_NAME:
            if other == net:
                continue
            raise AddressError(
                f"The VNet already has a GatewaySubnet ({other}); a VNet has only one. Use "
                f"{other}, or delete the existing one if nothing is deployed in it.",
                field,
            )
        if net.first <= other.last and other.first <= net.last:
            raise AddressError(
                f"GatewaySubnet {net} overlaps the existing subnet {other_name!r} ({other}); "
                "choose a free range of the VNet.",
                field,
            )
    return str(net)


def propose_gateway_subnet(
    vnet_prefixes: Sequence[str],
    other_subnets: Sequence[tuple[str, str]] = (),
    prefixlen: int = 27,
    near: str | None = None,
) -> str | None:
    """Propose a free GatewaySubnet of ``/prefixlen`` (default /27), or None when nothing fits.

    * If the VNet already has a subnet named GatewaySubnet, that one is returned (one per VNet).
    * Otherwise, when ``near`` is given, the free block right below ``near`` is proposed. When
      ``near`` is not given but the VNet has subnets, every existing subnet acts as a hint: the
      highest free block directly below one of them wins. This keeps the gateway next to the
      workload - the canonical VNet 172.16.0.0/16 with 172.16.20.0/24 gets 172.16.19.224/27,
      the layout the Azure portal examples use.
    * Without subnets (or when no adjacent block is free), the highest free block of the address
      space is proposed (172.16.255.224/27 for an empty 172.16.0.0/16).

    The result always lies inside the VNet, overlaps no subnet and passes
    :func:`validate_gateway_subnet`.
    """
    vnets = _vnet(vnet_prefixes)
    subnets = _subnets(other_subnets)
    for name, net in subnets:
        if name == GATEWAY_SUBNET_NAME:
            return str(net)
    if not 8 <= prefixlen <= 29:
        raise AddressError(
            f"A GatewaySubnet of /{prefixlen} is not possible; ask for /27 (or /29 for Basic).",
            "gateway_subnet_prefix",
        )
    free = IPSet(vnets) - IPSet(net for _, net in subnets)
    size = 2 ** (32 - prefixlen)

    def block_below(start: int) -> IPNetwork | None:
        base = (start // size) * size - size
        if base < 0:
            return None
        block = IPNetwork(f"{IPAddress(base)}/{prefixlen}")
        return block if IPSet([block]).issubset(free) else None

    hints = [_net(near, "gateway_subnet_prefix", "Hint")] if near else [n for _, n in subnets]
    below = [b for b in (block_below(h.first) for h in hints) if b is not None]
    if below:
        return str(max(below))
    for cidr in sorted(free.iter_cidrs(), key=lambda c: c.last, reverse=True):
        if cidr.prefixlen <= prefixlen:
            return str(IPNetwork(f"{IPAddress(cidr.last - size + 1)}/{prefixlen}"))
    return None


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


# ---------------------------------------------------------------------------------------------
# the whole intent


def validate_intent(intent: SiteIntent) -> list[tuple[str, str]]:
    """Every problem of a SiteIntent as ``(field name, message)``; ``[]`` when it can work.

    Checks addressing (this module), ASNs (:mod:`s2svpn.asn`), SKU (:mod:`s2svpn.skus`), the
    IPsec policy (:mod:`s2svpn.ipsec`), the PSK-free endpoint fields and the DPD timeout.
    """
    from s2svpn import asn, ipsec, skus
    from s2svpn.dns import DnsError, validate_fqdn

    problems: list[tuple[str, str]] = []

    def check(field: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AddressError as exc:
            problems.append((exc.field or field, exc.message))
        except ValueError as exc:
            problems.append((getattr(exc, "field", "") or field, str(exc)))
        return None

    # VNet address space
    vnets = check("vnet_prefixes", _vnet, intent.vnet_prefixes)
    if vnets:
        for i, a in enumerate(vnets):
            for b in vnets[i + 1 :]:
                if a.first <= b.last and b.first <= a.last:
                    problems.append(
                        (
                            "vnet_prefixes",
                            f"VNet prefixes {a} and {b} overlap; list each range once.",
                        )
                    )
    vnet_ok = bool(vnets) and not any(f == "vnet_prefixes" for f, _ in problems)

    # SKU and GatewaySubnet
    check("sku", skus.validate_sku, intent.sku, intent.generation)
    if vnet_ok:
        check(
            "gateway_subnet_prefix",
            validate_gateway_subnet,
            intent.gateway_subnet_prefix,
            intent.vnet_prefixes,
            sku=intent.sku,
        )

    # ASNs
    check("azure_asn", asn.validate_asn, intent.azure_asn, "azure")
    check("onprem_asn", asn.validate_asn, intent.onprem_asn, "onprem")
    if intent.onprem_asn == intent.azure_asn:
        check("onprem_asn", asn.validate_asn_pair, intent.onprem_asn, intent.azure_asn)

    # Endpoint of the home end
    if intent.onprem_public_ip:
        check("onprem_public_ip", _ip, intent.onprem_public_ip, "onprem_public_ip", "Public IP")
    elif intent.onprem_fqdn:
        try:
            validate_fqdn(intent.onprem_fqdn)
        except DnsError as exc:
            problems.append(("onprem_fqdn", str(exc)))
    else:
        problems.append(
            (
                "onprem_fqdn",
                "The home end has neither a DNS name nor a public IP; enter the DDNS name "
                "(e.g. home-s2s.example.net) or the public IPv4 address.",
            )
        )

    # BGP addressing
    if vnet_ok:
        bgp_ip = check(
            "onprem_bgp_ip",
            validate_onprem_bgp_ip,
            intent.onprem_bgp_ip,
            intent.vnet_prefixes,
            intent.onprem_public_ip or None,
        )
        if intent.bgp_mode == "apipa":
            transit = check("azure_apipa_ip", transit_for, intent)
            if bgp_ip and IPAddress(bgp_ip) not in LINK_LOCAL:
                problems.append(
                    (
                        "onprem_bgp_ip",
                        f"In APIPA mode the local network gateway's BGP address must be pfSense's "
                        f"APIPA address, not {bgp_ip}: Azure speaks BGP from its APIPA address "
                        "only to APIPA peers. Use the pfSense side of the APIPA /30.",
                    )
                )
            elif bgp_ip and transit and bgp_ip != transit.pfsense_ip:
                problems.append(
                    (
                        "onprem_bgp_ip",
                        f"On-prem BGP IP {bgp_ip} is not pfSense's APIPA address "
                        f"{transit.pfsense_ip}; use {transit.pfsense_ip}.",
                    )
                )
        elif bgp_ip and IPAddress(bgp_ip) in LINK_LOCAL:
            problems.append(
                (
                    "bgp_mode",
                    f"On-prem BGP IP {bgp_ip} is an APIPA (169.254.x.x) address; Azure then needs "
                    "a custom APIPA BGP address too. Switch the BGP mode to APIPA.",
                )
            )

        # Prefixes
        if not intent.lan_prefixes:
            problems.append(
                (
                    "lan_prefixes",
                    "pfSense would advertise no prefixes, so Azure learns no route home; add the "
                    "home networks (e.g. 10.0.0.0/24).",
                )
            )
        else:
            check(
                "lan_prefixes",
                validate_advertised_prefixes,
                intent.lan_prefixes,
                intent.vnet_prefixes,
            )
        if intent.lng_prefixes:
            try:
                nets = validate_advertised_prefixes(intent.lng_prefixes, intent.vnet_prefixes)
            except AddressError as exc:
                problems.append(
                    (
                        "lng_prefixes",
                        exc.message.replace("Advertised prefix", "Local network gateway prefix"),
                    )
                )
            else:
                if bgp_ip and f"{bgp_ip}/32" in nets:
                    problems.append(
                        (
                            "lng_prefixes",
                            f"Do not add the BGP peer's host route {bgp_ip}/32 to the local network "
                            "gateway; Azure adds it itself. Remove it (the list may be empty with BGP).",
                        )
                    )

    # Connection
    if intent.connection_mode not in ("Default", "ResponderOnly", "InitiatorOnly"):
        problems.append(
            (
                "connection_mode",
                f"Connection mode {intent.connection_mode!r} is unknown; use Default, "
                "ResponderOnly or InitiatorOnly.",
            )
        )
    elif (
        intent.connection_mode == "InitiatorOnly"
        and intent.behind_nat
        and not intent.ports_forwarded
    ):
        problems.append(
            (
                "connection_mode",
                "InitiatorOnly makes Azure start the tunnel, but pfSense sits behind a NAT router "
                "that does not forward UDP 500/4500, so Azure can never reach it. Use "
                "ResponderOnly (pfSense initiates) or forward the ports to pfSense.",
            )
        )
    check("dpd_timeout_seconds", ipsec.validate_dpd_timeout, intent.dpd_timeout_seconds)
    for message in ipsec.validate_policy(intent.policy):
        problems.append(("policy", message))
    if intent.firewall_scope not in ("vnet", "any"):
        problems.append(
            (
                "firewall_scope",
                f"Firewall scope {intent.firewall_scope!r} is unknown; use vnet or any.",
            )
        )
    return problems
