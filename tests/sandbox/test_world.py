"""World.evaluate: the sandboxes' shared physics, one rule per test (canonical scenario first)."""

from __future__ import annotations

import pytest

from s2svpn.intent import IpsecPolicy
from s2svpn.sandbox.world import AzureEnd, PfSenseEnd, World
from tests.sandbox.ends import PSK, azure_end, pfsense_end


def view(azure: AzureEnd | None = None, pfsense: PfSenseEnd | None = None, world=None):
    world = world or World()
    world.set_azure("conn", azure or azure_end())
    world.set_pfsense("fw", pfsense or pfsense_end())
    (result,) = world.view()
    return result


def test_the_canonical_scenario_is_up_with_routes_learned_on_both_sides():
    v = view()
    assert (v.ike_up, v.child_up) == (True, True)
    assert v.bgp_azure_state == "Connected"
    assert v.bgp_pfsense_state == "Established"
    assert v.azure_learned == ("10.0.0.0/24", "192.168.2.0/24")
    assert v.pfsense_learned == ("172.16.0.0/16",)
    assert v.negotiated == {"ike": "aes256-sha256-modp2048", "esp": "aes256gcm16"}
    assert v.resolved_ip == "203.0.113.2"
    assert v.reason == ""


def test_it_pairs_the_firewall_whose_phase1_points_at_the_gateway():
    world = World()
    world.set_pfsense("other", pfsense_end(remote_gateway="192.0.2.99"))
    v = view(world=world)
    assert v.pfsense_key == "fw"


def test_it_is_down_without_a_firewall_pointing_at_the_gateway():
    v = view(pfsense=pfsense_end(remote_gateway="192.0.2.99"))
    assert v.pfsense_key is None and not v.ike_up
    assert "no pfSense phase 1 points at" in v.reason


def test_it_is_down_while_the_gateway_is_being_built():
    v = view(azure=azure_end(gateway_ready=False))
    assert not v.ike_up
    assert "still being built" in v.reason


def test_it_is_down_when_phase1_is_disabled():
    v = view(pfsense=pfsense_end(phase1_disabled=True))
    assert not v.ike_up and "disabled" in v.reason


def test_a_stale_dns_record_points_azure_at_the_wrong_peer():
    world = World()
    world.dns["home-s2s.example.net"] = "203.0.113.77"
    v = view(world=world)
    assert not v.ike_up
    assert v.resolved_ip == "203.0.113.77"
    assert "resolved home-s2s.example.net to 203.0.113.77" in v.reason
    assert "home router is at 203.0.113.2" in v.reason


def test_an_unresolvable_fqdn_keeps_the_tunnel_down():
    world = World()
    world.dns.clear()
    v = view(world=world)
    assert not v.ike_up and "cannot resolve" in v.reason


def test_azure_keeps_its_cached_address_while_the_tunnel_is_up():
    world = World()
    assert view(world=world).child_up
    world.dns["home-s2s.example.net"] = "203.0.113.77"  # DDNS moved, tunnel still up
    v = view(world=world)
    assert v.child_up and v.resolved_ip == "203.0.113.2"


def test_a_down_tunnel_re_resolves_and_follows_a_ddns_change():
    world = World()
    world.dns["home-s2s.example.net"] = "203.0.113.77"
    assert not view(world=world).ike_up  # stale record: down, and Azure cached .77
    world.dns["home-s2s.example.net"] = "203.0.113.2"  # the DDNS client catches up
    v = view(world=world)
    assert v.child_up and v.resolved_ip == "203.0.113.2"


def test_the_home_ip_changing_under_an_up_tunnel_needs_a_gateway_reset():
    world = World()
    assert view(world=world).child_up
    world.nat.public_ip = "203.0.113.9"
    world.dns["home-s2s.example.net"] = "203.0.113.9"
    # still cached .2, which no longer is the home router: down, and the next look re-resolves
    assert not view(world=world).child_up
    assert view(world=world).child_up
    # a reset also forces the lookup
    world.nat.public_ip = "203.0.113.2"
    world.dns["home-s2s.example.net"] = "203.0.113.2"
    v = view(azure=azure_end(reset_counter=1), world=world)
    assert v.child_up and v.resolved_ip == "203.0.113.2"


def test_an_ip_local_network_gateway_needs_no_dns():
    world = World()
    world.dns.clear()
    v = view(azure=azure_end(lng_fqdn="", lng_ip="203.0.113.2"), world=world)
    assert v.child_up and v.resolved_ip == ""


def test_responder_only_with_pfsense_not_initiating_stays_down():
    v = view(pfsense=pfsense_end(start_action="none"))
    assert not v.ike_up
    assert "ResponderOnly" in v.reason and "start" in v.reason


def test_an_empty_start_action_initiates_like_start():
    assert view(pfsense=pfsense_end(start_action="")).child_up


def test_initiator_only_behind_nat_without_forwarding_stays_down():
    v = view(azure=azure_end(connection_mode="InitiatorOnly"))
    assert not v.ike_up
    assert "home router drops Azure's IKE_SA_INIT" in v.reason


def test_initiator_only_works_when_the_router_forwards_ike():
    world = World()
    world.nat.ports_forwarded = True
    assert view(azure=azure_end(connection_mode="InitiatorOnly"), world=world).child_up


def test_default_mode_lets_either_side_start():
    assert view(azure=azure_end(connection_mode="Default")).child_up
    world = World()
    world.nat.ports_forwarded = True
    v = view(
        azure=azure_end(connection_mode="Default"),
        pfsense=pfsense_end(start_action="none"),
        world=world,
    )
    assert v.child_up


def test_default_mode_behind_nat_needs_pfsense_to_initiate():
    v = view(azure=azure_end(connection_mode="Default"), pfsense=pfsense_end(start_action="none"))
    assert not v.ike_up and "home router drops" in v.reason


def test_different_pre_shared_keys_fail_authentication_without_showing_the_key():
    v = view(pfsense=pfsense_end(psk="Another0Key0Entirely0Different00"))
    assert not v.ike_up
    assert "authentication failed: pre-shared keys differ" in v.reason
    assert PSK not in v.reason and "Another0Key" not in v.reason


def test_azure_accepts_the_private_ike_identity_pfsense_sends_behind_nat():
    """The seed tunnel came up with pfSense's default "My IP address" behind a FRITZ!Box, i.e.
    the private WAN address as IDi: Azure does not require IDi to be the LNG's address."""
    for ike_id in ("192.168.178.10", "dns:home-s2s.example.net"):
        v = view(pfsense=pfsense_end(ike_id=ike_id))
        assert v.ike_up and v.child_up, v.reason


def test_an_ike_proposal_mismatch_keeps_everything_down():
    pf = pfsense_end(policy=IpsecPolicy(dh_group="ECP384", pfs_group="ECP384"))
    v = view(pfsense=pf)
    assert (v.ike_up, v.child_up) == (False, False)
    assert "IKE proposal mismatch" in v.reason


def test_an_esp_mismatch_brings_ike_up_but_no_child():
    pf = pfsense_end(policy=IpsecPolicy(ipsec_encryption="AES256", ipsec_integrity="SHA256"))
    v = view(pfsense=pf)
    assert (v.ike_up, v.child_up) == (True, False)
    assert "ESP proposal mismatch" in v.reason
    assert v.bgp_pfsense_state == "Idle"


def test_a_pfs_mismatch_is_up_now_and_says_the_rekey_will_fail():
    v = view(pfsense=pfsense_end(pfs_group=0))
    assert v.child_up and v.bgp_pfsense_state == "Established"
    assert "PFS mismatch" in v.reason and "rekey" in v.reason


def test_azure_default_offers_need_dh_group_2_on_pfsense():
    v = view(azure=azure_end(policy=None))
    assert not v.ike_up and "Azure's default" in v.reason
    pf = pfsense_end(
        policy=IpsecPolicy("AES256", "SHA256", "DHGroup2", "GCMAES256", "GCMAES256", "None")
    )
    assert view(azure=azure_end(policy=None), pfsense=pf).child_up


def test_the_ebgp_policy_trap_establishes_but_exchanges_nothing():
    v = view(pfsense=pfsense_end(ebgp_requires_policy=True))
    assert v.bgp_pfsense_state == "Established" and v.bgp_azure_state == "Connected"
    assert v.bgp_policy_blocked
    assert v.azure_learned == () and v.pfsense_learned == ()
    assert "ebgp-requires-policy" in v.reason


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"local_asn": 65011}, "bad peer AS"),
        ({"neighbor_asn": 65516}, "bad peer AS"),
        ({"neighbor": "172.16.19.250"}, "not Azure's BGP address"),
        ({"update_source_ip": "172.16.19.253"}, "expects BGP from 10.0.0.1"),
        ({"ipsec_rule": False}, "IPsec (enc0) tab"),
        ({"frr_running": False}, "FRR (bgpd) is not running"),
        ({"frr_enabled": False}, "FRR (bgpd) is not running"),
        ({"vti_assigned": False}, "not assigned"),
        ({"p2_local": "10.99.0.1", "p2_remote": "10.99.0.2"}, "does not reach Azure's BGP"),
    ],
)
def test_bgp_stays_down_with_a_plain_reason(changes, words):
    v = view(pfsense=pfsense_end(**changes))
    assert v.child_up
    assert v.bgp_pfsense_state in ("Active", "Idle")
    assert v.bgp_azure_state == "Connecting"
    assert words in v.reason
    assert v.azure_learned == () and v.pfsense_learned == ()


def test_bgp_disabled_on_azure_stops_the_session():
    v = view(azure=azure_end(enable_bgp=False))
    assert v.child_up and v.bgp_azure_state == "Stopped"
    assert v.bgp_pfsense_state == "Active"


def test_apipa_addressing_is_up_on_the_vti_itself():
    az = azure_end(azure_bgp_ips=("169.254.21.2",), lng_bgp_ip="169.254.21.1")
    pf = pfsense_end(
        p2_local="169.254.21.1",
        p2_remote="169.254.21.2",
        neighbor="169.254.21.2",
        update_source_ip="169.254.21.1",
    )
    v = view(azure=az, pfsense=pf)
    assert v.bgp_pfsense_state == "Established"
    assert v.pfsense_learned == ("172.16.0.0/16",)


def test_each_azure_connection_gets_its_own_view():
    world = World()
    world.set_azure("a", azure_end(connection_id="a"))
    world.set_azure("b", azure_end(connection_id="b", gateway_public_ips=("198.51.100.99",)))
    world.set_pfsense("fw", pfsense_end())
    views = {v.azure_key: v for v in world.view()}
    assert views["a"].child_up and not views["b"].ike_up


def test_removing_an_end_removes_its_tunnel():
    world = World()
    world.set_azure("conn", azure_end())
    world.set_pfsense("fw", pfsense_end())
    world.set_pfsense("fw", None)
    (v,) = world.view()
    assert v.pfsense_key is None
    world.set_azure("conn", None)
    assert world.view() == []
