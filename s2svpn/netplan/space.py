"""Address space for what s2svpn creates in Azure: a new VNet's space, or a prefix added to a VNet
that has no free /27 left for its GatewaySubnet.

Azure accepts any private range (RFC 1918) for a VNet; it must not overlap the networks it will
route to: the home LANs behind pfSense and the other VNets / sites s2svpn knows
(https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq#what-address-ranges-can-i-use-in-my-vnets,
https://learn.microsoft.com/azure/virtual-network/manage-virtual-network#add-or-remove-an-address-range).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from netaddr import AddrFormatError, IPAddress, IPNetwork, IPSet

from s2svpn.netplan.addresses import AddressError

PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def _avoided(avoid: Iterable[str]) -> IPSet:
    nets = IPSet()
    for text in avoid:
        try:
            nets.add(IPNetwork(str(text)))
        except (AddrFormatError, ValueError, TypeError):
            continue  # not a prefix: validated where it is asked
    return nets


def propose_space(
    avoid: Iterable[str], prefixlen: int = 16, near: Sequence[str] = ()
) -> str | None:
    """The first private ``/prefixlen`` (10.x first, then 172.16-31.x, then 192.168.x) that
    overlaps nothing in ``avoid``; None when every one is taken. With ``near`` (a VNet's
    prefixes), the free block right after one of them comes first, so a grown VNet stays
    contiguous (10.60.0.0/24 grows by 10.60.1.0/27)."""
    taken = _avoided(avoid)
    size = 2 ** (32 - prefixlen)
    for text in near:
        try:
            after = IPNetwork(text).last + 1
        except (AddrFormatError, ValueError, TypeError):
            continue
        start = -(-after // size) * size  # the next aligned block
        candidate = IPNetwork(f"{IPAddress(start)}/{prefixlen}")
        private = any(candidate in IPNetwork(r) for r in PRIVATE_RANGES)
        if private and not (IPSet([candidate]) & taken):
            return str(candidate)
    for private in PRIVATE_RANGES:
        block = IPNetwork(private)
        if block.prefixlen > prefixlen:
            continue
        for candidate in block.subnet(prefixlen):
            if not (IPSet([candidate]) & taken):
                return str(candidate)
    return None


def check_space(
    prefixes: Sequence[str], avoid: Iterable[str], field: str = "vnet_prefixes"
) -> list[str]:
    """A new VNet's address space: valid IPv4 prefixes, /8 to /29, overlapping neither each other
    nor anything in ``avoid`` (home LANs, other VNets). Returns them normalised."""
    if not prefixes:
        raise AddressError("Give the new VNet an address space, like 10.1.0.0/16.", field)
    out: list[str] = []
    seen = IPSet()
    taken = _avoided(avoid)
    for text in prefixes:
        try:
            net = IPNetwork(text)
        except (AddrFormatError, ValueError, TypeError):
            raise AddressError(
                f"{text!r} is not an address prefix; write it like 10.1.0.0/16.", field
            ) from None
        if net.version != 4 or "/" not in str(text):
            raise AddressError(f"{text} is not an IPv4 prefix like 10.1.0.0/16.", field)
        if net.network != net.ip:
            raise AddressError(f"{text} has host bits set; the prefix is {net.cidr}.", field)
        if not 8 <= net.prefixlen <= 29:
            raise AddressError(
                f"{text} is a /{net.prefixlen}; a VNet address space is /8 to /29 (a /16 leaves "
                "room for the GatewaySubnet and workloads).",
                field,
            )
        if IPSet([net]) & seen:
            raise AddressError(f"{text} overlaps another prefix of the same address space.", field)
        clash = [str(c) for c in (IPSet([net]) & taken).iter_cidrs()]
        if clash:
            free = propose_space(taken.iter_cidrs(), net.prefixlen)
            raise AddressError(
                f"{text} overlaps {', '.join(clash)}, already used by a home LAN or another VNet "
                "s2svpn knows; traffic could not be routed. Choose a free range"
                + (f" such as {free}." if free else "."),
                field,
            )
        seen.add(net)
        out.append(str(net.cidr))
    return out
