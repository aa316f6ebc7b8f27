"""The home end's DDNS name, checked against a real DNS server on loopback (no patching)."""

from __future__ import annotations

import pytest

from s2svpn.dns import DnsError, DnsResult, parse_nameservers, resolve_endpoint, validate_fqdn
from tests.domain.dnsserver import LocalDns

HOME = "home-s2s.example.net"
RECORDS = {
    HOME: [("A", "203.0.113.2", 60)],
    "v6only.example.net": [("AAAA", "2001:db8::2", 60)],
    "dual.example.net": [("A", "203.0.113.2", 300), ("AAAA", "2001:db8::2", 300)],
    "two.example.net": [("A", "203.0.113.2", 60), ("A", "198.51.100.7", 60)],
    "txtonly.example.net": [("TXT", "hello", 60)],
    "lan.example.net": [("A", "192.168.178.10", 60)],
    "cgnat.example.net": [("A", "100.64.1.2", 60)],
    "broken.example.net": [("SERVFAIL", "", 0)],
    "alias.example.net": [("CNAME", HOME, 30)],
}


@pytest.fixture(scope="module")
def server():
    dns = LocalDns()
    dns.start(RECORDS)
    yield dns
    dns.stop()


def resolve(server, name, **kwargs) -> DnsResult:
    return resolve_endpoint(name, [server.address], **kwargs)


def refusal(server, name, **kwargs) -> DnsError:
    with pytest.raises(DnsError) as info:
        resolve(server, name, **kwargs)
    return info.value


def test_the_canonical_name_resolves_to_the_nat_routers_address_with_its_ttl(server):
    assert resolve(server, HOME) == DnsResult(HOME, "203.0.113.2", 60, server.address)


def test_a_trailing_dot_is_fine(server):
    assert resolve(server, HOME + ".").address == "203.0.113.2"


def test_a_cname_is_followed(server):
    assert resolve(server, "alias.example.net").address == "203.0.113.2"


def test_an_aaaa_record_next_to_the_a_record_is_ignored(server):
    assert resolve(server, "dual.example.net").ttl == 300


def test_a_ddns_update_is_seen_on_the_next_query():
    with LocalDns() as dns:
        address = dns.start({HOME: [("A", "203.0.113.2", 60)]})
        assert resolve_endpoint(HOME, [address]).address == "203.0.113.2"
        dns.set_records({HOME: [("A", "203.0.113.99", 60)]})
        assert resolve_endpoint(HOME, [address]).address == "203.0.113.99"
        assert dns.queries[-1] == (HOME, "A")


def test_it_explains_an_unknown_name(server):
    err = refusal(server, "nothere.example.net")
    assert err.code == "nxdomain" and err.field == "onprem_fqdn"
    assert str(err) == (
        f"nothere.example.net does not exist (NXDOMAIN from {server.address}). Check the spelling "
        "and that the DDNS client on the router has registered the name."
    )


def test_it_explains_an_ipv6_only_name(server):
    err = refusal(server, "v6only.example.net")
    assert err.code == "aaaa_only"
    assert err.addresses == ("2001:db8::2",)
    assert str(err) == (
        "v6only.example.net has only IPv6 (AAAA) records (2001:db8::2); Azure does not support "
        "IPv6 endpoints for a local network gateway. Let the DDNS client publish the router's "
        "IPv4 address (an A record)."
    )


def test_it_explains_a_name_without_an_a_record(server):
    err = refusal(server, "txtonly.example.net")
    assert err.code == "no_a"
    assert str(err) == (
        "txtonly.example.net exists but has no A record, so Azure cannot find the home end. Let "
        "the DDNS client publish the router's public IPv4 address."
    )


def test_it_explains_several_a_records(server):
    err = refusal(server, "two.example.net")
    assert err.code == "several_a"
    assert sorted(err.addresses) == ["198.51.100.7", "203.0.113.2"]
    assert str(err) == (
        "two.example.net has 2 A records (198.51.100.7, 203.0.113.2); Azure uses only one (the "
        "first returned) and may pick the wrong one. Publish exactly one IPv4 address for this name."
    )


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("lan.example.net", "192.168.178.10, a private (RFC 1918) address"),
        ("cgnat.example.net", "100.64.1.2, a carrier-grade NAT address (100.64.0.0/10)"),
    ],
)
def test_it_explains_an_address_azure_cannot_reach(server, name, what):
    err = refusal(server, name)
    assert err.code == "private_address"
    assert str(err).startswith(f"{name} resolves to {what} that Azure cannot reach")


def test_it_explains_a_failing_nameserver(server):
    err = refusal(server, "broken.example.net")
    assert err.code == "no_answer"
    assert "could not answer for broken.example.net (SERVFAIL or REFUSED)" in str(err)


def test_it_explains_a_timeout(server):
    silent = server.silent_address()
    with pytest.raises(DnsError) as info:
        resolve_endpoint(HOME, [silent], timeout=0.3)
    assert info.value.code == "timeout"
    assert str(info.value) == (
        f"No answer for {HOME} from {silent} within 0.3 s. Check that the nameserver is "
        "reachable, or try again later."
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "The DNS name is empty; enter the DDNS name, e.g. home-s2s.example.net."),
        (
            "203.0.113.2",
            "203.0.113.2 is an IP address, not a DNS name; enter it as the public IP instead.",
        ),
        (
            "home",
            "'home' is not a valid DNS name: a DNS name has at least two labels and at most 253 "
            "characters. Use the full DDNS name, e.g. home-s2s.example.net.",
        ),
        (
            "home_s2s.example.net",
            "'home_s2s.example.net' is not a valid DNS name: the label 'home_s2s' may only hold "
            "letters, digits and inner hyphens (1-63 characters). Use the full DDNS name, e.g. "
            "home-s2s.example.net.",
        ),
        ("-home.example.net", None),
        ("a" * 64 + ".example.net", None),
    ],
)
def test_it_refuses_invalid_names_before_asking_anyone(name, message):
    with pytest.raises(DnsError) as info:
        validate_fqdn(name)
    assert info.value.code == "invalid_name"
    if message:
        assert str(info.value) == message


def test_invalid_names_are_refused_without_a_query(server):
    before = len(server.queries)
    assert refusal(server, "not a name").code == "invalid_name"
    assert len(server.queries) == before


def test_nameserver_lists_are_parsed_and_checked():
    assert parse_nameservers("127.0.0.1:5353, 192.0.2.53,[::1]:53") == [
        "127.0.0.1:5353",
        "192.0.2.53",
        "[::1]:53",
    ]
    assert parse_nameservers("") == []
    with pytest.raises(DnsError) as info:
        parse_nameservers("dns.example.net")
    assert str(info.value) == (
        "Nameserver 'dns.example.net' is not an IP address (optionally with :port); write it like "
        "192.0.2.53 or 127.0.0.1:5353."
    )
    with pytest.raises(DnsError, match="has an invalid port"):
        parse_nameservers("127.0.0.1:99999")
