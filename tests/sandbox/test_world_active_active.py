"""World.evaluate for an active-active gateway: one tunnel per instance, each paired with the
phase 1 that points at that instance's public IP; a stopped instance takes only its own down."""

from __future__ import annotations

from s2svpn.sandbox.world import World
from tests.sandbox.test_world import azure_end, pfsense_end

SECOND_IP = "198.51.100.21"


def world_with_both() -> World:
    world = World()
    world.set_azure(
        "conn",
        azure_end(
            gateway_public_ips=("198.51.100.20", SECOND_IP),
            azure_bgp_ips=("172.16.19.228", "172.16.19.229"),
        ),
    )
    world.set_pfsense(
        "fw",
        pfsense_end(p2_local="172.16.19.254", p2_remote="172.16.19.228", neighbor="172.16.19.228"),
    )
    world.set_pfsense(
        "fw#con2",
        pfsense_end(
            firewall_id="fw#con2",
            remote_gateway=SECOND_IP,
            ikeid=2,
            reqid=2,
            p2_local="172.16.19.253",
            p2_remote="172.16.19.229",
            neighbor="172.16.19.229",
        ),
    )
    return world


def test_each_instance_has_its_own_tunnel_and_session():
    views = world_with_both().view()
    assert [(v.instance, v.pfsense_key, v.azure_public_ip) for v in views] == [
        (0, "fw", "198.51.100.20"),
        (1, "fw#con2", SECOND_IP),
    ]
    assert all(v.child_up and v.bgp_azure_state == "Connected" for v in views)
    assert all(v.azure_learned == ("10.0.0.0/24", "192.168.2.0/24") for v in views)


def test_a_stopped_instance_takes_down_only_its_own_tunnel():
    world = world_with_both()
    world.stopped_instances.add(SECOND_IP)
    first, second = world.view()
    assert first.child_up and first.bgp_pfsense_state == "Established"
    assert not second.ike_up and second.bgp_pfsense_state == "Idle"
    assert "instance 1 (198.51.100.21) is stopped" in second.reason


def test_a_neighbour_pointing_at_the_other_instance_does_not_establish():
    world = world_with_both()
    world.set_pfsense(
        "fw#con2",
        pfsense_end(
            firewall_id="fw#con2",
            remote_gateway=SECOND_IP,
            p2_local="172.16.19.253",
            p2_remote="172.16.19.229",
            neighbor="172.16.19.228",  # instance 0's address over instance 1's tunnel
        ),
    )
    _, second = world.view()
    assert second.child_up and second.bgp_pfsense_state != "Established"
    assert "172.16.19.228 is not Azure's BGP address (172.16.19.229)" in second.reason
