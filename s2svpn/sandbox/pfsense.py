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
The parts: ``pfsense_state`` (state, faults, errors), ``pfsense_config`` (interfaces, IPsec,
rules, apply), ``pfsense_commands`` (the command prompt, FRR) and ``pfsense_status`` (the world,
SAs, vtysh), served through the listener shared with the ARM sandbox
(:mod:`s2svpn.sandbox.https`). Test infrastructure only (stdlib + the sandbox TLS helper).
"""

from __future__ import annotations

import copy
import hashlib
import json
import ssl
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from s2svpn import pfsense_versions as versions
from s2svpn.sandbox.contract import Context, Contract, ContractError, default_contract
from s2svpn.sandbox.https import Listener, Reply
from s2svpn.sandbox.pfsense_commands import CommandPrompt
from s2svpn.sandbox.pfsense_config import ConfigModels
from s2svpn.sandbox.pfsense_nat import OutboundNat
from s2svpn.sandbox.pfsense_php import PhpRunner
from s2svpn.sandbox.pfsense_state import (
    AVAILABLE_PACKAGES,
    NGINX_404,
    STATUS_WORDS,
    ApiError,
    Fault,
    Faults,
    _infer,
    _initial_state,
)
from s2svpn.sandbox.pfsense_status import Status
from s2svpn.sandbox.tls import make_ca
from s2svpn.sandbox.world import World


class PfSenseSandbox(ConfigModels, OutboundNat, CommandPrompt, Status):
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
        pfsense_version: str = "2.8.1-RELEASE",
        restapi_version: str = "v2.10.0",
        install_seconds: float = 0.0,
        apply_seconds: float = 0.0,
        php: str | bool | None = None,
    ) -> None:
        """``install_seconds``/``apply_seconds``: how long a package install / an apply holds
        its request (a real FRR install takes minutes). ``php``: the PHP binary that runs the
        command-prompt snippets (None: ``php`` on PATH if any, False: always emulate)."""
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.world = world
        self.host, self.port, self.api_key, self.tls = host, port, api_key, tls
        self.firewall_id = firewall_id
        self.contract = contract or default_contract()
        self.faults = Faults()
        self.pfsense_version, self.restapi_version = pfsense_version, restapi_version
        self.install_seconds, self.apply_seconds = install_seconds, apply_seconds
        self._deferred: list = []
        self._idle = threading.Condition()
        self._busy = 0
        self.php = PhpRunner(
            Path(state_dir) / "php-root", php=None if php in (None, True) else (php or "")
        )
        self.commands: list[str] = []
        # every authenticated request: {method, path, query, body[, current]} (current = the
        # stored object a PATCH edited, so a checker can validate the PATCH like the server)
        self.requests: list[dict] = []
        self._current_request: dict = {}
        self.lock = threading.RLock()
        self.ca_file: str | None = None
        self.fingerprint: str | None = None
        self._listener: Listener | None = None
        self._world_keys: set[str] = set()
        self.state_file = self.state_dir / "pfsense.json"
        if self.state_file.exists():
            self.state = json.loads(self.state_file.read_text())
        else:
            self.state = _initial_state(wan_ip, lan_ip, frr_installed)
            self._save()

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> PfSenseSandbox:
        cert = key = None
        if self.tls:
            ca, cert, key = make_ca(self.state_dir)
            self.ca_file = str(ca)
            der = ssl.PEM_cert_to_DER_cert(
                Path(cert).read_text().split("-----END CERTIFICATE-----")[0]
                + "-----END CERTIFICATE-----\n"
            )
            self.fingerprint = hashlib.sha256(der).hexdigest()
        self._listener = Listener(
            self.respond,
            name="pfsense-sandbox",
            host=self.host,
            port=self.port,
            cert_file=cert,
            key_file=key,
        )
        self.port = self._listener.start()
        with self.lock:
            self._sync_world()
        return self

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
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

    # ---- request handling --------------------------------------------------------------------
    def respond(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        """One HTTP exchange: query with the package's type inference, JSON body, :meth:`handle`."""
        parts = urlsplit(target)
        query = {
            key: _infer(values[-1] if not key.endswith("[]") else values)
            for key, values in parse_qs(parts.query, keep_blank_values=True).items()
        }
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        code, payload, ctype = self.handle(method, parts.path, query, body, headers)
        return Reply(code, payload, {"Content-Type": ctype})

    def handle(self, method: str, path: str, query: dict, body: Any, headers: dict) -> tuple:
        """Return ``(http_code, payload_bytes, content_type)``; slow work (an install, an
        apply) holds the answer without holding the lock, so reads go on meanwhile."""
        with self.lock:
            self._deferred = []
            reply = self._handle(method, path, query, body, headers)
            work, self._deferred = self._deferred, []
            if work:
                with self._idle:
                    self._busy += len(work)
        if work:
            self._run_deferred(work)
        return reply

    def _handle(self, method: str, path: str, query: dict, body: Any, headers: dict) -> tuple:
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
        since = versions.REQUIRED_ENDPOINTS.get(path)
        if since and (versions.parse_version(self.restapi_version) or since) < since:
            # that release has no /usr/local/www/api/v2/<path>/index.php: nginx answers
            return 404, NGINX_404, "text/html"
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
            "/api/v2/firewall/nat/outbound/mode": self._nat_mode,
            "/api/v2/firewall/nat/outbound/mappings": self._nat_mappings,
            "/api/v2/firewall/nat/outbound/mapping": self._nat_mapping,
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
        base = self.pfsense_version.split("-")[0]
        return {"version": self.pfsense_version, "base": base, "patch": "0", "buildtime": ""}

    def _restapi_version(self, *_: Any) -> dict:
        return {
            "current_version": self.restapi_version,
            "latest_version": "v2.10.0",
            "update_available": self.restapi_version != "v2.10.0",
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
        name = obj["name"]
        if name in self.state.setdefault("installing", []):
            # pkg holds its lock while the first install runs
            raise ApiError(
                500,
                "ENDPOINT_RECEIVED_UNEXPECTED_ERROR",
                "pkg: another instance of pkg is already running; try again later.",
            )

        def installed() -> None:
            if name in self.state.get("installing", []):
                self.state["installing"].remove(name)
            if name not in self.state["packages"]:
                self.state["packages"].append(name)

        # RESTAPI Models/Package.inc _create(): pkg_install() runs inline in the request
        if self.install_seconds > 0 and name not in self.state["packages"]:
            self.state["installing"].append(name)
            self._later(self.install_seconds, installed)
        else:
            installed()
        return {"name": name, "installed_version": AVAILABLE_PACKAGES[name]}

    def _revisions(self, *_: Any) -> list:
        return [dict(rev, id=index) for index, rev in enumerate(self.state["revisions"])]


__all__ = ["Fault", "Faults", "PfSenseSandbox"]
