"""The contract copy bundled for `make run` says the same as the shared fixture."""

from __future__ import annotations

import json

from s2svpn.sandbox.contract import BUNDLED_PATH, CONTRACT_PATH, Contract


def _without_text(value):
    if isinstance(value, dict):
        return {
            k: _without_text(v)
            for k, v in value.items()
            if not (k in {"help_text", "description"} and isinstance(v, str))
        }
    if isinstance(value, list):
        return [_without_text(v) for v in value]
    return value


def test_the_bundled_contract_equals_the_shared_one_minus_free_text():
    shared = json.loads(CONTRACT_PATH.read_text())
    bundled = json.loads(BUNDLED_PATH.read_text())
    assert set(bundled) - {"trimmed"} == set(shared)
    for section in set(shared) - {"description", "contract_version"}:
        assert bundled[section] == _without_text(shared[section]), section
    assert bundled["models"] == _without_text(shared["models"])
    assert bundled["endpoints"] == _without_text(shared["endpoints"])


def test_the_sandbox_validates_with_the_bundled_copy_alone():
    contract = Contract(BUNDLED_PATH)
    assert "IPsecPhase1" in contract.models
