"""Check the DDNS name of the home end the way Azure will use it.

Azure resolves a local network gateway's FQDN to **one IPv4 address** (the first A record when
there are several), does not support IPv6 endpoints, caches the answer for 5 minutes and
re-resolves only for disconnected tunnels
(https://learn.microsoft.com/azure/vpn-gateway/tutorial-site-to-site-portal#LocalNetworkGateway,
reference/azure.md section 6). So zero A records, several A records, AAAA-only names and
private addresses are refused here with an explanation.

Pure (dnspython). The nameservers asked are configurable (``S2SVPN_DNS_SERVERS``, parsed by
:func:`parse_nameservers`; default: the system resolver) so tests run a real DNS server on
loopback instead of patching the resolver.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
from netaddr import AddrFormatError, IPAddress, IPNetwork

from s2svpn.errors import InputError


class DnsError(InputError):
    """A name Azure cannot use as the home endpoint. ``code`` is a stable machine word:
    invalid_name, nxdomain, no_a, aaaa_only, several_a, private_address, timeout, no_answer,
    bad_nameserver. ``addresses`` holds what the name did resolve to (several_a, aaaa_only,
    private_address), so a monitor can show it next to the message."""

    field = "onprem_fqdn"

    def __init__(self, message: str, code: str, addresses: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.addresses = addresses


@dataclass(frozen=True)
class DnsResult:
    fqdn: str
    address: str
    ttl: int
    nameserver: str  # "127.0.0.1:5353", or "192.0.2.53" when on port 53


_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")

_UNREACHABLE = (
    (IPNetwork("10.0.0.0/8"), "a private (RFC 1918) address"),
    (IPNetwork("172.16.0.0/12"), "a private (RFC 1918) address"),
    (IPNetwork("192.168.0.0/16"), "a private (RFC 1918) address"),
    (IPNetwork("100.64.0.0/10"), "a carrier-grade NAT address (100.64.0.0/10)"),
    (IPNetwork("127.0.0.0/8"), "a loopback address"),
    (IPNetwork("169.254.0.0/16"), "a link-local address"),
    (IPNetwork("0.0.0.0/8"), "an unusable 0.x address"),
    (IPNetwork("224.0.0.0/3"), "a multicast or reserved address"),
)


def validate_fqdn(fqdn: str) -> str:
    """Return the name without a trailing dot if it is a syntactically valid host name."""
    name = str(fqdn or "").strip().rstrip(".")
    if not name:
        raise DnsError(
            "The DNS name is empty; enter the DDNS name, e.g. home-s2s.example.net.", "invalid_name"
        )
    try:
        IPAddress(name)
    except (AddrFormatError, ValueError):
        pass
    else:
        raise DnsError(
            f"{name} is an IP address, not a DNS name; enter it as the public IP instead.",
            "invalid_name",
        )
    labels = name.split(".")
    bad = next((label for label in labels if not _LABEL.match(label)), None)
    if len(name) > 253 or len(labels) < 2 or bad is not None:
        why = (
            f"the label {bad!r} may only hold letters, digits and inner hyphens (1-63 characters)"
            if bad is not None
            else "a DNS name has at least two labels and at most 253 characters"
        )
        raise DnsError(
            f"{name!r} is not a valid DNS name: {why}. Use the full DDNS name, e.g. "
            "home-s2s.example.net.",
            "invalid_name",
        )
    return name


def parse_nameservers(text: str) -> list[str]:
    """``"127.0.0.1:5353, 192.0.2.53"`` -> ``["127.0.0.1:5353", "192.0.2.53"]`` (checked)."""
    out = []
    for item in (part.strip() for part in str(text or "").split(",")):
        if item:
            nameserver(item)
            out.append(item)
    return out


def nameserver(item: str) -> dns.nameserver.Do53Nameserver:
    """``"127.0.0.1:5353"`` -> a dnspython nameserver, or :class:`DnsError` naming the item."""
    host, port = item, 53
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d+))?", item)
    if m:
        host, port = m.group(1), int(m.group(2) or 53)
    elif item.count(":") == 1:
        host, _, p = item.partition(":")
        port = int(p) if p.isdigit() else -1
    try:
        IPAddress(host)
    except (AddrFormatError, ValueError):
        raise DnsError(
            f"Nameserver {item!r} is not an IP address (optionally with :port); write it like "
            "192.0.2.53 or 127.0.0.1:5353.",
            "bad_nameserver",
        ) from None
    if not 0 < port < 65536:
        raise DnsError(f"Nameserver {item!r} has an invalid port; use 1-65535.", "bad_nameserver")
    return dns.nameserver.Do53Nameserver(host, port)


def _resolver(
    nameservers: Sequence[str] | None, timeout: float
) -> tuple[dns.resolver.Resolver, str]:
    if nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [nameserver(n) for n in nameservers]
        asked = ", ".join(nameservers)
    else:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            raise DnsError(
                "This machine has no DNS resolver configured (no nameservers in /etc/resolv.conf); "
                "set S2SVPN_DNS_SERVERS to the nameservers to ask, e.g. 192.0.2.53.",
                "bad_nameserver",
            ) from None
        asked = "the system resolver"
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.search = []
    resolver.use_search_by_default = False
    return resolver, asked


def _query(resolver, name: str, rdtype: str, timeout: float, asked: str):
    try:
        return resolver.resolve(
            dns.name.from_text(name),
            rdtype,
            lifetime=timeout,
            raise_on_no_answer=False,
            search=False,
        )
    except dns.resolver.NXDOMAIN:
        raise DnsError(
            f"{name} does not exist (NXDOMAIN from {asked}). Check the spelling and that the "
            "DDNS client on the router has registered the name.",
            "nxdomain",
        ) from None
    except dns.exception.Timeout:
        raise DnsError(
            f"No answer for {name} from {asked} within {timeout:g} s. Check that the nameserver "
            "is reachable, or try again later.",
            "timeout",
        ) from None
    except dns.resolver.NoNameservers:
        raise DnsError(
            f"{asked} could not answer for {name} (SERVFAIL or REFUSED). The name's DNS provider "
            "may be broken; check the DDNS service.",
            "no_answer",
        ) from None


def resolve_endpoint(
    fqdn: str, nameservers: Sequence[str] | None = None, timeout: float = 3.0
) -> DnsResult:
    """Resolve the home end's FQDN to the one IPv4 address Azure will use, or explain why not.

    ``nameservers`` like ``["127.0.0.1:5353"]``; None asks the system resolver. Raises
    :class:`DnsError` for an invalid name, NXDOMAIN, no A record, AAAA only ("Azure does not
    support IPv6 endpoints"), several A records ("Azure uses only one"), a private address, a
    timeout or a failing nameserver.
    """
    name = validate_fqdn(fqdn)
    resolver, asked = _resolver(nameservers, timeout)
    answer = _query(resolver, name, "A", timeout, asked)
    addresses = [r.address for r in answer.rrset] if answer.rrset is not None else []
    if not addresses:
        aaaa = _query(resolver, name, "AAAA", timeout, asked)
        if aaaa.rrset is not None and len(aaaa.rrset):
            raise DnsError(
                f"{name} has only IPv6 (AAAA) records ({aaaa.rrset[0].address}); Azure does not "
                "support IPv6 endpoints for a local network gateway. Let the DDNS client publish "
                "the router's IPv4 address (an A record).",
                "aaaa_only",
                tuple(r.address for r in aaaa.rrset),
            )
        raise DnsError(
            f"{name} exists but has no A record, so Azure cannot find the home end. Let the DDNS "
            "client publish the router's public IPv4 address.",
            "no_a",
        )
    if len(addresses) > 1:
        raise DnsError(
            f"{name} has {len(addresses)} A records ({', '.join(sorted(addresses))}); Azure uses "
            "only one (the first returned) and may pick the wrong one. Publish exactly one IPv4 "
            "address for this name.",
            "several_a",
            tuple(addresses),
        )
    address = addresses[0]
    ip = IPAddress(address)
    for block, what in _UNREACHABLE:
        if ip in block:
            raise DnsError(
                f"{name} resolves to {address}, {what} that Azure cannot reach over the internet. "
                "The DDNS client is publishing the wrong address: make it publish the router's "
                "public IPv4 address.",
                "private_address",
                (address,),
            )
    port = getattr(answer, "port", 53)
    server = str(getattr(answer, "nameserver", "") or "")
    if server and port != 53:
        server = f"[{server}]:{port}" if ":" in server else f"{server}:{port}"
    return DnsResult(
        fqdn=name, address=address, ttl=int(answer.rrset.ttl), nameserver=server or asked
    )
