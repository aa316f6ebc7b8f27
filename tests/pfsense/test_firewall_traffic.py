"""Firewall-originated traffic in default BGP mode (issue 13, fact 8): the user's chosen fix, an
outbound NAT mapping on the VTI that sources pfSense's own traffic to the VNet from its LAN
address, is planned, pushed and torn down; pfSense's outbound NAT mode rules decide whether it
does anything (filter.inc filter_nat_rules_generate(), as the sandbox models it)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from s2svpn import pfsense_push as push
from s2svpn.clients.errors import ClientError
from s2svpn.errors import InputError
from s2svpn.sandbox.contract import Context, ContractError
from tests.pfsense.conftest import CONTRACT
from tests.pfsense.test_push import desired_for, run_push

VTI_IP = "172.16.19.253"


@pytest.fixture
def fix(intent):
    return replace(intent, self_traffic="lan_source")


def _effective(sandbox):
    return [
        (r["port"], r["source"], r["destination"], r["translation"])
        for r in sandbox.effective_outbound_nat()
    ]


def test_the_plan_switches_automatic_to_hybrid_with_its_reason_and_maps_each_prefix(client, fix):
    fix = replace(fix, vnet_prefixes=("172.16.0.0/16", "10.50.0.0/24"))
    state: dict = {}
    push.preflight(client, fix, azure_public_ip="198.51.100.20", state=state)
    items = {i.key: i for i in push.plan(client, desired_for(client, fix, state), state)}

    mode = items["outbound NAT mode"]
    assert mode.kind == "natmode" and mode.diff["mode"] == ["automatic", "hybrid"]
    assert "only in hybrid or manual mode" in mode.diff["why"][0]
    first, second = (
        items["s2svpn:home (firewall traffic)"],
        items["s2svpn:home (firewall traffic 2)"],
    )
    assert first.action == second.action == "create"
    assert (first.diff["source"], first.diff["destination"], first.diff["target"]) == (
        f"{VTI_IP}/32",
        "10.50.0.0/24",
        "10.0.0.1",
    )
    assert second.diff["destination"] == "172.16.0.0/16"


def test_without_the_fix_or_in_apipa_mode_nothing_about_outbound_nat_is_planned(client, intent):
    state: dict = {}
    push.preflight(client, intent, azure_public_ip="198.51.100.20", state=state)
    kinds = {i.kind for i in push.plan(client, desired_for(client, intent, state), state)}
    assert not kinds & {"nat", "natmode"}


def test_the_push_switches_to_hybrid_and_the_mapping_takes_effect_once_applied(
    client, sandbox, fix
):
    state: dict = {}
    push.preflight(client, fix, azure_public_ip="198.51.100.20", state=state)
    desired = desired_for(client, fix, state)
    push.checkpoint(client, state)
    push.write(client, desired, state)
    assert sandbox.snapshot()["nat"]["outbound"]["mode"] == "hybrid"
    assert _effective(sandbox) == []  # written, not yet applied (natconf is dirty)
    assert client.request("GET", "/api/v2/firewall/apply")["pending_subsystems"] == [
        "filter",
        "natconf",
    ]

    push.apply(client, state)

    assert _effective(sandbox) == [("ipsec1", f"{VTI_IP}/32", "172.16.0.0/16", "10.0.0.1/32")]
    assert state["nat_owned"]["mode"] == "automatic"
    assert push.verify(client, fix, state)["result"] == "ok"


def test_a_second_push_changes_nothing(client, sandbox, fix):
    state = run_push(client, fix)
    again = push.new_push_state(state)
    run_push(client, fix, again)
    nat = [p for p in again["plan"] if p["kind"] in ("nat", "natmode")]
    assert [p["action"] for p in nat] == ["unchanged"]
    assert again["nat_owned"] == state["nat_owned"]  # carried over for teardown


def test_teardown_removes_the_mapping_and_gives_automatic_mode_back(client, sandbox, fix):
    before = sandbox.snapshot()
    state = run_push(client, fix)
    push.finish(client, state)

    removed = push.teardown(client, fix, state)

    assert "outbound NAT mapping s2svpn:home (firewall traffic)" in removed
    assert "outbound NAT mode (back to automatic)" in removed
    assert sandbox.snapshot() == before
    assert _effective(sandbox) == []


def test_teardown_keeps_hybrid_when_the_user_chose_it_or_added_a_mapping_since(
    client, sandbox, fix
):
    client.set_nat_mode("hybrid")  # the user's own choice, before s2svpn
    state = run_push(client, fix)
    assert "nat_owned" not in state and not [p for p in state["plan"] if p["kind"] == "natmode"]
    push.teardown(client, fix, state)
    assert client.nat_mode()["mode"] == "hybrid"

    client.set_nat_mode("automatic")
    state = run_push(client, fix, push.new_push_state(state))
    client.request(
        "POST",
        "/api/v2/firewall/nat/outbound/mapping",
        json_body={
            "interface": "wan",
            "source": "10.0.0.0/24",
            "destination": "any",
            "target": "192.168.178.10",
            "target_subnet": 32,
            "descr": "user's own",
        },
    )
    removed = push.teardown(client, fix, state)
    assert not any("mode" in r for r in removed)
    assert client.nat_mode()["mode"] == "hybrid"  # back to automatic would disable the user's


def test_disabled_outbound_nat_is_a_plain_conflict_and_nothing_is_written(client, sandbox, fix):
    client.set_nat_mode("disabled")
    state: dict = {}
    push.preflight(client, fix, azure_public_ip="198.51.100.20", state=state)
    with pytest.raises(InputError, match="Outbound NAT is disabled on this firewall"):
        push.plan(client, desired_for(client, fix, state), state)
    assert not client.nat_mappings()


def test_a_mapping_does_nothing_in_automatic_mode_and_an_interface_target_means_the_vti(
    client, sandbox, intent
):
    """filter.inc: manual mappings only in hybrid/advanced; a target that is not an address
    translates to the mapping's own interface address (for the VTI: the VTI address itself)."""
    state = run_push(client, intent)
    vti = client.find_interface(state["port"])["id"]
    body = {
        "interface": vti,
        "source": f"{VTI_IP}/32",
        "destination": "172.16.0.0/16",
        "target": "lan:ip",
        "descr": "interface address",
        "apply": True,
    }
    client.request("POST", "/api/v2/firewall/nat/outbound/mapping", json_body=body)
    assert _effective(sandbox) == []  # automatic mode: no effect
    client.request(
        "PATCH", "/api/v2/firewall/nat/outbound/mode", json_body={"mode": "hybrid", "apply": True}
    )
    assert _effective(sandbox) == [("ipsec1", f"{VTI_IP}/32", "172.16.0.0/16", f"{VTI_IP}/32")]
    sandbox.requests.clear()  # "lan:ip" needs the firewall's interfaces: not for the checker


@pytest.mark.parametrize(
    "change, rid",
    [
        ({"source": VTI_IP}, "FILTER_ADDRESS_FIELD_INVALID"),  # allow_ipaddr: false
        ({"target_subnet": 33}, "OUTBOUND_NAT_MAPPING_TARGET_SUBNET_TOO_LARGE_FOR_IPV4"),
        ({"interface": "opt9"}, "FIELD_INVALID_CHOICE"),
        ({"target": "not an address!"}, "SPECIAL_NETWORK_FIELD_INVALID"),
    ],
)
def test_the_sandbox_refuses_mappings_the_rest_api_refuses(client, sandbox, change, rid):
    body = {
        "interface": "lan",
        "source": f"{VTI_IP}/32",
        "destination": "172.16.0.0/16",
        "target": "10.0.0.1",
        "target_subnet": 32,
        "descr": "x",
        **change,
    }
    with pytest.raises(ClientError) as caught:
        client.request("POST", "/api/v2/firewall/nat/outbound/mapping", json_body=body)
    assert caught.value.code == rid
    with pytest.raises(ContractError):
        CONTRACT.validate(
            "OutboundNATMapping",
            body,
            strict=True,
            context=Context(interfaces=["wan", "lan"], interface_ids=["wan", "lan"]),
        )
    sandbox.requests.clear()  # refused on purpose: not for the contract check at teardown


def test_the_mode_endpoint_accepts_only_pfsense_modes(client, sandbox):
    with pytest.raises(ClientError) as caught:
        client.set_nat_mode("manual")  # the GUI word; the config value is "advanced"
    assert caught.value.code == "FIELD_INVALID_CHOICE"
    sandbox.requests.clear()


def test_choosing_leave_as_is_later_removes_the_mapping_and_gives_the_mode_back(
    client, sandbox, fix, intent
):
    before = sandbox.snapshot()["nat"]
    state = run_push(client, fix)
    again = run_push(client, intent, push.new_push_state(state))  # self_traffic back to explain
    assert sandbox.snapshot()["nat"] == before
    assert "nat_owned" not in again
    assert _effective(sandbox) == []
    assert again["verify"]["result"] == "ok"


def test_disabled_outbound_nat_is_a_review_conflict_pointing_at_the_choice(client, sandbox, fix):
    from s2svpn import preconditions

    client.set_nat_mode("disabled")
    found = preconditions.check(client, fix, azure_bgp_ip="172.16.19.254", psk="x" * 32)
    (conflict,) = [c for c in found if c.field == "self_traffic"]
    assert conflict.kind == "nat" and "Outbound NAT is disabled" in conflict.message
    assert (
        preconditions.check(
            client, replace(fix, self_traffic="explain"), azure_bgp_ip="172.16.19.254", psk="x" * 32
        )
        == []
    )
