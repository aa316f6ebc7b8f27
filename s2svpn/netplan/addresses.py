"""What every address rule stands on: the refusal (:class:`AddressError`), Azure's ranges, the
VTI transit, strict IPv4 parsing; and the GatewaySubnet
(https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings#gwsub)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netaddr import AddrFormatError, IPAddress, IPNetwork, IPSet

from s2svpn.errors import InputError

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


def _parse(kind: type, raw: str, field: str, what: str, example: str) -> IPNetwork | IPAddress:
    """``raw`` as an IPv4 ``kind`` (IPNetwork or IPAddress), or a refusal in plain words."""
    try:
        value = kind(raw)
    except (AddrFormatError, ValueError, TypeError):
        raise AddressError(f"{what} {raw!r} is not {example}.", field) from None
    if value.version != 4:
        use = "an IPv4 CIDR" if kind is IPNetwork else "an IPv4 address"
        raise AddressError(
            f"{what} {raw} is IPv6; Azure site-to-site BGP here is IPv4 only, use {use}.", field
        )
    return value


def _net(text: str, field: str, what: str) -> IPNetwork:
    """Parse an IPv4 CIDR, refusing host bits (Azure rejects them too)."""
    raw = str(text).strip()
    if "/" not in raw:
        raise AddressError(
            f"{what} {raw!r} has no prefix length; write it as a CIDR such as 10.0.0.0/24.", field
        )
    net = _parse(IPNetwork, raw, field, what, "a valid IPv4 CIDR; write it like 10.0.0.0/24")
    if net.ip != net.network:
        raise AddressError(
            f"{what} {raw} has host bits set; for a /{net.prefixlen} the prefix is {net.cidr}.",
            field,
        )
    return net


def _ip(text: str, field: str, what: str) -> IPAddress:
    raw = str(text).strip()
    return _parse(IPAddress, raw, field, what, "an IPv4 address; write it like 10.0.0.1")


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
