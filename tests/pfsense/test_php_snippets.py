"""Every command-prompt snippet s2svpn can send, executed by real PHP against the sandbox's config.

The PHP runs with the sandbox's stand-ins of pfSense's config.inc / ipsec.inc / filter.inc and
pfSense-pkg-frr's frr.inc (``s2svpn/sandbox/php``); a snippet that does not parse, calls a
function pfSense does not have or forgets ``write_config()`` fails here as on the firewall.
CI installs ``php-cli``; without it these tests are skipped (the sandbox then emulates).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest

from s2svpn import pfsense_plan as cmds
from s2svpn.sandbox.pfsense import PfSenseSandbox
from s2svpn.sandbox.pfsense_php import PhpRunner, php_binary

# CI (``CI`` set) installs php-cli: there a missing php fails instead of skipping quietly
needs_php = pytest.mark.skipif(
    not php_binary() and not os.environ.get("CI"),
    reason="php is not installed (CI installs php-cli)",
)

NONCE = "0123456789abcdef"
USER_FRR = {
    "frr": {"enable": "on", "password": "users-own-password"},
    "frrbgp": {
        "enable": "on",
        "asnum": "65010",
        "row": [{"distributeroutevalue": "192.168.50.0/24", "distributeroutemap": "none"}],
    },
    "frrbgpadvanced": None,
    "frrbgpneighbors": [{"peer": "192.0.2.7", "asnum": "64512", "descr": "users-peer"}],
}


class Firewall:
    """The sandbox's stored configuration and files, changed only by what PHP saved."""

    def __init__(self, tmp_path, *, frr_installed: bool = True) -> None:
        self.config = PfSenseSandbox(tmp_path / "sandbox").config
        self.files: dict[str, str] = {}
        self.frr_installed = frr_installed
        self.runner = PhpRunner(tmp_path / "php-root")
        self.events: list[tuple[str, str]] = []

    def run(self, command: str) -> tuple[str, int]:
        outcome = self.runner.run(
            command, config=self.config, files=self.files, frr_installed=self.frr_installed
        )
        if outcome.config is not None:
            self.config = outcome.config
        self.files = outcome.files
        self.events += outcome.events
        return outcome.output, outcome.code

    def run_all(self, commands: list[str]) -> str:
        output = ""
        for command in commands:
            output, code = self.run(command)
            assert code == 0, output
        return output


@needs_php
def test_it_writes_and_reads_back_the_frr_sections_with_real_php(tmp_path):
    fw = Firewall(tmp_path)
    out = fw.run_all(cmds.frr_write_commands(USER_FRR, NONCE))
    assert out == "s2svpn: written"
    assert fw.files == {}  # the staged payload was read and removed
    packages = fw.config["installedpackages"]
    assert packages["frrbgp"]["config"][0]["row"][0]["distributeroutevalue"] == "192.168.50.0/24"
    assert "frrbgpadvanced" not in packages  # null deletes the section
    output, code = fw.run(cmds.frr_read_command())
    assert code == 0
    read = json.loads(output)
    assert read["frr"] == USER_FRR["frr"] and read["frrbgpneighbors"] == USER_FRR["frrbgpneighbors"]
    assert ("write_config", "s2svpn: FRR BGP settings") in fw.events


@needs_php
def test_frr_generate_needs_the_package_as_on_pfsense(tmp_path):
    fw = Firewall(tmp_path, frr_installed=False)
    output, code = fw.run(cmds.frr_generate_command())
    assert code == 255 and "frr.inc" in output  # require_once of a missing file is fatal
    fw.frr_installed = True
    fw.run_all(cmds.frr_write_commands(USER_FRR, NONCE))
    assert fw.run_all([cmds.frr_generate_command()]) == "s2svpn: frr generated"
    assert ("frr_generate_config", "configured") in fw.events


@needs_php
def test_the_system_settings_round_trip(tmp_path):
    fw = Firewall(tmp_path)
    assert json.loads(fw.run_all([cmds.system_read_command()])) == dict.fromkeys(cmds.SYSTEM_KEYS)
    fw.run_all(cmds.system_write_commands({"no_apipa_block": "yes", "maxmss": "1350"}, NONCE))
    fw.run_all(cmds.system_write_commands({"maxmss_enable": "yes"}, NONCE))
    assert json.loads(fw.run_all([cmds.system_read_command()])) == {
        "no_apipa_block": "yes",
        "maxmss_enable": "yes",
        "maxmss": "1350",
    }
    fw.run_all(cmds.system_write_commands({"no_apipa_block": None}, NONCE))
    assert "no_apipa_block" not in fw.config["system"]


@needs_php
def test_checkpoint_restore_and_discard_run_for_real(tmp_path):
    fw = Firewall(tmp_path)
    fw.run_all(cmds.frr_write_commands(USER_FRR, NONCE))
    info = json.loads(fw.run_all([cmds.checkpoint_command(NONCE)]))
    path = cmds.checkpoint_path(NONCE)
    assert info["sha256"] == hashlib.sha256(fw.files[path].encode()).hexdigest()
    saved = json.loads(base64.b64decode(fw.files[path]))
    assert saved["installedpackages/frr"]["config"][0]["password"] == "users-own-password"

    fw.run_all(cmds.frr_write_commands({"frr": None, "frrbgp": None}, "fedcba9876543210"))
    assert "frr" not in fw.config["installedpackages"]
    assert fw.run(cmds.restore_command(NONCE, "0" * 64)) == ("s2svpn: checkpoint changed", 4)
    assert fw.run_all([cmds.restore_command(NONCE, info["sha256"])]) == "s2svpn: restored"
    assert fw.config["installedpackages"]["frr"]["config"][0]["password"] == "users-own-password"
    assert {"ipsec_configure", "filter_configure", "frr_generate_config"} <= {
        e[0] for e in fw.events
    }

    fw.run_all([cmds.discard_checkpoint_command(NONCE)])
    assert path not in fw.files
    assert fw.run(cmds.restore_command(NONCE, info["sha256"])) == ("s2svpn: checkpoint missing", 3)


@needs_php
def test_a_broken_snippet_fails(tmp_path):
    """What a typo in a snippet would do on pfSense: a parse error, an unknown function, or a
    write that never reaches write_config() - the sandbox now notices each of them."""
    fw = Firewall(tmp_path)
    before = json.loads(json.dumps(fw.config))
    typo = cmds._php(cmds.SYSTEM_READ_PHP.replace("echo json_encode($o);", "echo json_encode($o)"))
    output, code = fw.run(typo)
    assert code == 255 and "syntax error" in output
    unknown = cmds._php(cmds.FRR_GENERATE_PHP.replace("frr_generate_config()", "frr_generate()"))
    output, code = fw.run(unknown)
    assert code == 255 and "undefined function frr_generate" in output
    forgetful = cmds.SYSTEM_WRITE_PHP.replace("write_config(", "strlen(")
    commands = cmds._staged_php({"no_apipa_block": "yes"}, NONCE, forgetful)
    fw.run_all(commands)
    assert fw.config == before  # nothing saved: Allow APIPA would stay off on pfSense


@needs_php
def test_the_sandbox_runs_the_pushs_php_for_real(client, sandbox, intent):
    from tests.pfsense.test_push import run_push

    assert sandbox.php.available
    state = run_push(client, intent)
    assert state["verify"]["result"] == "ok"
    packages = sandbox.config["installedpackages"]
    assert packages["frrbgpneighbors"]["config"][0]["peer"] == "172.16.19.254"
    saved = [r["description"] for r in sandbox.state["revisions"]]
    assert any(d.endswith("s2svpn: FRR BGP settings") for d in saved)  # write_config() in PHP
    assert any(d.endswith("s2svpn: system settings (Allow APIPA, maximum MSS)") for d in saved)


def test_without_php_the_sandbox_emulates_and_says_so_once(make_sandbox, world, intent, caplog):
    import logging

    from s2svpn.clients.pfsense import PfSenseClient
    from s2svpn.sandbox import pfsense_php
    from tests.pfsense.test_push import run_push

    pfsense_php._said_missing = False
    with caplog.at_level(logging.INFO, logger="s2svpn.sandbox"):
        box = make_sandbox(world=world, php=False)
        make_sandbox(world=world, php=False)
    assert sum("no php binary" in r.getMessage() for r in caplog.records) == 1
    with PfSenseClient(box.base_url, box.api_key, ca_file=box.ca_file) as client:
        assert run_push(client, intent)["verify"]["result"] == "ok"
