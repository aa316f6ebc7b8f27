"""LabWorld: the sandboxes' World answered by real strongSwan and FRR."""

from __future__ import annotations

import dataclasses

import pytest

from s2svpn.intent import CANONICAL, SiteIntent
from s2svpn.lab import scenario
from s2svpn.lab.harness import lab_namespaces

pytestmark = pytest.mark.lab

PSK = "Lab0World0Psk0abcdefghijklmnopqr"


@pytest.fixture
def lab_world(lab_ready, tmp_path):
    from s2svpn.lab.world import LabWorld

    world = LabWorld(tmp_path / "lab")
    yield world
    world.close()


def ends(intent: SiteIntent = CANONICAL):
    azure = scenario.azure_end_for(intent, psk=PSK)
    desired = scenario.desired_for(intent, psk=PSK, azure=azure)
    dns = {"home-s2s.example.net": "203.0.113.2"}
    return azure, scenario.pfsense_end_for(intent, desired, dns)


def settled_view(world, predicate, timeout=20.0):
    from s2svpn.lab.harness import wait_for

    world.settle()
    return wait_for(
        lambda: next((v for v in world.view() if predicate(v)), None),
        timeout,
        interval=0.2,
        what="the lab world view",
    )


def test_lab_world_reports_the_real_tunnel_bgp_and_routes(lab_world):
    azure, pfsense = ends()
    lab_world.set_azure("conn", azure)
    lab_world.set_pfsense("fw", pfsense)
    v = settled_view(lab_world, lambda v: v.bgp_pfsense_state == "Established" and v.azure_learned)
    assert v.ike_up and v.child_up and v.pfsense_key == "fw"
    assert v.negotiated["child_sa"]["encr-alg"] == "AES_GCM_16"
    assert v.bgp_azure_state == "Connected"
    assert set(v.azure_learned) == {"10.0.0.0/24", "192.168.2.0/24"}
    assert v.pfsense_learned == ("172.16.0.0/16",)
    assert v.reason == ""


def test_a_changed_psk_really_takes_the_tunnel_down_with_the_models_words(lab_world):
    azure, pfsense = ends()
    lab_world.set_azure("conn", azure)
    lab_world.set_pfsense("fw", dataclasses.replace(pfsense, psk="Not0The0Same0Key0at0all0xxxxxxx"))
    lab_world.settle()
    (v,) = lab_world.view()
    assert not v.ike_up and not v.child_up
    assert "pre-shared keys differ" in v.reason


def test_closing_the_lab_world_leaves_nothing_behind(lab_world):
    azure, pfsense = ends()
    lab_world.set_azure("conn", azure)
    lab_world.set_pfsense("fw", pfsense)
    lab_world.settle()
    assert lab_world.lab is not None and lab_world.lab.namespaces
    names = list(lab_world.lab.namespaces)
    lab_world.close()
    assert not set(names) & set(lab_namespaces())
