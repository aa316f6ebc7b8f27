"""The sandbox serves its DDNS zone (World.dns) on loopback, and the stand-in Azure resolves a
local network gateway's FQDN by asking that nameserver, like the wizard and the monitor do."""

from __future__ import annotations

import dns.resolver

from s2svpn.dns import resolve_endpoint
from s2svpn.sandbox.dns import SandboxDns, lookup
from s2svpn.sandbox.world import World


def test_the_sandbox_nameserver_answers_the_zone_live_and_nxdomain_otherwise():
    world = World()
    server = SandboxDns(world)
    address = server.start()
    try:
        result = resolve_endpoint("home-s2s.example.net", [address], timeout=2)
        assert (result.address, result.ttl) == ("203.0.113.2", 60)
        world.dns = {"home-s2s.example.net": "203.0.113.9"}  # replaced, not just moved
        assert lookup("HOME-S2S.example.net.", [address]) == "203.0.113.9"
        assert lookup("other.example.net", [address]) == ""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [address.split(":")[0]]
        resolver.port = int(address.split(":")[1])
        try:
            resolver.resolve("other.example.net", "A", lifetime=2)
        except dns.resolver.NXDOMAIN:
            pass
        else:
            raise AssertionError("an unknown name must be NXDOMAIN")
    finally:
        server.stop()


def test_the_stand_in_azure_resolves_through_the_served_zone(sandboxes):
    world = sandboxes.world
    assert world.nameservers == [sandboxes.dns.address]
    assert sandboxes.connection_info()["dns_server"] == sandboxes.dns.address
    assert world.lookup("home-s2s.example.net") == world.dns["home-s2s.example.net"]
    assert world.lookup("nowhere.example.net") == ""
