"""A pfSense stand-in that speaks pfSense-pkg-RESTAPI v2 over HTTP(S) on loopback.

What it reproduces (``shared/reference/pfsense.md`` §3-§6, the contract file and its README):

* the envelope ``{code, status, response_id, message, data}``, ``X-API-Key`` auth (401
  ``AUTH_AUTHENTICATION_FAILED``), 404 ``MODEL_OBJECT_NOT_FOUND``, 405, and nginx's bare HTML 404
  when the REST package is missing (a pfSense upgrade removes it);
* field validation by :mod:`s2svpn.sandbox.contract` (the contract file decides: required,
  choices, conditions, lengths, uniqueness, model checks) - no per-field checks here;
* array-index ids that shift on delete, ``ikeid``/``reqid``/``tracker`` as stable keys, interface
  ids ``lan``/``optN``, ``apply`` flags (nothing is live until the subsystem is applied), a config
  revision per write, sensitive fields omitted from responses;
* ``POST /api/v2/diagnostics/command_prompt`` understanding exactly the commands the client sends
  (texts in :mod:`s2svpn.pfsense_plan`: FRR write/read/generate with base64 JSON, checkpoint and
  restore, ``vtysh … json``); anything else answers a non-zero ``result_code``;
* tunnel and BGP state from the shared :class:`~s2svpn.sandbox.world.World`: the applied
  configuration is published with ``world.set_pfsense`` and SA / BGP answers come from
  ``world.view()``.

State (config, packages, revisions, staged files) persists in ``<state_dir>/pfsense.json``.
Test infrastructure only (stdlib + the sandbox TLS helper).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import ipaddress
import json
import re
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from s2svpn import pfsense_plan as cmds
from s2svpn.sandbox.contract import Context, Contract, ContractError, default_contract
from s2svpn.sandbox.world import PfSenseEnd, World

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
            "frr": None,
        },
        "files": {},
        "clock": 1_780_000_000,
    }


class PfSenseSandbox:
    """One simulated pfSense firewall (REST API v2) on ``host:port``."""

    def __init__(
        self,
        state_dir: str | Path,
        *,
        world: World | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "s2svpn-sandbox-key-0123456789abcdef",
        tls: bool = True,
        firewall_id: str = "pfsense",
        wan_ip: str = "192.168.178.10",
        lan_ip: str = "10.0.0.1",
        frr_installed: bool = True,
        contract: Contract | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.world = world
        self.host, self.port, self.api_key, self.tls = host, port, api_key, tls
        self.firewall_id = firewall_id
        self.contract = contract or default_contract()
        self.faults = Faults()
        self.commands: list[str] = []
        # every authenticated request: {method, path, query, body[, current]} (current = the
        # stored object a PATCH edited, so a checker can validate the PATCH like the server)
        self.requests: list[dict] = []
        self._current_request: dict = {}
        self.lock = threading.RLock()
        self.ca_file: str | None = None
        self.fingerprint: str | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._world_keys: set[str] = set()
        self.state_file = self.state_dir / "pfsense.json"
        if self.state_file.exists():
            self.state = json.loads(self.state_file.read_text())
        else:
            self.state = _initial_state(wan_ip, lan_ip, frr_installed)
            self._save()

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> PfSenseSandbox:
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        if self.tls:
            from s2svpn.sandbox.tls import make_ca

            ca, cert, key = make_ca(self.state_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert), str(key))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.ca_file = str(ca)
            der = ssl.PEM_cert_to_DER_cert(
                Path(cert).read_text().split("-----END CERTIFICATE-----")[0]
                + "-----END CERTIFICATE-----\n"
            )
            self.fingerprint = hashlib.sha256(der).hexdigest()
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        with self.lock:
            self._sync_world()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.world is not None:
            for key in self._world_keys:
                self.world.set_pfsense(key, None)
            self._world_keys = set()

    def __enter__(self) -> PfSenseSandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

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

    # ---- request handling --------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, body: Any, headers: dict) -> tuple:
        """Return ``(http_code, payload_bytes, content_type)``."""
        with self.lock:
            if not path.startswith("/api/v2/"):
                return 404, NGINX_404, "text/html"
            if self.faults.rest_package_missing:
                return 404, NGINX_404, "text/html"
            if headers.get("x-api-key") != self.api_key:
                return self._envelope(401, "AUTH_AUTHENTICATION_FAILED", "Authentication failed.")
            self._current_request = {
                "method": method,
                "path": path,
                "query": dict(query),
                "body": copy.deepcopy(body),
            }
            self.requests.append(self._current_request)
            fault = self.faults.take(f"{method} {path}")
            if path == "/api/v2/diagnostics/command_prompt" and isinstance(body, dict):
                fault = fault or self.faults.take(
                    f"{method} {path}#{self._command_kind(str(body.get('command', '')))}"
                )
            if fault is not None:
                return self._envelope(fault.code, fault.response_id, fault.message)
            endpoint = self.contract.endpoint(path)
            if endpoint is None:
                return self._envelope(404, "ENDPOINT_NOT_FOUND", f"Endpoint {path} not found.")
            if method not in endpoint["methods"]:
                return self._envelope(
                    405, "ENDPOINT_METHOD_NOT_ALLOWED", f"Method {method} is not allowed."
                )
            if (
                method in ("POST", "PATCH", "PUT")
                and body is not None
                and not isinstance(body, (dict, list))
            ):
                return self._envelope(
                    400, "JSON_CONTENT_HANDLER_COULD_NOT_DECODE_JSON", "Invalid JSON body."
                )
            try:
                data = self._route(method, path, query, body if isinstance(body, dict) else {})
            except ApiError as error:
                return self._envelope(error.code, error.response_id, error.message)
            except ContractError as error:
                return self._envelope(error.code, error.response_id, error.message)
            self._save()
            return self._envelope(200, "SUCCESS", "", data)

    def _envelope(self, code: int, rid: str, message: str, data: Any = None) -> tuple:
        payload = {
            "code": code,
            "status": STATUS_WORDS.get(code, "error"),
            "response_id": rid,
            "message": message.replace('"', "`"),
            "data": [] if data is None else data,
        }
        return code, json.dumps(payload).encode(), "application/json"

    def _route(self, method: str, path: str, query: dict, body: dict) -> Any:
        routes = {
            "/api/v2/system/version": self._system_version,
            "/api/v2/system/restapi/version": self._restapi_version,
            "/api/v2/system/restapi/settings": self._settings,
            "/api/v2/system/packages": self._packages,
            "/api/v2/system/package": self._package,
            "/api/v2/interfaces": self._interfaces,
            "/api/v2/interface": self._interface,
            "/api/v2/interface/available_interfaces": self._available_interfaces,
            "/api/v2/interface/apply": self._interface_apply,
            "/api/v2/vpn/ipsec/phase1s": lambda m, q, b: self._many("IPsecPhase1", m),
            "/api/v2/vpn/ipsec/phase1": lambda m, q, b: self._one("IPsecPhase1", m, q, b),
            "/api/v2/vpn/ipsec/phase2s": lambda m, q, b: self._many("IPsecPhase2", m),
            "/api/v2/vpn/ipsec/phase2": lambda m, q, b: self._one("IPsecPhase2", m, q, b),
            "/api/v2/vpn/ipsec/apply": self._ipsec_apply,
            "/api/v2/firewall/rules": lambda m, q, b: self._many("FirewallRule", m),
            "/api/v2/firewall/rule": lambda m, q, b: self._one("FirewallRule", m, q, b),
            "/api/v2/firewall/apply": self._firewall_apply,
            "/api/v2/diagnostics/command_prompt": self._command_prompt,
            "/api/v2/diagnostics/config_history/revisions": self._revisions,
            "/api/v2/status/ipsec/sas": self._sas,
            "/api/v2/status/interfaces": self._interface_status,
            "/api/v2/status/gateways": self._gateway_status,
        }
        handler = routes.get(path)
        if handler is None:
            raise ApiError(405, "ENDPOINT_METHOD_NOT_ALLOWED", f"{path} is not simulated.")
        return handler(method, query, body)

    # ---- simple reads ------------------------------------------------------------------------
    def _system_version(self, *_: Any) -> dict:
        return {"version": "2.8.1-RELEASE", "base": "2.8.1", "patch": "0", "buildtime": ""}

    def _restapi_version(self, *_: Any) -> dict:
        return {
            "current_version": "v2.10.0",
            "latest_version": "v2.10.0",
            "update_available": False,
        }

    def _settings(self, method: str, query: dict, body: dict) -> dict:
        if method == "PATCH":
            obj = self.contract.validate(
                "RESTAPISettings", body, method="PATCH", current=self.state["settings"]
            )
            self.state["settings"].update({k: v for k, v in obj.items() if k in body})
        return dict(self.state["settings"])

    def _packages(self, method: str, *_: Any) -> list:
        return [
            {
                "id": index,
                "name": name,
                "shortname": name.replace("pfSense-pkg-", ""),
                "installed_version": AVAILABLE_PACKAGES.get(name, ""),
            }
            for index, name in enumerate(self.state["packages"])
        ]

    def _package(self, method: str, query: dict, body: dict) -> dict:
        if method != "POST":
            raise ApiError(405, "ENDPOINT_METHOD_NOT_ALLOWED", "Only POST is simulated.")
        obj = self.contract.validate(
            "Package",
            body,
            context=Context(foreign={"AvailablePackage.name": list(AVAILABLE_PACKAGES)}),
        )
        if obj["name"] not in self.state["packages"]:
            self.state["packages"].append(obj["name"])
        return {"name": obj["name"], "installed_version": AVAILABLE_PACKAGES[obj["name"]]}

    def _revisions(self, *_: Any) -> list:
        return [dict(rev, id=index) for index, rev in enumerate(self.state["revisions"])]

    # ---- interfaces ---------------------------------------------------------------------------
    def _repr_iface(self, iface_id: str) -> str:
        mode = self.state["settings"].get("represent_interfaces_as", "id")
        obj = self.config["interfaces"].get(iface_id)
        if obj is None or mode == "id":
            return iface_id
        return obj.get("descr") or iface_id.upper() if mode == "descr" else obj.get("if", iface_id)

    def _unrepr_iface(self, value: str) -> str:
        for iface_id in self.config["interfaces"]:
            if self._repr_iface(iface_id) == value:
                return iface_id
        return value

    def _interface_choices(self) -> list[str]:
        return [self._repr_iface(i) for i in self.config["interfaces"]]

    def _vti_ports(self) -> list[str]:
        return [
            f"ipsec{p2['reqid']}"
            for p2 in self.config["ipsec"]["phase2"]
            if p2.get("mode") == "vti" and not p2.get("disabled")
        ]

    def _ports(self) -> list[str]:
        physical = ["vtnet0", "vtnet1", "vtnet2"]
        return physical + self._vti_ports()

    def _interfaces(self, method: str, *_: Any) -> list:
        return [self._iface_out(i, o) for i, o in self.config["interfaces"].items()]

    def _iface_out(self, iface_id: str, obj: dict) -> dict:
        return {"id": iface_id, **obj}

    def _available_interfaces(self, *_: Any) -> list:
        in_use = {obj["if"]: i for i, obj in self.config["interfaces"].items()}
        return [
            {"id": index, "if": port, "mac": None, "dmesg": None, "in_use_by": in_use.get(port)}
            for index, port in enumerate(self._ports())
        ]

    def _interface(self, method: str, query: dict, body: dict) -> dict:
        interfaces = self.config["interfaces"]
        if method == "GET":
            iface_id = str(query.get("id", ""))
            if iface_id not in interfaces:
                raise ApiError(
                    404, "MODEL_OBJECT_NOT_FOUND", f"Object with ID '{iface_id}' does not exist."
                )
            return self._iface_out(iface_id, interfaces[iface_id])
        ctx = Context(
            interfaces=self._interface_choices(),
            ports=self._ports(),
            interface_ids=list(interfaces),
            existing=[{"id": i, **o} for i, o in interfaces.items()],
        )
        if method == "POST":
            obj = self.contract.validate("NetworkInterface", body, context=ctx)
            iface_id = "lan" if "lan" not in interfaces else self._next_opt()
            stored = _compact(obj)
            interfaces[iface_id] = stored
            self._mark_interface_dirty(iface_id, body)
            self._revision("Added interface via API")
            return self._iface_out(iface_id, stored)
        iface_id = str((body if method == "PATCH" else query).get("id", ""))
        if not iface_id:
            raise ApiError(400, "MODEL_REQUIRES_ID", "Field `id` is required.")
        if iface_id not in interfaces:
            raise ApiError(
                404, "MODEL_OBJECT_NOT_FOUND", f"Object with ID '{iface_id}' does not exist."
            )
        if method == "PATCH":
            ctx.current_id = iface_id
            self._current_request["current"] = copy.deepcopy(interfaces[iface_id])
            ctx.interface_ids = [i for i in interfaces if i != iface_id]
            obj = self.contract.validate(
                "NetworkInterface", body, method="PATCH", current=interfaces[iface_id], context=ctx
            )
            interfaces[iface_id] = _compact(obj)
            self._mark_interface_dirty(iface_id, body)
            self._revision("Modified interface via API")
            return self._iface_out(iface_id, interfaces[iface_id])
        if iface_id in ("wan", "lan"):
            raise ApiError(
                403, "MODEL_CANNOT_DELETE_PROTECTED_OBJECT", "The WAN/LAN cannot be deleted here."
            )
        removed = interfaces.pop(iface_id)
        self._mark_interface_dirty(iface_id, query)
        self._revision("Deleted interface via API")
        return self._iface_out(iface_id, removed)

    def _next_opt(self) -> str:
        n = 1
        while f"opt{n}" in self.config["interfaces"]:
            n += 1
        return f"opt{n}"

    def _mark_interface_dirty(self, iface_id: str, params: dict) -> None:
        if params.get("apply") is True:
            self._apply_interfaces()
        elif iface_id not in self.state["dirty"]["interfaces"]:
            self.state["dirty"]["interfaces"].append(iface_id)

    def _interface_apply(self, method: str, *_: Any) -> dict:
        if method == "POST":
            self._apply_interfaces()
        pending = self.state["dirty"]["interfaces"]
        return {"applied": not pending, "pending_interfaces": list(pending)}

    def _apply_interfaces(self) -> None:
        self.state["running"]["interfaces"] = copy.deepcopy(self.config["interfaces"])
        self.state["dirty"]["interfaces"] = []
        self._sync_world()

    # ---- list models (P1, P2, rules) ----------------------------------------------------------
    _LISTS = {
        "IPsecPhase1": ("ipsec", "phase1", "IPsec Phase 1", "ipsec"),
        "IPsecPhase2": ("ipsec", "phase2", "IPsec Phase 2", "ipsec"),
        "FirewallRule": ("filter", "rule", "Firewall Rule", "filter"),
    }

    def _list(self, model: str) -> list:
        section, key, _, _ = self._LISTS[model]
        return self.config[section][key]

    def _out(self, model: str, index: int, obj: dict) -> dict:
        hidden = self.contract.write_only_fields(model)
        if not self.state["settings"].get("expose_sensitive_fields"):
            hidden |= self.contract.sensitive_fields(model)
        out = {"id": index}
        for key, value in obj.items():
            if key in hidden:
                continue
            if key == "interface" and model == "IPsecPhase1":
                value = self._repr_iface(value)
            elif key == "interface" and model == "FirewallRule":
                value = [self._repr_iface(v) for v in value]
            if key in ("encryption", "encryption_algorithm_option") and isinstance(value, list):
                value = [dict(item, parent_id=index, id=i) for i, item in enumerate(value)]
            out[key] = value
        return out

    def _many(self, model: str, method: str) -> list:
        if method != "GET":
            raise ApiError(
                405, "ENDPOINT_METHOD_NOT_ALLOWED", "Only GET is simulated on plural endpoints."
            )
        return [self._out(model, i, o) for i, o in enumerate(self._list(model))]

    def _context(self, model: str, current_id: int | None = None) -> Context:
        items = self._list(model)
        existing = [dict(o, id=i) for i, o in enumerate(items)]
        return Context(
            interfaces=self._interface_choices(),
            interface_ids=list(self.config["interfaces"]),
            foreign={
                "IPsecPhase1.ikeid": [p1.get("ikeid") for p1 in self.config["ipsec"]["phase1"]]
            },
            existing=existing,
            current_id=current_id,
        )

    def _one(self, model: str, method: str, query: dict, body: dict) -> dict:
        items = self._list(model)
        _, _, verbose, subsystem = self._LISTS[model]
        if method == "POST":
            obj = self.contract.validate(model, body, context=self._context(model))
            stored = self._store(model, _compact(obj), None)
            items.append(stored)
            self._dirty(subsystem, body)
            self._revision(f"Added {verbose} via API")
            return self._out(model, len(items) - 1, stored)
        raw_id = (body if method == "PATCH" else query).get("id")
        if raw_id is None or raw_id == "":
            raise ApiError(400, "MODEL_REQUIRES_ID", "Field `id` is required.")
        if not isinstance(raw_id, int) or isinstance(raw_id, bool):
            raise ApiError(400, "FIELD_INVALID_TYPE", "Field `id` must be of type `integer`.")
        if not 0 <= raw_id < len(items):
            raise ApiError(
                404, "MODEL_OBJECT_NOT_FOUND", f"Object with ID '{raw_id}' does not exist."
            )
        if method == "GET":
            return self._out(model, raw_id, items[raw_id])
        if method == "PATCH":
            current = self._unstore(model, items[raw_id])
            self._current_request["current"] = copy.deepcopy(current)
            obj = self.contract.validate(
                model, body, method="PATCH", current=current, context=self._context(model, raw_id)
            )
            items[raw_id] = self._store(model, _compact(obj), items[raw_id])
            self._dirty(subsystem, body)
            self._revision(f"Modified {verbose} via API")
            return self._out(model, raw_id, items[raw_id])
        minimum = self.contract.models[model].get("many_minimum") or 0
        if len(items) <= minimum:
            raise ApiError(
                403, "MODEL_MANY_MINIMUM_REACHED", f"At least {minimum} {verbose} must exist."
            )
        removed = items.pop(raw_id)  # later ids shift down by one, as in config.xml
        self._dirty(subsystem, query)
        self._revision(f"Deleted {verbose} via API")
        return self._out(model, raw_id, removed)

    def _unstore(self, model: str, stored: dict) -> dict:
        out = dict(stored)
        if model == "IPsecPhase1" and "interface" in out:
            out["interface"] = self._repr_iface(out["interface"])
        if model == "FirewallRule" and "interface" in out:
            out["interface"] = [self._repr_iface(v) for v in out["interface"]]
        return out

    def _store(self, model: str, obj: dict, previous: dict | None) -> dict:
        """Server-assigned keys (read-only in the API) plus interface ids instead of names."""
        if model == "IPsecPhase1":
            obj["interface"] = self._unrepr_iface(obj["interface"])
            used = {p.get("ikeid") for p in self.config["ipsec"]["phase1"]}
            obj["ikeid"] = previous["ikeid"] if previous else _lowest_free(used)
        elif model == "IPsecPhase2":
            used = {p.get("reqid") for p in self.config["ipsec"]["phase2"]}
            obj["reqid"] = previous["reqid"] if previous else _lowest_free(used)
            obj["uniqid"] = previous["uniqid"] if previous else secrets.token_hex(7)[:13]
        elif model == "FirewallRule":
            obj["interface"] = [self._unrepr_iface(v) for v in obj["interface"]]
            if previous:
                obj["tracker"] = previous["tracker"]
            else:
                trackers = {r.get("tracker") for r in self.config["filter"]["rule"]}
                tracker = self._tick()
                while tracker in trackers:
                    tracker = self._tick()
                obj["tracker"] = tracker
        return obj

    def _dirty(self, subsystem: str, params: dict) -> None:
        if params.get("apply") is True:
            (self._apply_ipsec if subsystem == "ipsec" else self._apply_filter)()
        else:
            self.state["dirty"][subsystem] = True

    def _ipsec_apply(self, method: str, *_: Any) -> dict:
        if method == "POST":
            self._apply_ipsec()
        return {"applied": not self.state["dirty"]["ipsec"]}

    def _apply_ipsec(self) -> None:
        self.state["running"]["ipsec"] = copy.deepcopy(self.config["ipsec"])
        self.state["dirty"]["ipsec"] = False
        self._sync_world()

    def _firewall_apply(self, method: str, *_: Any) -> dict:
        if method == "POST":
            self._apply_filter()
        pending = ["filter"] if self.state["dirty"]["filter"] else []
        return {"applied": not pending, "pending_subsystems": pending}

    def _apply_filter(self) -> None:
        self.state["running"]["filter"] = copy.deepcopy(self.config["filter"])
        self.state["dirty"]["filter"] = False
        self._sync_world()

    # ---- command prompt -----------------------------------------------------------------------
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
        if kind == "stage":
            chunk, nonce = self._STAGE.match(command).groups()
            path = cmds.stage_path(nonce)
            files[path] = files.get(path, "") + chunk
            return "", 0
        if kind == "frr_write":
            (path,) = self._php_call(command, cmds.FRR_WRITE_PHP)
            blob = files.pop(path, None)
            try:
                data = json.loads(base64.b64decode(blob or "", validate=True))
            except ValueError:
                data = None
            if not isinstance(data, dict):
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
            self.state["running"]["frr"] = copy.deepcopy(self._frr_sections(self.config))
            self._sync_world()
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

    # ---- tunnel / BGP physics via the World ---------------------------------------------------
    def _frr_running(self) -> bool:
        running = self.state["running"].get("frr") or {}
        return (
            self.faults.frr_running
            and FRR_PACKAGE in self.state["packages"]
            and (running.get("frr") or {}).get("enable") == "on"
        )

    def _ends(self) -> dict[str, PfSenseEnd]:
        running = self.state["running"]
        ipsec = running.get("ipsec") or {"phase1": [], "phase2": []}
        frr = running.get("frr") or {}
        interfaces = running.get("interfaces") or {}
        rules = (running.get("filter") or {}).get("rule") or []
        wan_ip = (self.config["interfaces"].get("wan") or {}).get("ipaddr", "")
        ends: dict[str, PfSenseEnd] = {}
        for index, p1 in enumerate(ipsec.get("phase1") or []):
            p2 = next(
                (
                    p
                    for p in ipsec.get("phase2") or []
                    if p.get("ikeid") == p1.get("ikeid") and p.get("mode") == "vti"
                ),
                None,
            )
            if p2 is None:
                continue
            key = self.firewall_id if index == 0 else f"{self.firewall_id}#con{p1['ikeid']}"
            ends[key] = self._end(key, p1, p2, frr, interfaces, rules, wan_ip)
        return ends

    def _end(self, key, p1, p2, frr, interfaces, rules, wan_ip) -> PfSenseEnd:
        bgp = frr.get("frrbgp") or {}
        advanced = frr.get("frrbgpadvanced") or {}
        neighbors = frr.get("frrbgpneighbors") or []
        neighbor = next(
            (n for n in neighbors if n.get("peer") == p2.get("remoteid_address")),
            neighbors[0] if neighbors else {},
        )
        vti = f"ipsec{p2.get('reqid')}"
        vti_id = next(
            (i for i, o in interfaces.items() if o.get("if") == vti and o.get("enable")), None
        )
        source = neighbor.get("updatesource") or "default"
        if source in ("default", "") or source == vti_id:
            update_ip = p2.get("localid_address", "")
        else:
            update_ip = (interfaces.get(source) or {}).get("ipaddr", "")
        policy = advanced.get("disableebgprequirepolicy") != "on" and not (
            neighbor.get("routemap_in") and neighbor.get("routemap_out")
        )
        peer_ip = neighbor.get("peer") or p2.get("remoteid_address", "")
        myid_type, myid_data = p1.get("myid_type"), p1.get("myid_data") or ""
        if myid_type == "myaddress":
            ike_id = wan_ip
        elif myid_type == "dyn_dns":
            ike_id = (self.world.dns.get(myid_data, "") if self.world else "") or myid_data
        else:
            ike_id = myid_data
        frr_bgp_on = (frr.get("frr") or {}).get("enable") == "on" and bgp.get("enable") == "on"
        return PfSenseEnd(
            firewall_id=key,
            wan_public_ip=wan_ip,
            remote_gateway=p1.get("remote_gateway", ""),
            psk=p1.get("pre_shared_key", ""),
            ike_proposals=tuple(
                (
                    e["encryption_algorithm_name"],
                    int(e.get("encryption_algorithm_keylen") or 0),
                    e["hash_algorithm"],
                    int(e["dhgroup"]),
                )
                for e in p1.get("encryption") or []
            ),
            esp_encryptions=tuple(
                (e["name"], int(e.get("keylen") or 0))
                for e in p2.get("encryption_algorithm_option") or []
            ),
            esp_hashes=tuple(p2.get("hash_algorithm_option") or ()),
            pfs_group=int(p2.get("pfsgroup") or 0),
            p2_local=p2.get("localid_address", ""),
            p2_remote=p2.get("remoteid_address", ""),
            start_action=p1.get("startaction", ""),
            ikeid=int(p1.get("ikeid") or 0),
            reqid=int(p2.get("reqid") or 0),
            phase1_disabled=bool(p1.get("disabled")) or bool(p2.get("disabled")),
            vti_assigned=vti_id is not None,
            ipsec_rule=any(_rule_admits(rule, peer_ip) for rule in rules),
            frr_running=self._frr_running(),
            frr_enabled=frr_bgp_on,
            local_asn=int(bgp["asnum"]) if str(bgp.get("asnum", "")).isdigit() else None,
            neighbor=neighbor.get("peer", ""),
            neighbor_asn=int(neighbor["asnum"])
            if str(neighbor.get("asnum", "")).isdigit()
            else None,
            update_source_ip=update_ip,
            ebgp_requires_policy=policy,
            networks=tuple(
                row.get("distributeroutevalue")
                for row in bgp.get("row") or []
                if isinstance(row, dict) and row.get("distributeroutevalue")
            ),
            ike_lifetime=int(p1.get("lifetime") or 28800),
            child_lifetime=int(p2.get("lifetime") or 3600),
            ike_id=ike_id,
        )

    def _sync_world(self) -> None:
        if self.world is None:
            return
        ends = self._ends()
        for key in self._world_keys - set(ends):
            self.world.set_pfsense(key, None)
        for key, end in ends.items():
            self.world.set_pfsense(key, end)
        self._world_keys = set(ends)

    def _views(self) -> dict[str, Any]:
        if self.world is None:
            return {}
        self._sync_world()  # pfSense re-resolves a dyn_dns identifier; follow DNS changes
        return {view.pfsense_key: view for view in self.world.view() if view.pfsense_key}

    def _sas(self, *_: Any) -> list:
        views = self._views()
        out = []
        for key, end in self._ends().items():
            view = views.get(key)
            if view is None or not view.ike_up or end.phase1_disabled:
                continue
            enc, keylen, hash_name, dh = (
                end.ike_proposals[0] if end.ike_proposals else ("aes", 256, "sha256", 14)
            )
            children = []
            if view.child_up:
                esp_name, esp_keylen = (
                    end.esp_encryptions[0] if end.esp_encryptions else ("aes", 256)
                )
                gcm = "gcm" in esp_name
                children.append(
                    {
                        "name": f"con{end.ikeid}",
                        "uniqueid": 2 * len(out) + 2,
                        "reqid": 5000 + end.reqid,
                        "state": "INSTALLED",
                        "mode": "TUNNEL",
                        "protocol": "ESP",
                        "encap": True,
                        "encr_alg": "AES_GCM_16" if gcm else "AES_CBC",
                        "encr_keysize": int(re.sub(r"\D", "", esp_name) or esp_keylen)
                        if gcm
                        else esp_keylen,
                        "integ_alg": ""
                        if gcm
                        else _INTEG.get(end.esp_hashes[0] if end.esp_hashes else "", ""),
                        "dh_group": "",
                        "bytes_in": 1024,
                        "bytes_out": 2048,
                        "local_ts": ["0.0.0.0/0"],
                        "remote_ts": ["0.0.0.0/0"],
                    }
                )
            out.append(
                {
                    "id": len(out),
                    "con_id": f"con{end.ikeid}",
                    "uniqueid": 2 * len(out) + 1,
                    "version": 2,
                    "state": "ESTABLISHED",
                    "local_host": end.wan_public_ip,
                    "local_port": "4500",
                    "remote_host": end.remote_gateway,
                    "remote_port": "4500",
                    "nat_remote": False,
                    "nat_any": bool(self.world and self.world.nat.behind_nat),
                    "encr_alg": "AES_GCM_16" if "gcm" in enc else "AES_CBC",
                    "encr_keysize": keylen if "gcm" not in enc else 256,
                    "integ_alg": _INTEG.get(f"hmac_{hash_name}", ""),
                    "prf_alg": f"PRF_HMAC_{_SHA.get(hash_name, hash_name.upper())}",
                    "dh_group": _DH.get(dh, f"GROUP_{dh}"),
                    "established": 60,
                    "rekey_time": 25000,
                    "child_sas": [
                        dict(c, parent_id=len(out), id=i) for i, c in enumerate(children)
                    ],
                }
            )
        return out

    def _interface_status(self, *_: Any) -> list:
        running = self.state["running"].get("interfaces") or {}
        vti_up = {
            f"ipsec{e.reqid}"
            for k, e in self._ends().items()
            if (v := self._views().get(k)) and v.child_up
        }
        out = []
        for iface_id, obj in running.items():
            port = obj.get("if", "")
            up = obj.get("enable") and (not port.startswith("ipsec") or port in vti_up)
            out.append(
                {
                    "name": iface_id,
                    "descr": obj.get("descr", ""),
                    "hwif": port,
                    "enable": bool(obj.get("enable")),
                    "status": "up" if up else "down",
                    "ipaddr": obj.get("ipaddr", "") or "",
                }
            )
        return out

    def _gateway_status(self, *_: Any) -> list:
        return []

    def _vtysh(self, query: str) -> tuple[str, int]:
        if not self._frr_running():
            return "Exiting: failed to connect to any daemons.", 1
        frr = self.state["running"].get("frr") or {}
        bgp = frr.get("frrbgp") or {}
        local_as = int(bgp["asnum"]) if str(bgp.get("asnum", "")).isdigit() else 0
        router_id = bgp.get("routerid") or ""
        views, ends = self._views(), self._ends()
        peers: dict[str, dict] = {}
        for key, end in ends.items():
            if not end.neighbor:
                continue
            view = views.get(key)
            state = (view.bgp_pfsense_state if view else "Active") or "Idle"
            policy = bool(view and view.bgp_policy_blocked)
            established = state == "Established"
            peers[end.neighbor] = {
                "remoteAs": end.neighbor_asn or 0,
                "localAs": local_as,
                "version": 4,
                "msgRcvd": 10 if established else 0,
                "msgSent": 10 if established else 0,
                "peerUptime": "00:01:00" if established else "never",
                "peerUptimeMsec": 60000 if established else 0,
                "pfxRcd": len(view.pfsense_learned) if view and established and not policy else 0,
                "pfxSnt": len(view.azure_learned) if view and established and not policy else 0,
                "state": state,
                "peerState": "Policy" if policy else "OK",
                "desc": "",
                "idType": "ipv4",
                "_learned": list(view.pfsense_learned)
                if view and established and not policy
                else [],
                "_sent": list(view.azure_learned) if view and established and not policy else [],
            }
        match = re.match(
            r"^show bgp ipv4 unicast neighbors ([0-9.]+) (json|routes json|advertised-routes json)$",
            query,
        )
        if query == cmds.VTYSH_QUERIES["summary"]:
            clean = {
                ip: {k: v for k, v in p.items() if not k.startswith("_")} for ip, p in peers.items()
            }
            data = {
                "routerId": router_id,
                "as": local_as,
                "vrfId": 0,
                "vrfName": "default",
                "peers": clean,
                "totalPeers": len(clean),
                "failedPeers": sum(1 for p in clean.values() if p["state"] != "Established"),
            }
            return json.dumps(data, indent=2), 0
        if match:
            ip, what = match.groups()
            peer = peers.get(ip)
            if what == "json":
                if peer is None:
                    return json.dumps({}), 0
                return json.dumps(
                    {
                        ip: {
                            "remoteAs": peer["remoteAs"],
                            "localAs": local_as,
                            "bgpState": peer["state"],
                            "bgpTimerUpMsec": peer["peerUptimeMsec"],
                            "addressFamilyInfo": {
                                "ipv4Unicast": {
                                    "acceptedPrefixCounter": peer["pfxRcd"],
                                    "sentPrefixCounter": peer["pfxSnt"],
                                    **(
                                        {
                                            "inboundEbgpRequiresPolicy": True,
                                            "outboundEbgpRequiresPolicy": True,
                                        }
                                        if peer["peerState"] == "Policy"
                                        else {}
                                    ),
                                }
                            },
                        }
                    }
                ), 0
            if what == "routes json":
                routes = {
                    prefix: [
                        {
                            "valid": True,
                            "bestpath": True,
                            "network": prefix,
                            "path": str(peer["remoteAs"]),
                            "origin": "IGP",
                            "nexthops": [{"ip": ip, "afi": "ipv4", "used": True}],
                        }
                    ]
                    for prefix in (peer or {}).get("_learned", [])
                }
                return json.dumps({"routerId": router_id, "localAS": local_as, "routes": routes}), 0
            advertised = {
                prefix: {
                    "network": prefix,
                    "nextHop": "0.0.0.0",
                    "path": "",
                    "origin": "IGP",
                    "valid": True,
                }
                for prefix in (peer or {}).get("_sent", [])
            }
            return json.dumps(
                {
                    "bgpLocalRouterId": router_id,
                    "localAS": local_as,
                    "advertisedRoutes": advertised,
                    "totalPrefixCounter": len(advertised),
                }
            ), 0
        return f"% Unknown command: {query}", 1


_INTEG = {
    "hmac_sha1": "HMAC_SHA1_96",
    "hmac_sha256": "HMAC_SHA2_256_128",
    "hmac_sha384": "HMAC_SHA2_384_192",
    "hmac_sha512": "HMAC_SHA2_512_256",
}
_SHA = {"sha1": "SHA1", "sha256": "SHA2_256", "sha384": "SHA2_384", "sha512": "SHA2_512"}
_DH = {2: "MODP_1024", 14: "MODP_2048", 19: "ECP_256", 20: "ECP_384", 24: "MODP_2048_256"}


def _lowest_free(used: set) -> int:
    n = 1
    while n in used:
        n += 1
    return n


def _compact(obj: dict) -> dict:
    """Drop fields whose conditions removed them (None), as pfSense does not write them."""
    return {k: v for k, v in obj.items() if v is not None or k == "protocol"}


def _rule_admits(rule: dict, source_ip: str) -> bool:
    if (
        rule.get("type") != "pass"
        or rule.get("disabled")
        or "enc0" not in (rule.get("interface") or [])
    ):
        return False
    source = str(rule.get("source") or "")
    if source == "any":
        return True
    try:
        return ipaddress.ip_address(source_ip) in ipaddress.ip_network(source, strict=False)
    except ValueError:
        return False


def _make_handler(sandbox: PfSenseSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            return

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = {
                key: _infer(values[-1] if not key.endswith("[]") else values)
                for key, values in parse_qs(parts.query, keep_blank_values=True).items()
            }
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body: Any = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            code, payload, ctype = sandbox.handle(self.command, parts.path, query, body, headers)
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    return Handler


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


__all__ = ["Fault", "Faults", "PfSenseSandbox"]
