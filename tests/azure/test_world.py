"""The ARM sandbox and the shared World together: what Azure reports follows what pfSense does.

The pfSense half is given directly as a ``PfSenseEnd`` (the pfSense sandbox publishes the same
thing); the World's own rules decide, and the client reads the result through the real SDK.
"""

from __future__ import annotations

import pytest

from s2svpn.sandbox.arm import ArmSandbox
from s2svpn.sandbox.world import PfSenseEnd, World
from s2svpn.status import BgpState, TunnelState
from tests.sandbox.ends import pfsense_end

from .conftest import PSK, client_for, provision, seed_site


def home_firewall(azure_ip: str, intent, **changes) -> PfSenseEnd:
    canonical = {"remote_gateway": azure_ip, "psk": PSK, "networks": tuple(intent.lan_prefixes)}
    return pfsense_end(intent.policy, **{**canonical, **changes})


@pytest.fixture
def connected(tmp_path):
    world = World()
    with ArmSandbox(tmp_path, profile="fast", world=world) as sb:
        intent = seed_site(sb)
        client = client_for(sb)
        _, pips, _, _, _ = provision(client, intent)
        world.set_pfsense("fw", home_firewall(pips[0].ip_address, intent))
        yield world, client, intent, pips[0].ip_address


def test_the_canonical_tunnel_comes_up_with_bgp_routes_from_home(connected):
    _, client, intent, _ = connected
    status = client.read_status(intent)
    assert status.error == "" and status.tunnel == TunnelState.UP
    (peer,) = status.bgp_peers
    assert (peer.neighbor, peer.state) == ("10.0.0.1", BgpState.ESTABLISHED)
    learned = {(r.prefix, r.origin) for r in status.learned_routes}
    assert {
        ("10.0.0.0/24", "EBgp"),
        ("192.168.2.0/24", "EBgp"),
        ("172.16.0.0/16", "Network"),
    } <= learned


def test_a_different_psk_at_home_keeps_the_tunnel_down(connected):
    world, client, intent, azure_ip = connected
    world.set_pfsense("fw", home_firewall(azure_ip, intent, psk="SomethingElse1"))
    assert client.read_status(intent).tunnel == TunnelState.DOWN


def test_a_new_psk_set_through_azure_is_what_the_world_compares(connected):
    world, client, intent, _ = connected
    client.set_shared_key(intent, "Rotated77key")
    assert client.read_status(intent).tunnel == TunnelState.DOWN
    assert world.azure[client.get_connection(intent).id].psk == "Rotated77key"
