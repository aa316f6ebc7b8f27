"""PfSenseClient against the sandbox: TLS, errors, retries, status readings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from s2svpn.clients.errors import ClientError
from s2svpn.clients.pfsense import PfSenseClient, fetch_fingerprint
from s2svpn.sandbox.pfsense import Fault
from s2svpn.status import BgpState, TunnelState
from tests.pfsense.conftest import canonical_azure
from tests.pfsense.test_push import run_push


def test_it_trusts_a_firewall_pinned_by_its_certificate_fingerprint(sandbox):
    pin = fetch_fingerprint(sandbox.base_url)
    assert pin == sandbox.fingerprint == PfSenseClient.fetch_fingerprint(sandbox.base_url)

    with PfSenseClient(sandbox.base_url, sandbox.api_key, fingerprint=pin) as client:
        assert client.settings()["represent_interfaces_as"] == "id"


@pytest.mark.parametrize("trust", ["ca_file", "fingerprint"])
def test_one_connection_serves_every_call_and_outlives_a_poll_interval(sandbox, trust):
    kw = (
        {"ca_file": sandbox.ca_file} if trust == "ca_file" else {"fingerprint": sandbox.fingerprint}
    )
    with PfSenseClient(sandbox.base_url, sandbox.api_key, **kw) as client:
        for _ in range(3):
            client.settings()
        pool = client._http._transport._pool
        assert len(pool.connections) == 1
        assert pool._keepalive_expiry > 60  # the monitor's default interval: no handshake a poll


def test_it_refuses_a_firewall_whose_certificate_does_not_match_the_pin(sandbox):
    wrong = "ab" * 32
    with (
        PfSenseClient(sandbox.base_url, sandbox.api_key, fingerprint=wrong) as client,
        pytest.raises(ClientError) as refused,
    ):
        client.settings()
    assert refused.value.code == "TLS_PIN_MISMATCH" and refused.value.permanent
    assert not sandbox.requests, "the API key must not be sent before the pin check"


def test_it_refuses_a_certificate_outside_the_configured_ca(sandbox, tmp_path):
    other = tmp_path / "other"
    from s2svpn.sandbox.tls import make_ca

    ca, _, _ = make_ca(other)
    with (
        PfSenseClient(sandbox.base_url, sandbox.api_key, ca_file=str(ca)) as client,
        pytest.raises(ClientError) as refused,
    ):
        client.settings()
    assert refused.value.code == "TLS_VERIFY_FAILED" and refused.value.permanent


@pytest.mark.parametrize("url", ["http://192.0.2.1", "http://127.0.0.1:8444", "http://localhost"])
def test_it_refuses_plain_http_even_to_loopback(url):
    with pytest.raises(ValueError, match="unencrypted"):
        PfSenseClient(url, "key")


def test_a_wrong_api_key_is_a_permanent_error_that_says_how_to_fix_it(sandbox):
    with (
        PfSenseClient(sandbox.base_url, "wrong-key", ca_file=sandbox.ca_file) as client,
        pytest.raises(ClientError) as refused,
    ):
        client.phase1s()
    error = refused.value
    assert (error.status, error.code, error.permanent) == (401, "AUTH_AUTHENTICATION_FAILED", True)
    assert "KeyAuth" in error.message and "wrong-key" not in error.message


def test_a_missing_rest_package_is_reported_in_plain_words(client, sandbox):
    sandbox.faults.rest_package_missing = True
    with pytest.raises(ClientError) as refused:
        client.phase1s()
    assert refused.value.code == "REST_API_MISSING"
    assert "REST API package is not installed" in refused.value.message


def test_reads_are_retried_after_a_transient_error(client, sandbox):
    sandbox.faults.fail_at["GET /api/v2/vpn/ipsec/phase1s"] = Fault(code=503, times=2)
    assert client.phase1s() == []


def test_a_failed_write_is_transient_but_not_blindly_repeated(client, sandbox, intent):
    sandbox.faults.fail_at["POST /api/v2/firewall/rule"] = Fault(code=500, times=1)
    rule = {
        "type": "pass",
        "interface": ["enc0"],
        "ipprotocol": "inet",
        "protocol": None,
        "source": "any",
        "destination": "any",
        "descr": "s2svpn:probe",
    }
    with pytest.raises(ClientError) as failed:
        client.ensure_rule(rule)
    assert failed.value.permanent is False and failed.value.status == 500
    posts = [r for r in sandbox.requests if r["method"] == "POST"]
    assert len(posts) == 1


def test_validation_errors_are_permanent_and_carry_the_response_id(client, sandbox):
    with pytest.raises(ClientError) as refused:
        client.request("POST", "/api/v2/interface", json_body={"if": "ipsec9", "descr": "X"})
    assert refused.value.permanent
    # fields are checked in declaration order: `if` (no such port) fails before `typev4`
    assert refused.value.code == "FIELD_INVALID_CHOICE"
    assert "Field `if`" in refused.value.message
    # this body was invalid on purpose; keep it out of the contract check of client bodies
    sandbox.requests[:] = [r for r in sandbox.requests if r["path"] != "/api/v2/interface"]


def test_ids_shift_after_a_delete_and_the_client_finds_objects_again_by_descr(client, sandbox):
    base = {
        "type": "pass",
        "interface": ["enc0"],
        "ipprotocol": "inet",
        "protocol": None,
        "source": "any",
        "destination": "any",
    }
    for name in ("a", "b", "c"):
        client.ensure_rule(base | {"descr": f"s2svpn:{name}"})
    assert client.find_rule("s2svpn:c")["id"] == 3

    client.delete_rule("s2svpn:a")

    assert client.find_rule("s2svpn:c")["id"] == 2
    assert client.delete_rule("s2svpn:c")
    assert [r["descr"] for r in client.rules()][1:] == ["s2svpn:b"]


def test_preflight_reports_versions_interfaces_and_a_missing_frr(make_sandbox, world, intent):
    box = make_sandbox(world=world, frr_installed=False)
    with PfSenseClient(box.base_url, box.api_key, ca_file=box.ca_file) as client:
        result = client.preflight(intent, azure_public_ip="198.51.100.20")
        assert result.ok, result.problems
        assert (result.pfsense_version, result.restapi_version) == ("2.8.1-RELEASE", "v2.10.0")
        assert (result.wan_interface, result.bgp_source_interface) == ("wan", "lan")
        assert not result.frr_installed and "FRR package" in result.warnings[0]

        state = run_push(client, intent)

    assert state["installed_frr"] is True
    assert state["verify"]["result"] == "ok"


def test_preflight_blocks_a_site_whose_bgp_address_is_on_no_interface(client, intent):
    result = client.preflight(replace(intent, onprem_bgp_ip="10.99.0.1"))
    assert not result.ok
    assert "10.99.0.1" in result.problems[0]


def test_a_tunnel_failing_authentication_reads_as_connecting_without_a_child_sa(
    client, world, intent
):
    world.set_azure("conn-home", canonical_azure(psk="a-different-key-entirely-0000"))
    run_push(client, intent)

    status = client.read_status(intent)

    assert status.tunnel == TunnelState.CONNECTING  # strongSwan retries IKE_AUTH: never up
    assert [(sa.state, sa.children) for sa in status.sas] == [("CONNECTING", ())]
    assert status.error == ""


def test_frr_not_running_reads_as_not_running(client, sandbox, intent):
    run_push(client, intent)
    sandbox.faults.frr_running = False

    status = client.read_status(intent)

    assert [p.state for p in status.bgp_peers] == [BgpState.NOT_RUNNING]
    assert status.tunnel == TunnelState.UP


def test_the_ebgp_policy_trap_reads_as_policy(client, sandbox, intent):
    run_push(client, intent)
    sections = client.read_frr_sections()
    sections["frrbgpadvanced"] = {}
    client.write_frr(sections)
    client.frr_generate_config()

    (peer,) = client.read_status(intent).bgp_peers

    assert peer.state == BgpState.POLICY and peer.prefixes_received == 0


def test_a_missing_rest_package_makes_the_reading_unknown_not_down(client, sandbox, intent):
    run_push(client, intent)
    sandbox.faults.rest_package_missing = True

    status = client.read_status(intent)

    assert status.tunnel == TunnelState.UNKNOWN
    assert status.error.startswith("The pfSense REST API package is not installed")


def test_the_bgp_neighbor_detail_and_sas_are_typed(client, intent):
    run_push(client, intent)

    (sa,) = client.ipsec_sas()
    peer = client.bgp_neighbor("172.16.19.254")

    assert (sa.con_id, sa.state, sa.children[0].state, sa.children[0].reqid) == (
        "con1",
        "ESTABLISHED",
        "INSTALLED",
        5001,
    )
    assert peer.state == BgpState.ESTABLISHED and peer.prefixes_received == 1
