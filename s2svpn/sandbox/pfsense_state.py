"""The pfSense sandbox's state: the simulated config.xml, packages, revisions, what is applied
(``running``) and what is only written (``dirty``), plus injected faults and the API's errors.

State persists in ``<state_dir>/pfsense.json``; the other parts of the sandbox (``pfsense_config``,
``pfsense_commands``, ``pfsense_status``) are mixins over :class:`PfSenseStore`.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2svpn.sandbox.contract import Contract
from s2svpn.sandbox.world import World

STATUS_WORDS = {
    200: "ok",
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    415: "unsupported media type",
    422: "unprocessable entity",
    424: "failed dependency",
    429: "too many requests",
    500: "internal server error",
    503: "service unavailable",
}
NGINX_404 = (
    b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found"
    b"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
AVAILABLE_PACKAGES = {"pfSense-pkg-frr": "2.0.2", "pfSense-pkg-RESTAPI": "2.10.0"}
FRR_PACKAGE = "pfSense-pkg-frr"


@dataclass
class Fault:
    """An injected failure: answer ``code``/``response_id`` ``times`` times (None = always)."""

    code: int = 500
    response_id: str = "ENDPOINT_RECEIVED_UNEXPECTED_ERROR"
    times: int | None = None
    message: str = "Injected failure."


@dataclass
class Faults:
    """What to break. ``fail_at`` keys: ``"POST /api/v2/vpn/ipsec/phase2"``; command kinds as
    ``"POST /api/v2/diagnostics/command_prompt#frr_write"`` (kinds: stage, frr_write, frr_read,
    frr_generate, checkpoint, restore, discard, vtysh)."""

    fail_at: dict[str, Fault | int] = field(default_factory=dict)
    rest_package_missing: bool = False
    frr_running: bool = True

    def take(self, key: str) -> Fault | None:
        fault = self.fail_at.get(key)
        if fault is None:
            return None
        if isinstance(fault, int):
            fault = Fault(code=fault, response_id=_default_rid(fault))
            self.fail_at[key] = fault
        if fault.times is not None:
            if fault.times <= 0:
                return None
            fault.times -= 1
        return fault


def _default_rid(code: int) -> str:
    return {
        400: "FIELD_INVALID_CHOICE",
        401: "AUTH_AUTHENTICATION_FAILED",
        403: "AUTH_AUTHORIZATION_FAILED",
        404: "MODEL_OBJECT_NOT_FOUND",
        409: "MODEL_CANNOT_BE_DELETED_WHILE_REFERENCED",
        424: "MODEL_MISSING_REQUIRED_PACKAGE",
        429: "TOO_MANY_REQUESTS",
        503: "MODEL_WRITE_CONFIG_LOCKED",
    }.get(code, "ENDPOINT_RECEIVED_UNEXPECTED_ERROR")


class ApiError(Exception):
    def __init__(self, code: int, response_id: str, message: str) -> None:
        super().__init__(message)
        self.code, self.response_id, self.message = code, response_id, message


def _initial_state(wan_ip: str, lan_ip: str, frr_installed: bool) -> dict:
    config = {
        "interfaces": {
            "wan": {
                "if": "vtnet0",
                "descr": "WAN",
                "enable": True,
                "typev4": "static",
                "ipaddr": wan_ip,
                "subnet": 24,
                "typev6": "none",
            },
            "lan": {
                "if": "vtnet1",
                "descr": "LAN",
                "enable": True,
                "typev4": "static",
                "ipaddr": lan_ip,
                "subnet": 24,
                "typev6": "none",
            },
        },
        "ipsec": {"phase1": [], "phase2": []},
        "filter": {
            "rule": [
                {
                    "type": "pass",
                    "interface": ["lan"],
                    "ipprotocol": "inet",
                    "protocol": None,
                    "source": "lan",
                    "destination": "any",
                    "descr": "Default allow LAN to any rule",
                    "disabled": False,
                    "log": False,
                    "tracker": 100000001,
                }
            ]
        },
        "installedpackages": {},
        # automatic outbound NAT, as on a fresh pfSense (s2svpn.sandbox.pfsense_nat)
        "nat": {"outbound": {"mode": "automatic", "rule": []}},
        # pfSense's defaults: Allow APIPA off, no IPsec maximum MSS
        "system": {"hostname": "pfSense", "domain": "home.arpa"},
    }
    packages = ["pfSense-pkg-RESTAPI"] + ([FRR_PACKAGE] if frr_installed else [])
    return {
        "config": config,
        "settings": {
            "enabled": True,
            "represent_interfaces_as": "id",
            "auth_methods": ["BasicAuth", "KeyAuth"],
            "expose_sensitive_fields": False,
        },
        "packages": packages,
        "revisions": [
            {
                "time": 1_780_000_000,
                "description": "admin@192.168.178.20 (Local Database): Initial configuration",
                "version": "24.0",
                "filesize": len(json.dumps(config)),
            }
        ],
        "dirty": {"ipsec": False, "interfaces": [], "filter": False},
        "running": {
            "ipsec": copy.deepcopy(config["ipsec"]),
            "interfaces": copy.deepcopy(config["interfaces"]),
            "filter": copy.deepcopy(config["filter"]),
            "system": copy.deepcopy(config["system"]),
            "nat": copy.deepcopy(config["nat"]),
            "frr": None,
        },
        "files": {},
        "clock": 1_780_000_000,
    }


def _lowest_free(used: set) -> int:
    n = 1
    while n in used:
        n += 1
    return n


def _compact(obj: dict) -> dict:
    """Drop fields whose conditions removed them (None), as pfSense does not write them."""
    return {k: v for k, v in obj.items() if v is not None or k == "protocol"}


def _infer(value: Any) -> Any:
    """URL-encoded type inference of the package: digits -> int, true/false/null."""
    if isinstance(value, list):
        return [_infer(v) for v in value]
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


class PfSenseStore:
    """State, persistence and config revisions shared by every part of the pfSense sandbox."""

    state: dict
    state_file: Path
    contract: Contract
    faults: Faults
    world: World | None
    firewall_id: str
    lock: threading.RLock
    _current_request: dict
    _world_keys: set[str]

    @property
    def config(self) -> dict:
        return self.state["config"]

    def snapshot(self) -> dict:
        """A deep copy of the configuration (what a config.xml diff would compare)."""
        with self.lock:
            return copy.deepcopy(self.state["config"])

    def _save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True))
        tmp.replace(self.state_file)

    def _tick(self) -> int:
        self.state["clock"] += 1
        return self.state["clock"]

    def _revision(self, description: str) -> None:
        size = len(json.dumps(self.state["config"]))
        self.state["revisions"].insert(
            0,
            {
                "time": self._tick(),
                "description": f"api@127.0.0.1 (API): {description}",
                "version": "24.0",
                "filesize": size,
            },
        )

    # ---- slow work (package installs, applies) ------------------------------------------------
    _deferred: list
    _idle: threading.Condition
    _busy: int

    def _later(self, seconds: float, finish: Any) -> None:
        """Answer the current request only after ``seconds`` and run ``finish`` then (under the
        lock, whether or not the client is still waiting): how pfSense runs pkg_install() and
        applies inline in the REST call."""
        self._deferred.append((seconds, finish))

    def _run_deferred(self, work: list) -> None:
        for seconds, finish in work:
            time.sleep(seconds)
            with self.lock:
                finish()
                self._save()
        with self._idle:
            self._busy -= len(work)
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no install or apply is running (tests); True when idle."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    wait_for_install = wait_for_applies = wait_idle
