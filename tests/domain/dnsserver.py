"""A real DNS server on loopback for tests (dnslib), reusable from any test folder.

    from tests.domain.dnsserver import LocalDns

    dns = LocalDns()
    address = dns.start({"home-s2s.example.net": [("A", "203.0.113.2", 60)]})  # "127.0.0.1:PORT"
    dns.set_records({...})      # change answers at runtime (a DDNS update)
    dns.stop()

Names that are not in ``records`` answer NXDOMAIN; a name with an empty list answers NOERROR
with no data. Record types: A, AAAA, CNAME, TXT. The special type ``"SERVFAIL"`` makes the name
answer SERVFAIL. ``silent_address()`` gives a bound UDP port that never answers (for timeouts).
"""

from __future__ import annotations

import socket
import threading

from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, TXT, A, DNSLabel
from dnslib.server import BaseResolver, DNSLogger, DNSServer

Records = dict[str, list[tuple[str, str, int]]]

_RDATA = {"A": A, "AAAA": AAAA, "CNAME": CNAME, "TXT": TXT}


class _Resolver(BaseResolver):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: dict[DNSLabel, list[tuple[str, str, int]]] = {}
        self.queries: list[tuple[str, str]] = []

    def set(self, records: Records) -> None:
        with self.lock:
            self.records = {
                DNSLabel(name.rstrip(".") + "."): list(rrs) for name, rrs in records.items()
            }

    def resolve(self, request, handler):
        reply = request.reply()
        qname = request.q.qname
        qtype = QTYPE[request.q.qtype]
        with self.lock:
            self.queries.append((str(qname).rstrip("."), qtype))
            rrs = self.records.get(qname)
            if rrs is None:
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            if any(t == "SERVFAIL" for t, _, _ in rrs):
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            for rtype, value, ttl in rrs:
                if rtype == qtype or rtype == "CNAME":
                    reply.add_answer(
                        RR(qname, getattr(QTYPE, rtype), rdata=_RDATA[rtype](value), ttl=ttl)
                    )
                    if rtype == "CNAME":
                        target = self.records.get(DNSLabel(value.rstrip(".") + "."), [])
                        for t2, v2, ttl2 in target:
                            if t2 == qtype:
                                reply.add_answer(
                                    RR(
                                        DNSLabel(value.rstrip(".") + "."),
                                        getattr(QTYPE, t2),
                                        rdata=_RDATA[t2](v2),
                                        ttl=ttl2,
                                    )
                                )
        return reply


class LocalDns:
    """A UDP DNS server on 127.0.0.1 with a free port, answering from a dict."""

    def __init__(self) -> None:
        self.resolver = _Resolver()
        self.server: DNSServer | None = None
        self._silent: list[socket.socket] = []

    def start(self, records: Records | None = None) -> str:
        self.resolver.set(records or {})
        self.server = DNSServer(
            self.resolver,
            address="127.0.0.1",
            port=0,
            logger=DNSLogger(
                log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False
            ),
        )
        self.server.start_thread()
        return f"127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        assert self.server is not None, "start() first"
        return self.server.server.server_address[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def queries(self) -> list[tuple[str, str]]:
        return list(self.resolver.queries)

    def set_records(self, records: Records) -> None:
        self.resolver.set(records)

    def silent_address(self) -> str:
        """A bound UDP port on 127.0.0.1 that swallows queries (never answers)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        self._silent.append(sock)
        return f"127.0.0.1:{sock.getsockname()[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server.server.server_close()
            self.server = None
        for sock in self._silent:
            sock.close()
        self._silent.clear()

    def __enter__(self) -> LocalDns:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
