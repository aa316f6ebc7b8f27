"""What a real pfSense does that the push must survive (issue 13), in the pfSense sandbox.

The sandbox follows pfSense's documented behaviour here: a package install runs inline in the
REST call and outlasts a request (RESTAPI ``Models/Package.inc`` ``_create()`` -> ``pkg_install()``),
applies rebuild every VTI and take time, pfSense-pkg-frr stops its daemons only from
``frr_generate_config()``, ``filter.inc`` applies IPsec Advanced's maximum MSS as given and blocks
169.254.0.0/16 unless Allow APIPA is on, and each REST package release fits one pfSense release.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from s2svpn import pfsense_push as push
from s2svpn import pfsense_versions as versions
from s2svpn.clients.errors import ClientError
from s2svpn.clients.pfsense import PfSenseClient
from s2svpn.sandbox.pfsense import Fault
from tests.pfsense.conftest import AZURE_PUBLIC_IP, canonical_azure
from tests.pfsense.test_push import desired_for, run_push

APIPA = dict(
    bgp_mode="apipa",
    azure_apipa_ip="169.254.21.2",
    onprem_apipa_ip="169.254.21.1",
    onprem_bgp_ip="169.254.21.1",
)
USER_FRR = {
    "frr": {"enable": "on", "password": "the-users-own-frr-password"},
    "frrbgp": {
        "enable": "on",
        "asnum": "65010",
        "row": [{"distributeroutevalue": "10.9.0.0/16", "distributeroutemap": "none"}],
    },
    "frrbgpadvanced": None,
    "frrbgpneighbors": [{"peer": "192.0.2.9", "descr": "branch office", "asnum": "65020"}],
}


def posts(sandbox, path):
    return [r for r in sandbox.requests if r["method"] == "POST" and r["path"] == path]


def client_for(sandbox, **timeouts):
    client = PfSenseClient(sandbox.base_url, sandbox.api_key, ca_file=sandbox.ca_file)
    for name, value in timeouts.items():
        setattr(client, name, value)
    return client


# ---- FRR install: start, then poll; never a second install ---------------------------------------
def test_an_frr_install_longer_than_any_request_finishes_without_a_second_install(
    make_sandbox, world
):
    sandbox = make_sandbox(world=world, frr_installed=False, install_seconds=1.5)
    state: dict = {}
    seen = []
    with client_for(sandbox, INSTALL_TIMEOUT=0.3) as client:
        clock = 0.0
        while True:
            progress = push.install_frr(client, state, now=clock)
            seen.append(progress["status"])
            if progress["status"] == "installed":
                break
            assert clock < 60, "FRR never finished installing"
            clock += 5.0  # the step re-checks with a countdown; the sandbox works meanwhile
            sandbox.wait_for_install(0.2)

    assert seen[0] == "installing" and seen[-1] == "installed"
    assert len(posts(sandbox, "/api/v2/system/package")) == 1
    assert state["installed_frr"] is True and "frr_install_started" not in state


def test_an_install_that_never_finishes_stops_with_advice_instead_of_installing_again(
    make_sandbox, world
):
    sandbox = make_sandbox(world=world, frr_installed=False, install_seconds=30)
    state: dict = {}
    with client_for(sandbox, INSTALL_TIMEOUT=0.2) as client:
        assert push.install_frr(client, state, now=0.0)["status"] == "installing"
        assert push.install_frr(client, state, now=600.0)["status"] == "installing"
        with pytest.raises(push.PushError) as late:
            push.install_frr(client, state, now=push.FRR_INSTALL_DEADLINE + 1)
    assert "Package Manager" in late.value.message and late.value.permanent
    assert len(posts(sandbox, "/api/v2/system/package")) == 1


# ---- applies: a timed-out apply is read back, not blindly repeated ----------------------------------
def test_an_apply_that_times_out_is_read_back_not_repeated(make_sandbox, world, intent):
    sandbox = make_sandbox(world=world, apply_seconds=1.0)
    state: dict = {}
    with client_for(sandbox, APPLY_TIMEOUT=0.3) as client:
        push.preflight(client, intent, azure_public_ip=AZURE_PUBLIC_IP, state=state)
        push.checkpoint(client, state)
        push.write(client, desired_for(client, intent, state), state)
        with pytest.raises(ClientError) as timed_out:
            push.apply(client, state)
        assert timed_out.value.code == "TIMEOUT" and state["applying"] == "ipsec"
        sandbox.wait_for_applies(5)
        sandbox.apply_seconds = 0  # the rest applies quickly
        push.apply(client, state)  # the step's retry: reads the state first

    assert len(posts(sandbox, "/api/v2/vpn/ipsec/apply")) == 1
    assert state["applied"] == ["ipsec", "interfaces", "firewall", "frr"]


def test_an_apply_still_running_is_asked_again_before_applying_once_more(
    make_sandbox, world, intent
):
    sandbox = make_sandbox(world=world)
    state: dict = {}
    with client_for(sandbox) as client:
        push.preflight(client, intent, azure_public_ip=AZURE_PUBLIC_IP, state=state)
        push.checkpoint(client, state)
        push.write(client, desired_for(client, intent, state), state)
        state["applying"] = "ipsec"  # as if an apply had timed out and pfSense had dropped it
        for _ in range(push.APPLY_PATIENCE):
            with pytest.raises(push.PushError) as pending:
                push.apply(client, state)
            assert pending.value.code == "APPLY_PENDING" and not pending.value.permanent
        push.apply(client, state)
    assert len(posts(sandbox, "/api/v2/vpn/ipsec/apply")) == 1


# ---- a failed FRR read never becomes a write ------------------------------------------------------
def test_a_failed_frr_read_writes_nothing_and_the_retry_keeps_the_users_frr(
    client, sandbox, intent
):
    client.write_frr(USER_FRR)
    before = sandbox.snapshot()
    sandbox.faults.fail_at["POST /api/v2/diagnostics/command_prompt#frr_read"] = Fault(
        code=500, times=1
    )
    state: dict = {}
    push.preflight(client, intent, azure_public_ip=AZURE_PUBLIC_IP, state=state)
    desired = desired_for(client, intent, state)
    push.checkpoint(client, state)

    with pytest.raises(push.PushError) as failed:
        push.write(client, desired, state)
    assert failed.value.code == "FRR_READ_FAILED" and not failed.value.permanent
    assert sandbox.snapshot()["installedpackages"] == before["installedpackages"]

    push.write(client, desired, state)  # the step's retry
    push.apply(client, state)
    sections = client.read_frr_sections()
    assert sections["frr"]["password"] == "the-users-own-frr-password"
    peers = {n["peer"] for n in sections["frrbgpneighbors"]}
    assert {"192.0.2.9", "172.16.19.254"} <= peers
    rows = {r["distributeroutevalue"] for r in sections["frrbgp"]["row"]}
    assert {"10.9.0.0/16", "10.0.0.0/24", "192.168.2.0/24"} <= rows


# ---- teardown: FRR s2svpn created stops; a user's FRR keeps running -----------------------------
def test_teardown_stops_the_frr_s2svpn_created(client, sandbox, intent):
    state = run_push(client, intent)
    assert sandbox.frr_daemons_running()

    removed = push.teardown(client, intent, state)

    assert "FRR stopped" in removed
    assert not sandbox.frr_daemons_running()
    assert not any(k.startswith("frr") for k in sandbox.config["installedpackages"])


def test_teardown_leaves_a_users_frr_running(client, sandbox, intent):
    client.write_frr(USER_FRR)
    client.frr_generate_config()
    state = run_push(client, intent)

    removed = push.teardown(client, intent, state)

    assert "FRR stopped" not in removed
    assert sandbox.frr_daemons_running()
    sections = client.read_frr_sections()
    assert [n["peer"] for n in sections["frrbgpneighbors"]] == ["192.0.2.9"]
    assert sections["frr"]["password"] == "the-users-own-frr-password"


# ---- MSS: where pfSense's scrub rules clamp (filter.inc filter_generate_scrubing()) ------------
LAN_HOST, VNET_HOST = "10.0.0.20", "172.16.1.4"


def test_the_mss_clamp_pfsense_applies_is_1350_on_lan_vnet_traffic_and_on_the_bgp_session(
    client, sandbox, intent
):
    assert sandbox.interface_max_mss("ipsec1") is None  # nothing assigned yet
    assert sandbox.vpn_max_mss() == (None, [])  # pfSense's default: no clamp
    state = run_push(client, intent)

    # the VTI interface's MSS field 1390, applied minus 40
    assert sandbox.interface_max_mss(state["port"]) == 1350
    assert sandbox.syn_max_mss(LAN_HOST, VNET_HOST, port=state["port"]) == 1350
    # IPsec Advanced's maximum MSS, as given, on <vpn_networks> = the phase 2 remote id as /32:
    # Azure's BGP address only, so it covers the BGP session and not LAN <-> VNet traffic
    assert sandbox.vpn_max_mss() == (1350, ["172.16.19.254/32"])
    assert sandbox.syn_max_mss("10.0.0.1", "172.16.19.254", port=state["port"]) == 1350
    items = {i["kind"]: i for i in state["plan"]}
    assert items["system"]["diff"]["maxmss"] == [None, "1350"]
    assert items["interface"]["action"] == "create" and items["interface"]["diff"]["mss"] == 1390

    push.teardown(client, intent, state)
    assert sandbox.interface_max_mss(state["port"]) is None
    assert sandbox.vpn_max_mss() == (None, [])


def test_without_the_interface_mss_lan_vnet_traffic_is_not_clamped_by_ipsec_advanced(
    client, sandbox, intent
):
    """What the IPsec-Advanced-only clamp s2svpn used to push left LAN <-> VNet traffic with."""
    state = run_push(client, intent)
    client.patch_interface(state["port"], {"mss": None})
    client.apply_interfaces()

    assert sandbox.syn_max_mss(LAN_HOST, VNET_HOST, port=state["port"]) is None
    assert sandbox.syn_max_mss("10.0.0.1", "172.16.19.254", port=state["port"]) == 1350


def test_in_the_default_enc_filter_mode_an_inbound_syn_skips_the_vti_scrub(client, sandbox, intent):
    state = run_push(client, intent)
    # a VNet-initiated connection: its SYN arrives decapsulated, pf does not see it on ipsecN
    # (net.inet.ipsec.filtertunnel 0); the LAN host's SYN-ACK leaves through the VTI, clamped
    assert sandbox.syn_max_mss(VNET_HOST, LAN_HOST, port=state["port"], inbound=True) is None
    assert sandbox.syn_max_mss(LAN_HOST, VNET_HOST, port=state["port"]) == 1350


def test_the_interface_mss_is_validated_as_the_rest_api_does(client, sandbox, intent):
    state = run_push(client, intent)
    with pytest.raises(ClientError) as error:
        client.patch_interface(state["port"], {"mss": 500})  # NetworkInterface.mss: 576..65535
    assert "576" in error.value.message
    # the body was bad on purpose: keep it out of the every-body-follows-the-contract check
    sandbox.requests[:] = [
        r
        for r in sandbox.requests
        if not (isinstance(r["body"], dict) and r["body"].get("mss") == 500)
    ]


@pytest.mark.parametrize(("users", "applied"), [("1300", 1300), ("1400", 1350), ("", 1350)])
def test_a_lower_mss_the_user_set_is_kept(client, sandbox, intent, users, applied):
    client.write_system({"maxmss_enable": "yes", "maxmss": users})
    client.apply_firewall()

    state = run_push(client, intent)

    assert sandbox.vpn_max_mss()[0] == applied  # an empty value means 1400 on pfSense
    push.teardown(client, intent, state)
    assert sandbox.vpn_max_mss()[0] == (int(users) if users else 1400)


@pytest.mark.parametrize(("users", "kept"), [(1300, 1300), (1500, 1390), (None, 1390)])
def test_a_lower_interface_mss_is_kept_on_re_push(client, sandbox, intent, users, kept):
    state = run_push(client, intent)
    client.patch_interface(state["port"], {"mss": users})
    client.apply_interfaces()

    again = run_push(client, intent, {})

    item = next(i for i in again["plan"] if i["kind"] == "interface")
    assert item["action"] == ("unchanged" if kept == users else "update")
    assert client.find_interface(state["port"])["mss"] == kept
    assert sandbox.interface_max_mss(state["port"]) == kept - 40


def test_a_re_push_with_the_mss_in_place_changes_nothing_on_the_interface(client, intent):
    state = run_push(client, intent)
    again = run_push(client, intent, {})
    item = next(i for i in again["plan"] if i["kind"] == "interface")
    assert item["action"] == "unchanged" and client.find_interface(state["port"])["mss"] == 1390


# ---- Allow APIPA -------------------------------------------------------------------------------
def apipa_azure(world):
    world.set_azure(
        "conn-home", canonical_azure(azure_bgp_ips=("169.254.21.2",), lng_bgp_ip="169.254.21.1")
    )


def test_apipa_mode_plans_and_pushes_allow_apipa_and_teardown_gives_it_back(
    client, sandbox, intent, world
):
    apipa_azure(world)
    apipa = replace(intent, **APIPA)
    state = run_push(client, apipa)

    assert state["preflight"]["apipa_allowed"] is False
    (item,) = [i for i in state["plan"] if i["kind"] == "system"]
    assert item["action"] == "update" and item["diff"]["no_apipa_block"] == [None, "yes"]
    assert any("Allow APIPA" in why for why in item["diff"]["why"])
    assert sandbox.apipa_allowed()  # written through the command endpoint, filter reloaded
    assert state["verify"]["result"] == "ok", state["verify"]

    push.teardown(client, apipa, state)
    assert not sandbox.apipa_allowed()


def test_allow_apipa_stays_when_the_user_had_it_or_another_apipa_site_needs_it(
    client, sandbox, intent
):
    client.write_system({"no_apipa_block": "yes"})
    client.apply_firewall()
    apipa = replace(intent, **APIPA)
    state = run_push(client, apipa)
    assert not any(i["kind"] == "system" and "no_apipa_block" in i["diff"] for i in state["plan"])
    push.teardown(client, apipa, state)
    assert sandbox.apipa_allowed()


def test_without_allow_apipa_the_tunnel_is_up_but_bgp_is_not(client, sandbox, intent, world):
    apipa_azure(world)
    apipa = replace(intent, **APIPA)
    state = run_push(client, apipa)
    assert state["verify"]["result"] == "ok"
    client.write_system({"no_apipa_block": None})  # as if the push had forgotten it
    client.apply_firewall()

    verdict = push.verify(client, apipa, state)

    assert verdict["checks"]["child_installed"] and not verdict["checks"]["bgp_established"]
    assert "Allow APIPA" in world.view()[0].reason
    assert verdict["result"] == "failed" and "Allow APIPA" in verdict["reason"]


# ---- the REST API release matrix ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("pfsense", "restapi", "refused", "advice"),
    [
        ("2.7.2-RELEASE", "v2.4.3", False, ""),
        ("2.7.2-RELEASE", "v2.10.0", True, "v2.4.3/pfSense-2.7.2-pkg-RESTAPI.pkg"),
        ("2.7.2-RELEASE", "v2.1.0", True, "/api/v2/status/ipsec/sas"),
        ("2.8.1-RELEASE", "v2.10.0", False, ""),
    ],
)
def test_the_preflight_knows_which_rest_release_fits_which_pfsense(
    make_sandbox, world, intent, pfsense, restapi, refused, advice
):
    sandbox = make_sandbox(world=world, pfsense_version=pfsense, restapi_version=restapi)
    with client_for(sandbox) as client:
        result = client.preflight(intent, azure_public_ip=AZURE_PUBLIC_IP)
    assert (not result.ok) == refused, result.problems
    if refused:
        assert advice in " ".join(result.problems)


def test_the_outbound_nat_endpoints_are_required_and_in_every_v2_release():
    # pfrest tags v2.0.0 ... v2.10.0 all have FirewallNATOutbound{Mode,Mapping}Endpoint.inc
    for path in ("/api/v2/firewall/nat/outbound/mode", "/api/v2/firewall/nat/outbound/mapping"):
        assert versions.REQUIRED_ENDPOINTS[path] == (2, 0, 0)
    problems, _ = versions.check("2.7.2-RELEASE", "v1.8.1")
    assert any("/api/v2/firewall/nat/outbound/mode" in p and "v2.0.0" in p for p in problems)
    problems, _ = versions.check("2.7.2-RELEASE", "v2.0.0")
    assert problems and all("/api/v2/status/ipsec/sas" in p for p in problems)


def test_a_missing_endpoint_and_a_missing_package_say_different_things(make_sandbox, world):
    old = make_sandbox(world=world, pfsense_version="2.7.2-RELEASE", restapi_version="v2.1.0")
    with client_for(old) as client, pytest.raises(ClientError) as endpoint:
        client.ipsec_sas()
    gone = make_sandbox(world=world)
    gone.faults.rest_package_missing = True
    with client_for(gone) as client, pytest.raises(ClientError) as package:
        client.ipsec_sas()
    assert endpoint.value.code == "ENDPOINT_MISSING" and "v2.1.0" in endpoint.value.message
    assert package.value.code == "REST_API_MISSING" and "not installed" in package.value.message
