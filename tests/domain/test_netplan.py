"""Addressing: GatewaySubnet, BGP addressing modes, transit /30, advertised prefixes, whole intent."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from netaddr import IPAddress, IPNetwork, IPSet

from s2svpn.intent import CANONICAL, SiteIntent
from s2svpn.netplan import (
    AddressError,
    Transit,
    azure_default_bgp_ip,
    propose_gateway_subnet,
    transit_for,
    transit_for_apipa,
    transit_for_azure_default,
    validate_advertised_prefixes,
    validate_gateway_subnet,
    validate_intent,
    validate_onprem_bgp_ip,
)

VNET = ["172.16.0.0/16"]
WORKLOAD = [("workload", "172.16.20.0/24")]


def refusal(fn, *args, **kwargs) -> AddressError:
    with pytest.raises(AddressError) as info:
        fn(*args, **kwargs)
    return info.value


# ---- the canonical scenario -------------------------------------------------------------------


def test_the_canonical_gateway_subnet_is_valid():
    assert validate_gateway_subnet("172.16.19.224/27", VNET, WORKLOAD) == "172.16.19.224/27"


def test_the_canonical_gateway_subnet_is_what_gets_proposed_next_to_the_workload():
    assert propose_gateway_subnet(VNET, WORKLOAD) == "172.16.19.224/27"


def test_an_empty_vnet_gets_its_highest_free_27():
    assert propose_gateway_subnet(VNET) == "172.16.255.224/27"


def test_azure_default_bgp_ip_is_the_last_usable_address_of_the_gateway_subnet():
    assert azure_default_bgp_ip("172.16.19.224/27") == "172.16.19.254"


def test_azure_254_gives_pfsense_253_on_a_30():
    assert transit_for_azure_default("172.16.19.254") == Transit(
        "172.16.19.252/30", "172.16.19.253", "172.16.19.254"
    )


def test_the_canonical_onprem_bgp_ip_is_valid():
    assert validate_onprem_bgp_ip("10.0.0.1", VNET, "203.0.113.2") == "10.0.0.1"


def test_the_canonical_advertised_prefixes_are_valid():
    assert validate_advertised_prefixes(["10.0.0.0/24", "192.168.2.0/24"], VNET) == [
        "10.0.0.0/24",
        "192.168.2.0/24",
    ]


def test_the_canonical_intent_has_no_problems():
    assert validate_intent(CANONICAL) == []


def test_transit_for_the_canonical_intent_needs_azures_bgp_ip():
    assert transit_for(CANONICAL) is None
    assert transit_for(CANONICAL, "172.16.19.254").pfsense_ip == "172.16.19.253"


# ---- GatewaySubnet refusals ------------------------------------------------------------------


def test_it_refuses_a_gateway_subnet_with_another_name():
    err = refusal(validate_gateway_subnet, "172.16.19.224/27", VNET, name="gatewaysubnet")
    assert err.field == "gateway_subnet_name"
    assert str(err) == (
        "The gateway subnet is called 'gatewaysubnet'; Azure only deploys a VPN gateway into a "
        "subnet named exactly 'GatewaySubnet' (case-sensitive). Rename it."
    )


def test_it_refuses_a_28_for_a_vpngw_sku():
    err = refusal(validate_gateway_subnet, "172.16.19.240/28", VNET)
    assert err.field == "gateway_subnet_prefix"
    assert str(err) == (
        "GatewaySubnet 172.16.19.240/28 is a /28; VpnGw1AZ needs a /27 or larger (only the legacy "
        "Basic SKU works with /28-/29). Use a /27 such as 172.16.19.224/27."
    )


def test_it_accepts_a_29_only_for_basic():
    assert validate_gateway_subnet("172.16.19.248/29", VNET, sku="Basic") == "172.16.19.248/29"
    err = refusal(validate_gateway_subnet, "172.16.19.252/30", VNET, sku="Basic")
    assert "the Basic SKU needs at least a /29" in str(err)


def test_it_accepts_a_gateway_subnet_larger_than_27():
    assert validate_gateway_subnet("172.16.19.0/26", VNET) == "172.16.19.0/26"


def test_it_refuses_a_gateway_subnet_outside_the_vnet():
    err = refusal(validate_gateway_subnet, "10.1.0.0/27", VNET)
    assert str(err) == (
        "GatewaySubnet 10.1.0.0/27 is not inside the VNet address space (172.16.0.0/16); pick a "
        "free range inside it or add an address space to the VNet first."
    )


def test_it_refuses_a_gateway_subnet_straddling_two_vnet_prefixes():
    err = refusal(validate_gateway_subnet, "10.0.0.0/23", ["10.0.0.0/24", "10.0.1.0/24"])
    assert "is not inside the VNet address space (10.0.0.0/24, 10.0.1.0/24)" in str(err)


def test_it_refuses_a_gateway_subnet_overlapping_a_workload_subnet():
    err = refusal(validate_gateway_subnet, "172.16.20.0/27", VNET, WORKLOAD)
    assert str(err) == (
        "GatewaySubnet 172.16.20.0/27 overlaps the existing subnet 'workload' (172.16.20.0/24); "
        "choose a free range of the VNet."
    )


def test_it_refuses_a_second_gateway_subnet_but_adopts_the_same_one():
    existing = [*WORKLOAD, ("GatewaySubnet", "172.16.19.224/27")]
    assert validate_gateway_subnet("172.16.19.224/27", VNET, existing) == "172.16.19.224/27"
    err = refusal(validate_gateway_subnet, "172.16.18.0/27", VNET, existing)
    assert str(err) == (
        "The VNet already has a GatewaySubnet (172.16.19.224/27); a VNet has only one. Use "
        "172.16.19.224/27, or delete the existing one if nothing is deployed in it."
    )


def test_it_refuses_host_bits_and_names_the_right_prefix():
    err = refusal(validate_gateway_subnet, "172.16.19.230/27", VNET)
    assert str(err) == (
        "GatewaySubnet 172.16.19.230/27 has host bits set; for a /27 the prefix is 172.16.19.224/27."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "banana",
            "GatewaySubnet 'banana' has no prefix length; write it as a CIDR such as 10.0.0.0/24.",
        ),
        (
            "172.16.19.224",
            "GatewaySubnet '172.16.19.224' has no prefix length; write it as a CIDR such as 10.0.0.0/24.",
        ),
        (
            "300.1.1.0/27",
            "GatewaySubnet '300.1.1.0/27' is not a valid IPv4 CIDR; write it like 10.0.0.0/24.",
        ),
        (
            "fd00::/64",
            "GatewaySubnet fd00::/64 is IPv6; Azure site-to-site BGP here is IPv4 only, use an IPv4 CIDR.",
        ),
    ],
)
def test_it_refuses_unreadable_prefixes(text, message):
    assert str(refusal(validate_gateway_subnet, text, VNET)) == message


def test_it_refuses_an_empty_vnet_address_space():
    err = refusal(validate_gateway_subnet, "172.16.19.224/27", [])
    assert err.field == "vnet_prefixes"
    assert "has no address space" in str(err)


# ---- proposing ----------------------------------------------------------------------------


def test_the_proposal_sits_below_the_hint():
    assert propose_gateway_subnet(VNET, near="172.16.100.0/24") == "172.16.99.224/27"


def test_a_hint_whose_neighbour_is_taken_falls_back_to_the_highest_free_block():
    subnets = [("app", "172.16.100.0/24"), ("db", "172.16.99.0/24")]
    assert propose_gateway_subnet(VNET, subnets, near="172.16.100.0/24") == "172.16.255.224/27"


def test_the_proposal_adopts_an_existing_gateway_subnet():
    assert propose_gateway_subnet(VNET, [("GatewaySubnet", "172.16.0.0/27")]) == "172.16.0.0/27"


def test_the_proposal_falls_back_to_the_highest_free_block_when_nothing_below_is_free():
    subnets = [("a", "172.16.0.0/24")]  # nothing below 172.16.0.0 inside the VNet
    assert propose_gateway_subnet(VNET, subnets) == "172.16.255.224/27"


def test_the_proposal_is_none_when_the_vnet_is_full():
    assert propose_gateway_subnet(["10.0.0.0/24"], [("all", "10.0.0.0/24")]) is None


def test_the_proposal_skips_a_block_that_is_partly_used():
    subnets = [("app", "172.16.20.0/24"), ("small", "172.16.19.240/28")]
    proposal = propose_gateway_subnet(VNET, subnets)
    assert proposal == "172.16.19.192/27"
    assert validate_gateway_subnet(proposal, VNET, subnets) == proposal


# ---- BGP addressing: default mode -----------------------------------------------------------


def test_a_bgp_ip_on_the_network_address_of_its_30_cannot_have_a_transit():
    err = refusal(transit_for_azure_default, "10.1.0.4")
    assert str(err) == (
        "Azure's BGP IP 10.1.0.4 is the network address of its /30 (10.1.0.4/30), so no VTI /30 "
        "can hold it; use a host address such as 10.1.0.5 or 10.1.0.6."
    )


def test_a_bgp_ip_of_another_host_puts_pfsense_on_the_other_host():
    assert transit_for_azure_default("172.16.255.29").pfsense_ip == "172.16.255.30"


# ---- BGP addressing: APIPA ------------------------------------------------------------------


def test_apipa_chooses_the_first_30_with_pfsense_on_1_and_azure_on_2():
    assert transit_for_apipa() == Transit("169.254.21.0/30", "169.254.21.1", "169.254.21.2")


def test_apipa_skips_taken_addresses():
    assert transit_for_apipa(taken=["169.254.21.2", "169.254.21.4/30"]).network == "169.254.21.8/30"


def test_apipa_derives_pfsense_from_azure_and_back():
    assert transit_for_apipa("169.254.22.6").pfsense_ip == "169.254.22.5"
    assert transit_for_apipa(pfsense_ip="169.254.22.5").azure_ip == "169.254.22.6"


def test_apipa_accepts_a_matching_pair():
    assert transit_for_apipa("169.254.21.1", "169.254.21.2") == Transit(
        "169.254.21.0/30", "169.254.21.2", "169.254.21.1"
    )


def test_apipa_refuses_an_address_outside_azures_range():
    err = refusal(transit_for_apipa, "169.254.20.2")
    assert err.field == "azure_apipa_ip"
    assert str(err) == (
        "Azure APIPA BGP IP 169.254.20.2 is outside Azure's APIPA range "
        "169.254.21.0-169.254.22.255; pick an address in that range, such as 169.254.21.2."
    )


def test_apipa_refuses_a_pair_from_different_30s():
    err = refusal(transit_for_apipa, "169.254.21.2", "169.254.21.5")
    assert err.field == "onprem_apipa_ip"
    assert str(err) == (
        "pfSense APIPA address 169.254.21.5 is not in the same /30 as Azure's 169.254.21.2 "
        "(169.254.21.0/30); use 169.254.21.1."
    )


def test_apipa_refuses_the_same_address_on_both_ends():
    err = refusal(transit_for_apipa, "169.254.21.2", "169.254.21.2")
    assert "both use 169.254.21.2" in str(err)


def test_apipa_refuses_an_address_already_used_by_another_connection():
    err = refusal(transit_for_apipa, "169.254.21.2", taken=["169.254.21.2"])
    assert str(err) == (
        "Azure's APIPA address 169.254.21.2 is already used by another connection; APIPA "
        "addresses must be unique per gateway - pick another /30."
    )


def test_apipa_refuses_when_every_30_is_taken():
    err = refusal(transit_for_apipa, taken=["169.254.21.0/24", "169.254.22.0/24"])
    assert "Every /30 of 169.254.21.0-169.254.22.255 is already used" in str(err)


def test_transit_for_an_apipa_intent_is_known_up_front():
    intent = dataclasses.replace(
        CANONICAL, bgp_mode="apipa", azure_apipa_ip="169.254.21.2", onprem_apipa_ip="169.254.21.1"
    )
    assert transit_for(intent) == Transit("169.254.21.0/30", "169.254.21.1", "169.254.21.2")


# ---- on-prem BGP peer IP -------------------------------------------------------------------


def test_it_refuses_an_onprem_bgp_ip_inside_the_vnet():
    err = refusal(validate_onprem_bgp_ip, "172.16.1.1", VNET)
    assert err.field == "onprem_bgp_ip"
    assert str(err) == (
        "On-prem BGP peer IP 172.16.1.1 lies inside the VNet address space 172.16.0.0/16; Azure "
        "would route it into the VNet. Use an address of your home network, such as pfSense's "
        "LAN address."
    )


def test_it_refuses_the_public_ip_as_bgp_peer():
    err = refusal(validate_onprem_bgp_ip, "203.0.113.2", VNET, "203.0.113.2")
    assert str(err) == (
        "On-prem BGP peer IP 203.0.113.2 is the site's public IP; Azure requires the BGP peer to "
        "differ from it. Use pfSense's LAN address instead."
    )


@pytest.mark.parametrize(
    ("ip", "why"),
    [
        ("127.0.0.1", "is a host loopback (127.0.0.0/8) that never leaves pfSense"),
        ("224.0.0.5", "is a multicast address"),
        ("0.0.0.0", "is in 0.0.0.0/8 ('this network')"),
    ],
)
def test_it_refuses_addresses_that_cannot_be_a_bgp_peer(ip, why):
    assert str(refusal(validate_onprem_bgp_ip, ip, VNET)) == (
        f"On-prem BGP peer IP {ip} {why}; use pfSense's LAN address (e.g. 10.0.0.1)."
    )


def test_it_refuses_sloppy_ip_spellings():
    assert str(refusal(validate_onprem_bgp_ip, "10.1", VNET)) == (
        "On-prem BGP peer IP '10.1' is not an IPv4 address; write it like 10.0.0.1."
    )
    assert "is not an IPv4 address" in str(refusal(validate_onprem_bgp_ip, "pfsense.lan", VNET))


# ---- advertised prefixes -------------------------------------------------------------------


def test_it_refuses_advertising_a_prefix_that_overlaps_the_vnet():
    err = refusal(validate_advertised_prefixes, ["10.0.0.0/24", "172.16.20.0/24"], VNET)
    assert err.field == "lan_prefixes"
    assert str(err) == (
        "Advertised prefix 172.16.20.0/24 overlaps the VNet address space 172.16.0.0/16; Azure "
        "would have two routes for the same addresses. Renumber the home network or advertise "
        "only prefixes outside the VNet."
    )


def test_it_refuses_advertising_a_supernet_of_the_vnet():
    assert "overlaps the VNet" in str(refusal(validate_advertised_prefixes, ["0.0.0.0/0"], VNET))


def test_it_refuses_a_prefix_listed_twice():
    err = refusal(validate_advertised_prefixes, ["10.0.0.0/24", "10.0.0.0/24"], VNET)
    assert str(err) == "Advertised prefix 10.0.0.0/24 is listed twice; remove one."


def test_it_refuses_more_than_4000_prefixes():
    many = [f"10.{i // 256}.{i % 256}.0/24" for i in range(4001)]
    err = refusal(validate_advertised_prefixes, many, VNET)
    assert str(err) == (
        "pfSense would advertise 4001 prefixes; Azure accepts at most 4000 and drops the BGP "
        "session beyond that. Summarise them."
    )
    assert len(validate_advertised_prefixes(many[:4000], VNET)) == 4000


# ---- the whole intent ----------------------------------------------------------------------


def problems(**changes) -> list[tuple[str, str]]:
    return validate_intent(dataclasses.replace(CANONICAL, **changes))


def test_an_intent_with_a_reserved_onprem_asn_names_the_field():
    assert problems(onprem_asn=65517) == [
        (
            "onprem_asn",
            "The on-prem (pfSense) ASN 65517 is reserved by Azure for its own routing, so Azure "
            "refuses it. Pick a private ASN (64512-65514, 65521-65534 or 4200000000-4294967294) "
            "such as 65010.",
        )
    ]


def test_an_intent_with_equal_asns_is_refused():
    assert [f for f, _ in problems(onprem_asn=65020, azure_asn=65020)] == ["onprem_asn"]


def test_an_intent_with_a_small_gateway_subnet_is_refused():
    assert [f for f, _ in problems(gateway_subnet_prefix="172.16.19.240/28")] == [
        "gateway_subnet_prefix"
    ]


def test_an_intent_with_a_legacy_sku_is_refused():
    assert problems(sku="VpnGw1") == [
        (
            "sku",
            "Non-zone-redundant VpnGw1 is being retired by Azure and should not be used for new "
            "gateways; use VpnGw1AZ instead (same size, zone-redundant).",
        )
    ]


def test_an_intent_without_any_home_address_is_refused():
    assert [f for f, _ in problems(onprem_fqdn="", onprem_public_ip="")] == ["onprem_fqdn"]


def test_an_intent_with_a_broken_fqdn_is_refused():
    [(field, message)] = problems(onprem_fqdn="home s2s")
    assert field == "onprem_fqdn"
    assert "is not a valid DNS name" in message


def test_an_intent_that_advertises_nothing_is_refused():
    assert [f for f, _ in problems(lan_prefixes=())] == ["lan_prefixes"]


def test_an_intent_that_advertises_vnet_space_is_refused():
    assert [f for f, _ in problems(lan_prefixes=("172.16.20.0/24",))] == ["lan_prefixes"]


def test_an_intent_whose_lng_lists_the_bgp_peer_host_route_is_refused():
    [(field, message)] = problems(lng_prefixes=("10.0.0.1/32",))
    assert field == "lng_prefixes"
    assert message.startswith("Do not add the BGP peer's host route 10.0.0.1/32")


def test_an_intent_where_azure_initiates_through_nat_is_refused():
    [(field, message)] = problems(connection_mode="InitiatorOnly")
    assert field == "connection_mode"
    assert "Azure can never reach it" in message
    assert problems(connection_mode="InitiatorOnly", ports_forwarded=True) == []


def test_an_intent_with_a_bad_dpd_timeout_is_refused():
    assert problems(dpd_timeout_seconds=5) == [
        (
            "dpd_timeout_seconds",
            "DPD timeout 5 s is outside Azure's 9-3600 s; use 45 (Azure's default).",
        )
    ]


def test_an_intent_with_a_gcm_mismatch_reports_it_on_the_policy():
    bad = dataclasses.replace(CANONICAL.policy, ipsec_integrity="SHA256")
    [(field, message)] = problems(policy=bad)
    assert field == "policy"
    assert "Azure requires a GCM algorithm on both or neither" in message


def test_an_apipa_intent_with_a_matching_lng_bgp_ip_is_fine():
    assert (
        problems(
            bgp_mode="apipa",
            azure_apipa_ip="169.254.21.2",
            onprem_apipa_ip="169.254.21.1",
            onprem_bgp_ip="169.254.21.1",
        )
        == []
    )


def test_an_apipa_intent_with_the_lan_address_as_bgp_ip_is_refused():
    [(field, message)] = problems(
        bgp_mode="apipa", azure_apipa_ip="169.254.21.2", onprem_apipa_ip="169.254.21.1"
    )
    assert field == "onprem_bgp_ip"
    assert "Azure speaks BGP from its APIPA address only to APIPA peers" in message


def test_an_apipa_intent_with_a_bgp_ip_from_another_30_is_refused():
    [(field, message)] = problems(
        bgp_mode="apipa",
        azure_apipa_ip="169.254.21.2",
        onprem_apipa_ip="169.254.21.1",
        onprem_bgp_ip="169.254.21.9",
    )
    assert (field, message) == (
        "onprem_bgp_ip",
        "On-prem BGP IP 169.254.21.9 is not pfSense's APIPA address 169.254.21.1; use 169.254.21.1.",
    )


def test_a_default_mode_intent_with_an_apipa_bgp_ip_asks_for_apipa_mode():
    assert [f for f, _ in problems(onprem_bgp_ip="169.254.21.1")] == ["bgp_mode"]


def test_an_intent_with_overlapping_vnet_prefixes_is_refused():
    found = problems(vnet_prefixes=("172.16.0.0/16", "172.16.0.0/12"))
    assert (
        "vnet_prefixes",
        "VNet prefixes 172.16.0.0/16 and 172.16.0.0/12 overlap; list each range once.",
    ) in found


def test_an_intent_round_trips_through_a_dict_and_stays_valid():
    assert validate_intent(SiteIntent.from_dict(CANONICAL.to_dict())) == []


# ---- properties ----------------------------------------------------------------------------

prefixlens = st.integers(min_value=8, max_value=24)


@st.composite
def vnets_with_subnets(draw):
    plen = draw(prefixlens)
    base = draw(st.integers(min_value=0, max_value=2**32 - 1)) >> (32 - plen) << (32 - plen)
    vnet = IPNetwork(f"{IPAddress(base)}/{plen}")
    subnets = []
    taken = IPSet()
    for i in range(draw(st.integers(min_value=0, max_value=6))):
        slen = draw(st.integers(min_value=plen, max_value=29))
        offset = draw(st.integers(min_value=0, max_value=2 ** (slen - plen) - 1))
        sub = IPNetwork(f"{IPAddress(vnet.first + offset * 2 ** (32 - slen))}/{slen}")
        if not (IPSet([sub]) & taken):
            taken.add(sub)
            subnets.append((f"s{i}", str(sub)))
    return [str(vnet)], subnets


@settings(max_examples=300, deadline=None)
@given(vnets_with_subnets())
def test_proposed_gateway_subnets_lie_inside_the_vnet_and_overlap_nothing(case):
    vnet_prefixes, subnets = case
    proposal = propose_gateway_subnet(vnet_prefixes, subnets)
    free = IPSet(vnet_prefixes) - IPSet(s for _, s in subnets)
    if proposal is None:
        assert not any(c.prefixlen <= 27 for c in free.iter_cidrs())
        return
    net = IPNetwork(proposal)
    assert net.prefixlen == 27
    assert IPSet([net]).issubset(free)
    assert validate_gateway_subnet(proposal, vnet_prefixes, subnets) == proposal


@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=16, max_value=29))
def test_default_mode_transits_contain_both_ends(base, plen):
    gw = IPNetwork(f"{IPAddress(base)}/{plen}").cidr
    azure = azure_default_bgp_ip(str(gw))
    transit = transit_for_azure_default(azure)
    net = IPNetwork(transit.network)
    assert net.prefixlen == 30
    assert {IPAddress(transit.pfsense_ip), IPAddress(transit.azure_ip)} == {
        IPAddress(net.first + 1),
        IPAddress(net.first + 2),
    }
    assert IPAddress(azure) in gw


@given(
    st.integers(min_value=0, max_value=511).map(
        lambda i: str(IPAddress(IPNetwork("169.254.21.0").first + i))
    )
)
def test_apipa_transits_contain_both_ends_in_azures_range(ip):
    assume(IPAddress(ip).value % 4 in (1, 2))
    transit = transit_for_apipa(azure_ip=ip)
    net = IPNetwork(transit.network)
    assert IPAddress(transit.pfsense_ip) in net and IPAddress(transit.azure_ip) in net
    assert transit.pfsense_ip != transit.azure_ip
    assert IPSet([net]).issubset(IPSet(["169.254.21.0/24", "169.254.22.0/24"]))
    assert transit_for_apipa(transit.azure_ip, transit.pfsense_ip) == transit


@given(st.lists(st.integers(min_value=0, max_value=511), max_size=40))
def test_chosen_apipa_transits_never_touch_taken_addresses(offsets):
    taken = [str(IPAddress(IPNetwork("169.254.21.0/32").first + o)) for o in offsets]
    transit = transit_for_apipa(taken=taken)
    assert not (IPSet([transit.network]) & IPSet(taken))


addresses = st.one_of(
    st.just(""),
    st.text(max_size=12),
    st.integers(min_value=0, max_value=2**32 - 1).map(lambda v: str(IPAddress(v))),
    st.sampled_from(["10.0.0.1", "172.16.19.254", "169.254.21.1", "169.254.21.2", "203.0.113.2"]),
)
cidrs = st.one_of(
    st.text(max_size=12),
    st.tuples(
        st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=0, max_value=32)
    ).map(lambda t: str(IPNetwork(f"{IPAddress(t[0])}/{t[1]}").cidr)),
    st.sampled_from(["172.16.0.0/16", "172.16.19.224/27", "10.0.0.0/24", "172.16.20.0/24"]),
)


@settings(max_examples=300, deadline=None)
@given(
    vnet_prefixes=st.lists(cidrs, max_size=3).map(tuple),
    gateway_subnet_prefix=cidrs,
    bgp_mode=st.sampled_from(["azure_default", "apipa"]),
    azure_apipa_ip=addresses,
    onprem_apipa_ip=addresses,
    onprem_bgp_ip=addresses,
    onprem_public_ip=addresses,
    lan_prefixes=st.lists(cidrs, max_size=3).map(tuple),
    azure_asn=st.integers(min_value=-1, max_value=2**32),
    onprem_asn=st.integers(min_value=-1, max_value=2**32),
)
def test_validating_any_intent_never_crashes_and_names_real_fields(**changes):
    found = validate_intent(dataclasses.replace(CANONICAL, **changes))
    names = {f.name for f in dataclasses.fields(SiteIntent)}
    for field, message in found:
        assert field in names, (field, message)
        assert message and message[-1] in ".)", message
