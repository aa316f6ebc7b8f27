"""FRR's vtysh JSON, every recorded shape, in our own words (s2svpn.frr)."""

from __future__ import annotations

import json

import pytest

from s2svpn import frr
from s2svpn.status import BgpState
from tests.pfsense.conftest import FIXTURES, SHARED

LAB = SHARED / "reference" / "lab" / "samples"
EVERY_FILE = sorted(
    [
        *FIXTURES.glob("frr/**/*.json"),
        *FIXTURES.glob("synthesized/frr/*.json"),
        *LAB.glob("frr-*.json"),
    ]
)


def load(path):
    return path.read_text()


def parser_for(path):
    name = path.name
    if "received_routes" in name:
        return frr.parse_received_routes
    if "advertised" in name:
        return frr.parse_advertised_routes
    if (
        "neighbor-routes" in name
        or name.endswith("neighbors_routes.json")
        or name.endswith("show-ip-bgp.json")
    ):
        return frr.parse_routes
    if "summary" in name and "route" in name:
        return frr.parse_route_summary
    if "summary" in name:
        return frr.parse_summary
    if "neighbors" in name:
        return frr.parse_neighbors
    if "nexthop" in name:
        return frr.parse_nexthops
    if "show-ip-route" in name:
        return frr.parse_ip_route
    raise AssertionError(f"no parser chosen for {name}")


def test_the_fixture_set_is_the_one_the_issue_names():
    assert len(EVERY_FILE) == 27  # 8 frr_exporter/topotest + 7 synthesized + 12 lab
    assert any("frr-onprem" in p.name for p in EVERY_FILE)


@pytest.mark.parametrize("path", EVERY_FILE, ids=lambda p: p.name)
def test_every_recorded_frr_output_parses(path):
    parse = parser_for(path)
    if parse is frr.parse_received_routes:
        with pytest.raises(frr.FrrWarning, match="soft reconfiguration"):
            parse(load(path))
        return
    result = parse(load(path))
    assert result, f"{path.name} parsed to nothing"


def test_a_bare_summary_of_the_azure_peer_is_established_with_prefixes():
    (peer,) = frr.parse_summary(
        load(FIXTURES / "synthesized/frr/azure_show_bgp_ipv4_unicast_summary.json")
    )
    assert (peer.neighbor, peer.asn, peer.state) == ("172.16.19.254", 65515, BgpState.ESTABLISHED)
    assert (peer.prefixes_received, peer.prefixes_sent) == (3, 1)
    assert peer.uptime_seconds == 3723.0
    assert (peer.messages_received, peer.messages_sent) == (75, 70)


def test_established_with_peer_state_policy_is_the_ebgp_policy_trap():
    (peer,) = frr.parse_summary(
        load(FIXTURES / "synthesized/frr/azure_show_bgp_ipv4_unicast_summary_policy_blocked.json")
    )
    assert peer.state == BgpState.POLICY
    assert peer.prefixes_received == 0


def test_a_peer_that_never_came_up_is_active_without_uptime():
    (peer,) = frr.parse_summary(
        load(FIXTURES / "synthesized/frr/azure_show_bgp_ipv4_unicast_summary_down.json")
    )
    assert peer.state == BgpState.ACTIVE
    assert peer.uptime_seconds is None


def test_the_wrapped_and_the_bare_summary_read_the_same():
    bare = frr.parse_summary(
        load(FIXTURES / "synthesized/frr/azure_show_bgp_ipv4_unicast_summary.json")
    )
    wrapped = frr.parse_summary(
        load(FIXTURES / "synthesized/frr/azure_show_ip_bgp_summary_wrapped.json")
    )
    assert bare == wrapped


def test_vrf_wrapped_summaries_mix_old_and_new_prefix_counters():
    peers = frr.parse_summary(
        load(FIXTURES / "frr/frr_exporter/show_bgp_vrf_all_ipv4_summary.json")
    )
    by_ip = {p.neighbor: p for p in peers}
    assert set(by_ip) == {"192.168.0.2", "192.168.0.3", "192.168.0.4", "192.168.1.2", "192.168.1.3"}
    assert by_ip["192.168.1.2"].prefixes_received == 2  # prefixReceivedCount
    assert by_ip["192.168.0.3"].prefixes_received == 2  # pfxRcd
    assert by_ip["192.168.0.4"].state == BgpState.IDLE  # "Idle (Admin)"
    assert [
        p.neighbor
        for p in frr.parse_summary(
            load(FIXTURES / "frr/frr_exporter/show_bgp_vrf_all_ipv4_summary.json"), vrf="red"
        )
    ] == ["192.168.1.2", "192.168.1.3"]


def test_ipv6_vrf_summaries_pick_the_ipv6_family():
    peers = frr.parse_summary(
        load(FIXTURES / "frr/frr_exporter/show_bgp_vrf_all_ipv6_summary.json")
    )
    assert {p.neighbor for p in peers} == {"fd00::1", "fd00::5", "fd00::101", "fd00::105"}


def test_the_lab_neighbor_detail_reads_state_counters_and_local_address():
    (peer,) = frr.parse_neighbors(load(LAB / "frr-onprem-show-ip-bgp-neighbors.json"))
    assert (peer.neighbor, peer.asn, peer.state) == ("172.16.255.30", 65515, BgpState.ESTABLISHED)
    assert (peer.prefixes_received, peer.prefixes_sent) == (1, 1)
    assert peer.local_address == "10.0.0.1"


def test_trimmed_vrf_neighbors_are_kept_with_unknown_state():
    peers = frr.parse_neighbors(load(FIXTURES / "frr/frr_exporter/show_bgp_vrf_all_neighbors.json"))
    assert {p.neighbor for p in peers} == {"swp2", "10.1.1.10", "10.2.0.1"}
    assert {p.state for p in peers} == {BgpState.UNKNOWN}


def test_learned_routes_carry_next_hop_and_as_path():
    routes = frr.parse_routes(
        load(FIXTURES / "synthesized/frr/azure_show_bgp_ipv4_unicast_neighbors_routes.json")
    )
    assert next((r.prefix, r.next_hop, r.as_path, r.origin) for r in routes) == (
        "10.20.0.0/16",
        "172.16.19.254",
        "65515",
        "IGP",
    )
    lab = frr.parse_routes(load(LAB / "frr-onprem-show-ip-bgp-neighbor-routes.json"))
    assert [r.prefix for r in lab] == ["172.16.0.0/16"]


def test_advertised_routes_read_the_origin_code_when_there_is_no_origin_word():
    (route,) = frr.parse_advertised_routes(
        load(LAB / "frr-onprem-show-ip-bgp-neighbor-advertised-routes.json")
    )
    assert (route.prefix, route.next_hop, route.origin) == ("10.0.0.0/24", "0.0.0.0", "IGP")


def test_the_rib_shows_the_bgp_route_through_the_tunnel():
    (route,) = frr.parse_ip_route(load(LAB / "frr-onprem-show-ip-route.json"), protocol="bgp")
    assert (route.prefix, route.next_hop, route.interface, route.installed) == (
        "172.16.0.0/16",
        "172.16.255.30",
        "ipsec0",
        True,
    )


def test_nexthops_and_route_summaries_parse():
    hops = frr.parse_nexthops(load(FIXTURES / "frr/frr_exporter/show_ip_bgp_vrf_all_nexthop.json"))
    assert [(h.address, h.valid, h.interfaces) for h in hops] == [
        ("10.1.2.1", True, ("eth1",)),
        ("10.2.2.1", True, ("eth2",)),
    ]
    summary = frr.parse_route_summary(
        load(FIXTURES / "frr/frr_exporter/show_ip_route_vrf_all_summary.json"), vrf="red"
    )
    assert summary["ebgp"] == 1000504


def test_non_json_output_means_frr_is_not_running():
    response = json.loads(
        load(
            FIXTURES
            / "synthesized/restapi/diagnostics_command_prompt_vtysh_not_running_response.json"
        )
    )
    with pytest.raises(frr.FrrNotRunning, match="failed to connect to any daemons"):
        frr.load_output(response["data"]["output"], response["data"]["result_code"])


def test_the_command_endpoint_answer_carries_the_summary_as_a_string():
    response = json.loads(
        load(FIXTURES / "synthesized/restapi/diagnostics_command_prompt_post_response.json")
    )
    (peer,) = frr.parse_summary(
        frr.load_output(response["data"]["output"], response["data"]["result_code"])
    )
    assert peer.state == BgpState.ESTABLISHED


@pytest.mark.parametrize(
    ("state", "peer_state", "expected"),
    [
        ("Established", "OK", BgpState.ESTABLISHED),
        ("Established", "Policy", BgpState.POLICY),
        ("OpenSent", None, BgpState.OPENSENT),
        ("OpenConfirm", None, BgpState.OPENCONFIRM),
        ("Connect", None, BgpState.CONNECT),
        ("Idle (PfxCt)", None, BgpState.IDLE),
        ("Weird", None, BgpState.UNKNOWN),
    ],
)
def test_frr_states_are_normalised(state, peer_state, expected):
    assert frr.normalise_state(state, peer_state) == expected
