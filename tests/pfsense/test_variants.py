"""Other shapes of the same push: APIPA addressing, an open IPsec rule, interfaces shown by
description, and what the stored push state may (not) contain."""

from __future__ import annotations

import json
from dataclasses import replace

from s2svpn import pfsense_push as push
from s2svpn.clients.pfsense import PfSenseClient
from s2svpn.sandbox.pfsense import PfSenseSandbox
from tests.pfsense.conftest import (
    AZURE_PUBLIC_IP,
    PSK,
    assert_bodies_follow_the_contract,
    canonical_azure,
)
from tests.pfsense.test_push import run_push


def apipa_push(client, intent):
    state: dict = {}
    push.preflight(client, intent, azure_public_ip=AZURE_PUBLIC_IP, state=state)
    desired = push.build_desired(
        intent, state, azure_public_ip=AZURE_PUBLIC_IP, azure_bgp_ip="169.254.21.2", psk=PSK
    )
    push.checkpoint(client, state)
    push.write(client, desired, state)
    push.apply(client, state)
    return state, push.verify(client, intent, state)


def test_apipa_addressing_peers_on_the_transit_without_multihop(client, sandbox, world, intent):
    apipa = replace(
        intent,
        bgp_mode="apipa",
        azure_apipa_ip="169.254.21.2",
        onprem_apipa_ip="169.254.21.1",
        onprem_bgp_ip="169.254.21.1",
    )
    world.set_azure(
        "conn-home",
        canonical_azure(azure_bgp_ips=("169.254.21.2",), lng_bgp_ip="169.254.21.1"),
    )

    _state, verdict = apipa_push(client, apipa)

    (p2,) = sandbox.config["ipsec"]["phase2"]
    assert (p2["localid_address"], p2["remoteid_address"]) == ("169.254.21.1", "169.254.21.2")
    (neighbor,) = sandbox.config["installedpackages"]["frrbgpneighbors"]["config"]
    assert (neighbor["peer"], neighbor["updatesource"]) == ("169.254.21.2", "default")
    assert "ebgpmultihop" not in neighbor
    rules = [r for r in sandbox.config["filter"]["rule"] if r["descr"].startswith("s2svpn:home")]
    assert [r["source"] for r in rules] == ["172.16.0.0/16", "169.254.21.2/32"]
    assert verdict["result"] == "ok", verdict


def test_an_open_ipsec_rule_when_the_user_asks_for_any(client, sandbox, intent):
    run_push(client, replace(intent, firewall_scope="any"))

    (rule,) = [r for r in sandbox.config["filter"]["rule"] if r["descr"] == "s2svpn:home"]
    assert rule["source"] == "any"


def test_interfaces_represented_by_description_are_translated(client, sandbox, intent):
    client.request(
        "PATCH", "/api/v2/system/restapi/settings", json_body={"represent_interfaces_as": "descr"}
    )

    state = run_push(client, intent)

    p1 = sandbox.config["ipsec"]["phase1"][0]
    assert p1["interface"] == "wan"  # stored as the id, sent as "WAN"
    sent = next(r for r in sandbox.requests if r["path"] == "/api/v2/vpn/ipsec/phase1")
    assert sent["body"]["interface"] == "WAN"
    assert state["verify"]["result"] == "ok"
    assert {
        item.action
        for item in push.plan(
            client,
            push.build_desired(
                intent,
                state,
                azure_public_ip=AZURE_PUBLIC_IP,
                azure_bgp_ip="172.16.19.254",
                psk=PSK,
            ),
        )
    } == {"unchanged"}


def test_the_stored_push_state_holds_no_secret(client, sandbox, intent):
    state = run_push(client, intent)
    push.finish(client, state)

    text = json.dumps(state)

    assert PSK not in text
    frr_password = sandbox.config["installedpackages"]["frr"]["config"][0]["password"]
    assert frr_password and frr_password not in text
    assert "/var/db/s2svpn/checkpoint" not in json.dumps(sandbox.state["files"])


def test_the_sandbox_keeps_its_config_and_certificate_across_a_restart(tmp_path, world, intent):
    first = PfSenseSandbox(tmp_path / "fw", world=world).start()
    with PfSenseClient(first.base_url, first.api_key, ca_file=first.ca_file) as client:
        run_push(client, intent)
    config, fingerprint = first.snapshot(), first.fingerprint
    first.stop()

    second = PfSenseSandbox(tmp_path / "fw", world=world).start()
    try:
        assert second.snapshot() == config
        assert second.fingerprint == fingerprint
        with PfSenseClient(second.base_url, second.api_key, fingerprint=fingerprint) as client:
            assert client.read_status(intent).tunnel.value == "up"
    finally:
        second.stop()
    assert_bodies_follow_the_contract(first)
    assert_bodies_follow_the_contract(second)
