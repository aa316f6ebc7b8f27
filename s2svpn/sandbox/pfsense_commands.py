"""``POST /api/v2/diagnostics/command_prompt`` in the pfSense sandbox: exactly the commands the
client sends (texts in :mod:`s2svpn.pfsense_plan`): staging base64 chunks, FRR write/read/
generate, checkpoint/restore/discard and ``vtysh … json``; anything else answers a non-zero
``result_code`` as a shell would.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from typing import Any

from s2svpn import pfsense_plan as cmds
from s2svpn.sandbox.pfsense_state import FRR_PACKAGE, PfSenseStore


class CommandPrompt(PfSenseStore):
    _STAGE = re.compile(
        r"^umask 077; printf %s ([A-Za-z0-9+/=]*) >> /tmp/s2svpn-([0-9a-f]{16})\.b64$"
    )
    _VTYSH = re.compile(r"^/usr/local/bin/vtysh -c '([a-z0-9 .:-]+)'$")

    def _php_call(self, command: str, code: str) -> list[str] | None:
        prefix = f"{cmds.PHP} -r '{code}'"
        if command == prefix:
            return []
        if command.startswith(prefix + " "):
            return command[len(prefix) + 1 :].split(" ")
        return None

    def _command_kind(self, command: str) -> str:
        if self._STAGE.match(command):
            return "stage"
        for kind, code in (
            ("frr_write", cmds.FRR_WRITE_PHP),
            ("frr_read", cmds.FRR_READ_PHP),
            ("frr_generate", cmds.FRR_GENERATE_PHP),
            ("checkpoint", cmds.CHECKPOINT_PHP),
            ("restore", cmds.RESTORE_PHP),
            ("system_read", cmds.SYSTEM_READ_PHP),
            ("system_write", cmds.SYSTEM_WRITE_PHP),
        ):
            if self._php_call(command, code) is not None:
                return kind
        if re.match(r"^rm -f /var/db/s2svpn/checkpoint-[0-9a-f]{16}\.json$", command):
            return "discard"
        if self._VTYSH.match(command):
            return "vtysh"
        return "unknown"

    def _command_prompt(self, method: str, query: dict, body: dict) -> dict:
        obj = self.contract.validate("CommandPrompt", body)
        command = obj["command"]
        self.commands.append(command)
        output, code = self._run(command)
        return {"output": output, "result_code": code}

    def _run(self, command: str) -> tuple[str, int]:
        files = self.state["files"]
        kind = self._command_kind(command)
        if kind not in ("vtysh", "unknown") and self.php.available:
            return self._run_php(command)
        if kind == "system_read":
            system = self.config.get("system") or {}
            return json.dumps({key: system.get(key) for key in cmds.SYSTEM_KEYS}), 0
        if kind == "system_write":
            (path,) = self._php_call(command, cmds.SYSTEM_WRITE_PHP)
            data = _payload(files.pop(path, None))
            if data is None:
                return "s2svpn: unreadable payload", 2
            system = self.config.setdefault("system", {})
            for key in cmds.SYSTEM_KEYS:
                if key in data:
                    if data[key] is None:
                        system.pop(key, None)
                    else:
                        system[key] = data[key]
            self._revision("s2svpn: system settings (Allow APIPA, maximum MSS)")
            return "s2svpn: written", 0
        if kind == "stage":
            chunk, nonce = self._STAGE.match(command).groups()
            path = cmds.stage_path(nonce)
            files[path] = files.get(path, "") + chunk
            return "", 0
        if kind == "frr_write":
            (path,) = self._php_call(command, cmds.FRR_WRITE_PHP)
            data = _payload(files.pop(path, None))
            if data is None:
                return "s2svpn: unreadable payload", 2
            packages = self.config["installedpackages"]
            for key in ("frr", "frrbgp", "frrbgpadvanced"):
                if key in data:
                    if data[key] is None:
                        packages.pop(key, None)
                    else:
                        packages[key] = {"config": [data[key]]}
            if "frrbgpneighbors" in data:
                if not data["frrbgpneighbors"]:
                    packages.pop("frrbgpneighbors", None)
                else:
                    packages["frrbgpneighbors"] = {"config": list(data["frrbgpneighbors"])}
            self._revision("s2svpn: FRR BGP settings")
            return "s2svpn: written", 0
        if kind == "frr_read":
            return json.dumps(self._frr_sections(self.config)), 0
        if kind == "frr_generate":
            if FRR_PACKAGE not in self.state["packages"]:
                return (
                    "PHP Fatal error:  Uncaught Error: Failed opening required "
                    "'/usr/local/pkg/frr.inc'",
                    255,
                )
            self._frr_generated()
            return "s2svpn: frr generated", 0
        if kind == "checkpoint":
            (path,) = self._php_call(command, cmds.CHECKPOINT_PHP)
            sections = {p: copy.deepcopy(self._get_path(p)) for p in cmds.CHECKPOINT_SECTIONS}
            blob = base64.b64encode(json.dumps(sections).encode()).decode()
            files[path] = blob
            digest = hashlib.sha256(blob.encode()).hexdigest()
            return json.dumps({"sha256": digest, "bytes": len(blob)}), 0
        if kind == "restore":
            path, digest = self._php_call(command, cmds.RESTORE_PHP)
            blob = files.get(path)
            if blob is None:
                return "s2svpn: checkpoint missing", 3
            if hashlib.sha256(blob.encode()).hexdigest() != digest:
                return "s2svpn: checkpoint changed", 4
            for section, value in json.loads(base64.b64decode(blob)).items():
                if section in cmds.CHECKPOINT_SECTIONS:
                    self._set_path(section, copy.deepcopy(value))
            self._revision("s2svpn: restored checkpoint")
            self.state["running"]["ipsec"] = copy.deepcopy(self.config["ipsec"])
            self.state["running"]["interfaces"] = copy.deepcopy(self.config["interfaces"])
            self.state["running"]["filter"] = copy.deepcopy(self.config["filter"])
            self.state["running"]["system"] = copy.deepcopy(self.config.get("system") or {})
            self.state["running"]["nat"] = copy.deepcopy(self.config.get("nat"))
            self.state["dirty"] = {"ipsec": False, "interfaces": [], "filter": False}
            if FRR_PACKAGE in self.state["packages"]:
                self.state["running"]["frr"] = copy.deepcopy(self._frr_sections(self.config))
            self._sync_world()
            return "s2svpn: restored", 0
        if kind == "discard":
            files.pop(command.split(" ")[-1], None)
            return "", 0
        if kind == "vtysh":
            return self._vtysh(self._VTYSH.match(command).group(1))
        return f"sh: {command.split(' ')[0][:40]}: not permitted in the sandbox", 127

    def _frr_generated(self) -> None:
        """pfSense-pkg-frr's frr_generate_config(): without installedpackages/frr it returns
        before touching the daemons (frr.inc frr_generate_config_rcfile()); otherwise it renders
        the sections and restarts the daemons, which then run only with ``enable`` set."""
        sections = self._frr_sections(self.config)
        if sections["frr"] is not None:
            self.state["running"]["frr"] = copy.deepcopy(sections)
            self._sync_world()

    def _run_php(self, command: str) -> tuple[str, int]:
        """The same command, executed by real PHP (``pfsense_php``) against this config."""
        outcome = self.php.run(
            command,
            config=self.config,
            files=self.state["files"],
            frr_installed=FRR_PACKAGE in self.state["packages"],
        )
        if outcome.config is not None:
            self.state["config"] = outcome.config
        self.state["files"] = outcome.files
        for event, detail in outcome.events:
            if event == "write_config":
                self._revision(detail)
            elif event == "ipsec_configure":
                self.state["running"]["ipsec"] = copy.deepcopy(self.config["ipsec"])
                self.state["running"]["interfaces"] = copy.deepcopy(self.config["interfaces"])
                self.state["dirty"]["ipsec"], self.state["dirty"]["interfaces"] = False, []
            elif event == "filter_configure":
                self.state["running"]["system"] = copy.deepcopy(self.config.get("system") or {})
                self.state["running"]["filter"] = copy.deepcopy(self.config["filter"])
                self.state["running"]["nat"] = copy.deepcopy(self.config.get("nat"))
                self.state["dirty"]["filter"] = False
            elif event == "frr_generate_config":
                self._frr_generated()
        self._sync_world()
        return outcome.output, outcome.code

    def _get_path(self, path: str) -> Any:
        node: Any = self.config
        for part in path.split("/"):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def _set_path(self, path: str, value: Any) -> None:
        parts = path.split("/")
        node = self.config
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = value

    @staticmethod
    def _frr_sections(config: dict) -> dict:
        packages = config.get("installedpackages") or {}

        def single(key: str) -> dict | None:
            entries = (packages.get(key) or {}).get("config") or []
            return entries[0] if entries else None

        return {
            "frr": single("frr"),
            "frrbgp": single("frrbgp"),
            "frrbgpadvanced": single("frrbgpadvanced"),
            "frrbgpneighbors": list((packages.get("frrbgpneighbors") or {}).get("config") or []),
        }


def _payload(blob: str | None) -> dict | None:
    """A staged base64 JSON payload as the snippets decode it (None: unreadable)."""
    try:
        data = json.loads(base64.b64decode(blob or "", validate=True))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
