"""Pushing the canonical scenario into the pfSense sandbox, over real HTTPS (issue 4 acceptance)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from s2svpn import pfsense_push as push
from s2svpn.clients.errors import ClientError
from s2svpn.sandbox.pfsense import Fault
from tests.pfsense.conftest import AZURE_BGP_IP, AZURE_PUBLIC_IP, PSK


def desired_for(client, intent, state):
    return push.build_desired(
        intent, state, azure_public_ip=AZURE_PUBLIC_IP, azure_bgp_ip=AZURE_BGP_IP, psk=PSK
    )


def run_push(client, intent, state=None):
    """preflight -> plan -> checkpoint -> FRR package -> write -> apply -> verify, as the run
    would (the sandbox installs at once unless it was made with ``install_seconds``)."""
    state = {} if state is None else state
    push.preflight(client, intent, azure_public_ip=AZURE_PUBLIC_IP, state=state)
    desired = desired_for(client, intent, state)
    state["plan"] = [item.to_dict() for item in push.plan(client, desired, state)]
    push.checkpoint(client, state)
    assert push.install_frr(client, state, now=0.0)["status"] == "installed"
    push.write(client, desired, state)
    push.apply(client, state)
    state["verify"] = push.verify(client, intent, state)
    return state


def writes(sandbox):
    return [r for r in sandbox.requests if r["method"] in ("POST", "PATCH", "DELETE", "PUT")]


def test_the_canonical_push_yields_exactly_the_expected_objects(client, sandbox, intent):
    state = run_push(client, intent)

    config = sandbox.config
    (p1,) = config["ipsec"]["phase1"]
    assert p1["iketype"] == "ikev2"
    assert p1["remote_gateway"] == AZURE_PUBLIC_IP
    assert p1["startaction"] == "start"
    assert p1["nat_traversal"] == "on"
    assert p1["descr"] == "s2svpn:home"
    # the seed's identity: "My IP address" (pfSense's default), no identifier data
    assert p1["myid_type"] == "myaddress" and "myid_data" not in p1
    assert p1["encryption"] == [
        {
            "encryption_algorithm_name": "aes",
            "encryption_algorithm_keylen": 256,
            "hash_algorithm": "sha256",
            "dhgroup": 14,
            "prf_algorithm": "sha256",
        }
    ]
    (p2,) = config["ipsec"]["phase2"]
    assert (p2["mode"], p2["localid_address"], p2["localid_netbits"]) == (
        "vti",
        "172.16.19.253",
        30,
    )
    assert (p2["remoteid_type"], p2["remoteid_address"]) == ("address", "172.16.19.254")
    assert p2["ikeid"] == p1["ikeid"]
    vti = f"ipsec{p2['reqid']}"
    assigned = [o for o in config["interfaces"].values() if o["if"] == vti]
    assert assigned == [
        {
            "if": vti,
            "descr": "AZUREVTI",
            "enable": True,
            "typev4": "none",
            "typev6": "none",
            "mss": 1390,  # filter.inc clamps at it minus 40: 1350 through the VTI
            "spoofmac": "",
            "media": "",
            "mediaopt": "",
            "blockpriv": False,
            "blockbogons": False,
        }
    ]
    rule = next(r for r in config["filter"]["rule"] if r["descr"] == "s2svpn:home")
    assert (rule["type"], rule["interface"], rule["source"]) == ("pass", ["enc0"], "172.16.0.0/16")
    packages = config["installedpackages"]
    (neighbor,) = packages["frrbgpneighbors"]["config"]
    assert (neighbor["peer"], neighbor["asnum"]) == ("172.16.19.254", "65515")
    assert (neighbor["updatesource"], neighbor["ebgpmultihop"]) == ("lan", "2")
    bgp = packages["frrbgp"]["config"][0]
    assert [r["distributeroutevalue"] for r in bgp["row"]] == ["10.0.0.0/24", "192.168.2.0/24"]
    assert bgp["asnum"] == "65010"
    assert packages["frrbgpadvanced"]["config"][0]["disableebgprequirepolicy"] == "on"
    assert packages["frr"]["config"][0]["enable"] == "on"

    assert [item["action"] for item in state["plan"]] == ["update"] + ["create"] * 5
    assert config["system"]["maxmss_enable"] == "yes" and config["system"]["maxmss"] == "1350"
    assert "no_apipa_block" not in config["system"]  # default BGP mode needs no Allow APIPA
    assert state["applied"] == ["ipsec", "interfaces", "firewall", "frr"]
    assert state["verify"]["result"] == "ok", state["verify"]


def test_a_second_push_plans_no_change_and_writes_nothing(client, sandbox, intent):
    first = run_push(client, intent)
    before = sandbox.snapshot()
    sent = len(writes(sandbox))

    state = run_push(client, intent, push.new_push_state(first))

    assert {item["action"] for item in state["plan"]} == {"unchanged"}
    assert state.get("done", []) == [] and state["applied"] == []
    new_writes = writes(sandbox)[sent:]
    # only the checkpoint's read-only command ran; no REST object was created, changed or deleted
    assert all(r["path"] == "/api/v2/diagnostics/command_prompt" for r in new_writes)
    assert sandbox.snapshot() == before


def test_the_monitor_reading_shows_the_tunnel_and_bgp_up_after_the_push(client, intent):
    run_push(client, intent)

    status = client.read_status(intent)

    assert status.error == ""
    assert status.tunnel.value == "up"
    (peer,) = status.bgp_peers
    assert (peer.neighbor, peer.state.value) == ("172.16.19.254", "established")
    assert [r.prefix for r in status.learned_routes] == ["172.16.0.0/16"]
    assert sorted(r.prefix for r in status.advertised_routes) == ["10.0.0.0/24", "192.168.2.0/24"]


FAILURES = [
    ("checkpoint", "POST /api/v2/diagnostics/command_prompt#checkpoint"),
    ("write", "POST /api/v2/vpn/ipsec/phase1"),
    ("write", "POST /api/v2/vpn/ipsec/phase2"),
    ("write", "POST /api/v2/interface"),
    ("write", "POST /api/v2/firewall/rule"),
    ("write", "POST /api/v2/diagnostics/command_prompt#frr_write"),
    ("apply", "POST /api/v2/vpn/ipsec/apply"),
    ("apply", "POST /api/v2/interface/apply"),
    ("apply", "POST /api/v2/firewall/apply"),
    ("apply", "POST /api/v2/diagnostics/command_prompt#frr_generate"),
]


@pytest.mark.parametrize(("step", "where"), FAILURES)
def test_a_failure_at_any_step_leaves_the_config_as_it_was(client, sandbox, intent, step, where):
    before = sandbox.snapshot()
    sandbox.faults.fail_at[where] = Fault(code=500)
    state: dict = {}

    with pytest.raises(ClientError):
        run_push(client, intent, state)
    push.rollback(client, state)

    assert sandbox.snapshot() == before
    assert state["rolled_back"] is True


def test_a_push_whose_bgp_never_comes_up_fails_verification_and_rolls_back(client, sandbox, intent):
    before = sandbox.snapshot()
    sandbox.faults.frr_running = False
    state = run_push(client, intent)
    verdict = push.verify(client, intent, state, attempt=11, max_attempts=12)

    assert verdict["result"] == "failed"
    assert "FRR is not running" in verdict["reason"]
    push.rollback(client, state)
    assert sandbox.snapshot() == before


def test_preflight_refuses_someone_elses_phase1_to_the_same_azure_gateway(client, sandbox, intent):
    foreign = desired_for(client, intent, {}).phase1 | {"descr": "hand-made Azure tunnel"}
    client.ensure_phase1(foreign)

    with pytest.raises(push.PushError) as refused:
        push.preflight(client, intent, azure_public_ip=AZURE_PUBLIC_IP, state={})

    assert "hand-made Azure tunnel" in refused.value.message
    assert refused.value.permanent


def test_teardown_removes_exactly_what_s2svpn_created(client, sandbox, intent):
    before = sandbox.snapshot()
    state = run_push(client, intent)
    push.finish(client, state)

    removed = push.teardown(client, intent, state)

    assert removed[0] == "rule s2svpn:home" and "phase 1" in removed
    assert sandbox.snapshot() == before


def test_teardown_after_several_pushes_still_gives_back_the_frr_settings(client, sandbox, intent):
    before = sandbox.snapshot()
    first = run_push(client, intent)
    second = run_push(client, intent, push.new_push_state(first))

    push.teardown(client, intent, second)

    assert sandbox.snapshot() == before


def test_teardown_leaves_other_bgp_neighbors_and_networks_alone(client, sandbox, intent):
    other = {
        "frr": {"enable": "on", "password": "x"},
        "frrbgp": {
            "enable": "on",
            "asnum": "65010",
            "row": [{"distributeroutevalue": "10.9.0.0/16", "distributeroutemap": "none"}],
        },
        "frrbgpadvanced": None,
        "frrbgpneighbors": [{"peer": "192.0.2.9", "descr": "branch office", "asnum": "65020"}],
    }
    client.write_frr(other)
    before = sandbox.snapshot()
    state = run_push(client, intent)

    push.teardown(client, intent, state)

    assert sandbox.snapshot() == before


def test_a_new_psk_is_sent_again_although_the_firewall_never_shows_it(client, sandbox, intent):
    first = run_push(client, intent)
    state = push.new_push_state(first)
    push.preflight(client, intent, azure_public_ip=AZURE_PUBLIC_IP, state=state)
    rotated = push.build_desired(
        intent, state, azure_public_ip=AZURE_PUBLIC_IP, azure_bgp_ip=AZURE_BGP_IP, psk="n3w" * 12
    )
    push.checkpoint(client, state)

    push.write(client, rotated, state)

    assert sandbox.config["ipsec"]["phase1"][0]["pre_shared_key"] == "n3w" * 12
    assert state["changed"] == ["ipsec"]
    assert "n3w" * 12 not in str(state)


def test_a_fresh_state_re_sends_the_psk_because_it_cannot_know_it(client, sandbox, intent):
    run_push(client, intent)
    state = run_push(client, intent)
    assert state["done"][0]["kind"] == "phase1" and state["applied"] == ["ipsec"]


@pytest.mark.parametrize(
    "where",
    ["POST /api/v2/vpn/ipsec/apply", "POST /api/v2/diagnostics/command_prompt#frr_generate"],
)
def test_a_failed_update_of_an_existing_site_rolls_back_to_the_previous_values(
    client, sandbox, intent, where
):
    first = run_push(client, intent)
    push.finish(client, first)
    before = sandbox.snapshot()
    changed = replace(
        intent,
        lan_prefixes=(*intent.lan_prefixes, "192.168.3.0/24"),
        policy=replace(intent.policy, pfs_group="ECP256"),
        firewall_scope="any",
    )
    sandbox.faults.fail_at[where] = Fault(code=500)
    state = push.new_push_state(first)

    with pytest.raises(ClientError):
        run_push(client, changed, state)
    assert {d["action"] for d in state["done"]} == {"update"}
    push.rollback(client, state)

    assert sandbox.snapshot() == before
    assert client.read_status(intent).tunnel.value == "up"


def test_nothing_is_live_until_each_subsystem_is_applied(client, sandbox, intent):
    state: dict = {}
    push.preflight(client, intent, azure_public_ip=AZURE_PUBLIC_IP, state=state)
    desired = desired_for(client, intent, state)
    push.checkpoint(client, state)
    push.write(client, desired, state)

    assert client.request("GET", "/api/v2/vpn/ipsec/apply") == {"applied": False}
    assert client.request("GET", "/api/v2/interface/apply")["applied"] is False
    assert client.ipsec_sas() == []
    assert state["checkpoint"]["revision"]["time"] > 0

    push.apply(client, state)

    assert client.request("GET", "/api/v2/vpn/ipsec/apply") == {"applied": True}
    assert client.read_status(intent).tunnel.value == "up"
    newest = client.latest_revision()
    assert newest["time"] > state["checkpoint"]["revision"]["time"]


def test_verification_fails_at_once_on_the_ebgp_policy_trap(client, sandbox, intent):
    state = run_push(client, intent)
    sections = client.read_frr_sections()
    sections["frrbgpadvanced"] = {}
    client.write_frr(sections)
    client.frr_generate_config()

    verdict = push.verify(client, intent, state, attempt=0)

    assert verdict["result"] == "failed"
    assert "eBGP requires policy" in verdict["reason"]


def test_teardown_without_the_push_state_removes_only_what_carries_the_site_name(
    client, sandbox, intent
):
    run_push(client, intent)

    removed = push.teardown(client, intent)

    config = sandbox.config
    assert config["ipsec"] == {"phase1": [], "phase2": []}
    assert [r["descr"] for r in config["filter"]["rule"]] == ["Default allow LAN to any rule"]
    assert set(config["interfaces"]) == {"wan", "lan"}
    assert "frrbgpneighbors" not in config["installedpackages"]
    # FRR's global switches stay: without the push state s2svpn cannot tell they were its own
    assert config["installedpackages"]["frrbgp"]["config"][0]["asnum"] == "65010"
    assert "frr settings" in removed
