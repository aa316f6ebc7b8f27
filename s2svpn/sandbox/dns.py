"""The sandbox's DNS: a real UDP nameserver on loopback that answers from ``World.dns``.

Real DNS does not know the sandbox's DDNS name (``home-s2s.example.net``), so the sandbox serves
its own zone, and everything that resolves the home end's name asks it by configuration: the
wizard and the monitor through the site's nameservers (filled in by "Use the sandbox" from
``connection.json``'s ``dns_server``), the stand-in Azure through ``World.nameservers``. Nothing
outside the sandbox asks "is this a sandbox site?" to decide what a name resolves to.

Answers: an A record (TTL 60 s) for a name in ``World.dns``, NXDOMAIN for any other name, NOERROR
without data for other record types of a known name. A test that moves ``World.dns`` (a DDNS
update) changes the next answer.
"""

from __future__ import annotations

from typing import Any

import dns.exception
import dns.resolver
from dnslib import QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from s2svpn.dns import nameserver

TTL = 60


class _WorldResolver(BaseResolver):
    def __init__(self, world: Any) -> None:
        self.world = world  # World.dns is read at each query (tests replace or move it)

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        address = {k.lower().rstrip("."): v for k, v in list(self.world.dns.items())}.get(name)
        if not address:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.A:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=TTL))
        return reply


class SandboxDns:
    """A UDP nameserver on ``host:port`` (0 = a free port) answering from ``world.dns``."""

    def __init__(self, world: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = DNSServer(
            _WorldResolver(world),
            address=host,
            port=port,
            logger=DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data"),
        )

    def start(self) -> str:
        self.server.start_thread()
        return self.address

    @property
    def address(self) -> str:
        host, port = self.server.server.server_address[:2]
        return f"{host}:{port}"

    def stop(self) -> None:
        self.server.stop()
        self.server.server.server_close()


def lookup(name: str, nameservers: list[str], timeout: float = 1.0) -> str:
    """The first A record of ``name`` from ``nameservers`` ("" when there is none), the way
    Azure resolves a local network gateway's FQDN (one IPv4, the first answer)."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [nameserver(n) for n in nameservers]
    resolver.lifetime = resolver.timeout = timeout
    try:
        answer = resolver.resolve(name, "A", search=False, raise_on_no_answer=False)
    except (dns.exception.DNSException, OSError):
        return ""
    return answer.rrset[0].address if answer.rrset else ""
