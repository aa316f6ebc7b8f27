"""The validator reads the contract file; the sandbox answers like the package does.

(The check that every body the client sends follows the contract runs after every test in this
package: see ``assert_bodies_follow_the_contract`` in conftest.py.)
"""

from __future__ import annotations

import copy
import json
import ssl

import httpx
import pytest

from s2svpn.sandbox.contract import Context, Contract, ContractError
from tests.pfsense.conftest import CONTRACT, FIXTURES
from tests.pfsense.test_push import run_push

REQUESTS = FIXTURES / "synthesized" / "restapi"


def body(name):
    return json.loads((REQUESTS / name).read_text())


def rejects(model, data, response_id, **kwargs):
    with pytest.raises(ContractError) as refused:
        CONTRACT.validate(model, data, **kwargs)
    assert refused.value.response_id == response_id, refused.value
    return refused.value


def test_the_recorded_request_examples_pass_the_checker():
    ctx = Context(interfaces=["wan", "lan"], ports=["ipsec1"], foreign={"IPsecPhase1.ikeid": [1]})
    for model, name in [
        ("IPsecPhase1", "vpn_ipsec_phase1_post_request.json"),
        ("IPsecPhase2", "vpn_ipsec_phase2_post_request.json"),
        ("NetworkInterface", "interface_post_request.json"),
        ("FirewallRule", "firewall_rule_post_request.json"),
        ("CommandPrompt", "diagnostics_command_prompt_post_request.json"),
    ]:
        CONTRACT.validate(model, body(name), context=ctx, strict=True)


def test_gcm_phase2_still_needs_a_hash_algorithm():
    data = body("vpn_ipsec_phase2_post_request.json")
    del data["hash_algorithm_option"]
    rejects("IPsecPhase2", data, "FIELD_IS_REQUIRED")
    data["hash_algorithm_option"] = []
    rejects("IPsecPhase2", data, "LENGTH_VALIDATOR_MINIMUM_CONSTRAINT")


def test_vti_interface_names_are_at_most_22_characters():
    data = body("interface_post_request.json") | {"descr": "A" * 23}
    rejects("NetworkInterface", data, "NETWORK_INTERFACE_DESCR_IPSEC_MAX_LENGTH_EXCEEDED")
    rejects(
        "NetworkInterface",
        data | {"descr": "AZURE-VTI"},
        "FILTER_NAME_VALIDATOR_INVALID_CHARACTERS",
    )


def test_rekey_time_is_checked_against_the_default_lifetime():
    data = body("vpn_ipsec_phase1_post_request.json") | {"lifetime": 3600}
    del data["rekey_time"]
    rejects("IPsecPhase1", data, "IPSEC_PHASE_1_REKEY_TIME_GREATER_THAN_LIFETIME")


def test_types_are_strict_and_ports_are_strings():
    data = body("vpn_ipsec_phase1_post_request.json")
    rejects("IPsecPhase1", data | {"ikeport": 500}, "FIELD_INVALID_TYPE")
    rejects(
        "IPsecPhase1", data | {"nattport": "500"}, "IPSEC_PHASE_1_NATTPORT_CANNOT_MATCH_IKEPORT"
    )


def test_conditions_drop_fields_that_do_not_apply():
    data = body("vpn_ipsec_phase1_post_request.json") | {"mode": "bogus"}
    assert CONTRACT.validate("IPsecPhase1", data)["mode"] is None
    rejects("IPsecPhase1", data | {"iketype": "ikev1"}, "FIELD_INVALID_CHOICE")


def test_nested_keylen_errors_come_back_with_the_inner_response_id():
    data = copy.deepcopy(body("vpn_ipsec_phase1_post_request.json"))
    data["encryption"][0]["encryption_algorithm_keylen"] = 300
    error = rejects("IPsecPhase1", data, "IPSEC_PHASE_1_ENCRYPTION_ALGORITHM_KEYLEN_INVALID_CHOICE")
    assert error.message.startswith("Field `encryption` encountered a nested validation error")


def test_a_firewall_rule_interface_must_be_a_list():
    data = body("firewall_rule_post_request.json")
    rejects("FirewallRule", data | {"interface": "enc0"}, "FIELD_INVALID_MANY_VALUE")
    rejects(
        "FirewallRule",
        data | {"interface": ["enc0", "wan"]},
        "FIREWALL_RULE_MULTIPLE_INTERFACE_WITHOUT_FLOATING",
    )
    rejects("FirewallRule", data | {"source": "!any"}, "FILTER_RULE_ADDRESS_FIELD_WITH_INVERT_ANY")


def test_command_texts_longer_than_1024_characters_are_refused():
    rejects("CommandPrompt", {"command": "x" * 1025}, "LENGTH_VALIDATOR_MAXIMUM_CONSTRAINT")
    rejects("CommandPrompt", {}, "FIELD_IS_REQUIRED")


def test_the_checker_flags_unknown_and_read_only_keys_the_server_would_ignore():
    data = body("interface_post_request.json")
    CONTRACT.validate("NetworkInterface", data | {"colour": "blue"})
    rejects("NetworkInterface", data | {"colour": "blue"}, "UNKNOWN_FIELD", strict=True)
    rejects(
        "IPsecPhase1",
        body("vpn_ipsec_phase1_post_request.json") | {"ikeid": 7},
        "READ_ONLY_FIELD_SENT",
        strict=True,
    )


def test_the_rules_come_from_the_file_not_from_code(tmp_path):
    raw = json.loads(CONTRACT.path.read_text())
    iface = next(m for m in raw["models"]["NetworkInterface"]["fields"] if m["name"] == "mss")
    iface["maximum"] = 1400
    edited = tmp_path / "contract.json"
    edited.write_text(json.dumps(raw))

    strict_mss = Contract(edited)

    data = body("interface_post_request.json") | {"mss": 1450}
    CONTRACT.validate("NetworkInterface", data)
    with pytest.raises(ContractError, match="NUMERIC_RANGE_VALIDATOR_MAXIMUM_CONSTRAINT"):
        strict_mss.validate("NetworkInterface", data)


def test_the_sandbox_answers_a_bad_body_with_the_packages_envelope(sandbox):
    headers = {"X-API-Key": sandbox.api_key}
    data = body("vpn_ipsec_phase2_post_request.json") | {"ikeid": 9}
    verify = ssl.create_default_context(cafile=sandbox.ca_file)
    with httpx.Client(base_url=sandbox.base_url, verify=verify, headers=headers) as http:
        response = http.post("/api/v2/vpn/ipsec/phase2", json=data)
    assert response.status_code == 404
    assert response.json() | {"message": ""} == {
        "code": 404,
        "status": "not found",
        "response_id": "FOREIGN_MODEL_FIELD_VALUE_NOT_FOUND",
        "message": "",
        "data": [],
    }
    sandbox.requests.clear()  # a deliberately bad body, not one the client sent


def test_a_push_sends_every_kind_of_body_and_all_of_them_pass(client, sandbox, intent):
    run_push(client, intent)

    sent = {(r["method"], r["path"]) for r in sandbox.requests if r["method"] in ("POST", "PATCH")}
    assert {
        ("POST", "/api/v2/vpn/ipsec/phase1"),
        ("POST", "/api/v2/vpn/ipsec/phase2"),
        ("POST", "/api/v2/interface"),
        ("POST", "/api/v2/firewall/rule"),
        ("POST", "/api/v2/diagnostics/command_prompt"),
        ("POST", "/api/v2/vpn/ipsec/apply"),
        ("POST", "/api/v2/interface/apply"),
        ("POST", "/api/v2/firewall/apply"),
    } <= sent
