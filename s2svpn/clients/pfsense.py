"""PfSenseClient: the pfSense end over pfSense-pkg-RESTAPI v2, FRR through the command endpoint.

Vendor references: https://pfrest.org/api-docs/ (REST API v2, envelope, ``X-API-Key``,
``represent_interfaces_as``, apply endpoints), pfSense-pkg-frr's ``installedpackages`` sections and
``frr_generate_config()`` (no REST model exists, pfrest/pfSense-pkg-RESTAPI#127), FRR's vtysh JSON
(https://docs.frrouting.org/en/latest/bgp.html). Project notes: ``shared/reference/pfsense.md``.

Rules this client keeps:

* TLS is verified against a CA file, or against a pinned SHA-256 fingerprint of the firewall's
  certificate (checked during the TLS handshake, before the API key is sent). Plain ``http://`` is
  accepted only for loopback sandbox URLs.
* Objects are found again by stable keys (``descr``, ``ikeid``, ``reqid``, ``if``, ``tracker``)
  right before every PATCH/DELETE; array ids are never remembered between calls.
* Errors become :class:`ClientError` with the package's ``response_id`` as ``code``.
  401/403/400/404/422/424 are permanent; 5xx, 429, timeouts and dropped connections are transient.
  Only requests that cannot have changed anything (GETs, refused connections, 429/503) are retried
  here; a failed write is reported and the idempotent push step re-reads before trying again.
* FRR data travels only as base64 JSON; command texts are fixed (``s2svpn.pfsense_plan``).
* Secrets (API key, PSK) never appear in messages or logs.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import secrets
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from s2svpn import frr as frr_parse
from s2svpn import pfsense_plan as plan
from s2svpn.clients.errors import ClientError
from s2svpn.intent import SiteIntent
from s2svpn.status import BgpPeer, BgpState, ChildSa, EndStatus, IkeSa, Route, TunnelState

log = logging.getLogger(__name__)

REST_MISSING = (
    "The pfSense REST API package is not installed (a pfSense upgrade removes it): the firewall "
    "answered 404 for /api/v2/. Reinstall pfSense-pkg-RESTAPI for this pfSense version "
    "(pkg-static add …/pfSense-<version>-pkg-RESTAPI.pkg), re-enable KeyAuth, then retry."
)
PERMANENT_STATUS = {400, 401, 403, 404, 405, 406, 409, 415, 422, 424}
FRR_PACKAGE = "pfSense-pkg-frr"


class PinMismatch(Exception):
    """The firewall presented a certificate whose SHA-256 is not the pinned one."""


def _normalise_fingerprint(value: str) -> str:
    cleaned = value.replace(":", "").replace(" ", "").lower()
    if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
        raise ValueError(
            "The certificate fingerprint must be a SHA-256 digest: 64 hex digits, optionally "
            "separated by colons. Fetch it again with 'fetch fingerprint'."
        )
    return cleaned


class _PinnedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, pin: str) -> None:
        self._inner, self._pin = inner, pin

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # type: ignore[override]
        stream = self._inner.start_tls(ssl_context, server_hostname, timeout)
        ssl_object = stream.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(True) if ssl_object else None
        if not der or hashlib.sha256(der).hexdigest() != self._pin:
            stream.close()
            raise PinMismatch(
                "The firewall's certificate does not match the pinned SHA-256 fingerprint. If the "
                "certificate was replaced on purpose, fetch and confirm the new fingerprint; "
                "otherwise something is intercepting the connection."
            )
        return _PinnedStream(stream, self._pin)


class _PinningBackend(httpcore.SyncBackend):
    def __init__(self, pin: str) -> None:
        self._pin = pin

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[override]
        stream = super().connect_tcp(host, port, timeout, local_address, socket_options)
        return _PinnedStream(stream, self._pin)


class _PinnedTransport(httpx.HTTPTransport):
    """httpx transport that accepts exactly one certificate (by SHA-256), checked at handshake."""

    def __init__(self, pin: str) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # replaced by the pin check in _PinnedStream
        super().__init__(verify=context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context, network_backend=_PinningBackend(pin)
        )


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def fetch_fingerprint(base_url: str, *, timeout: float = 10.0) -> str:
    """SHA-256 (hex) of the certificate the firewall presents, for "fetch, show, confirm"."""
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ClientError(
            "Only an https:// firewall URL has a certificate to pin; use https://<firewall>.",
            permanent=True,
            code="NOT_HTTPS",
        )
    try:
        pem = ssl.get_server_certificate((parts.hostname, parts.port or 443), timeout=timeout)
    except OSError as error:
        raise ClientError(
            f"Could not reach {parts.hostname}:{parts.port or 443} to read its certificate "
            f"({error.__class__.__name__}). Check the URL and that the firewall is reachable.",
            permanent=False,
            code="CONNECT",
        ) from None
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


@dataclass
class Preflight:
    """What the firewall offers before anything is written (``problems`` block the push)."""

    pfsense_version: str = ""
    restapi_version: str = ""
    represent_interfaces_as: str = "id"
    frr_installed: bool = False
    wan_interface: str = ""
    bgp_source_interface: str = ""
    apipa_allowed: bool | None = None
    existing_phase1: dict | None = None  # s2svpn's own phase 1 (same descr)
    conflicting_phase1: dict | None = None  # someone else's phase 1 to the same remote gateway
    interfaces: dict = field(default_factory=dict)  # id -> {descr, if, ipaddr}
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "pfsense_version": self.pfsense_version,
            "restapi_version": self.restapi_version,
            "represent_interfaces_as": self.represent_interfaces_as,
            "frr_installed": self.frr_installed,
            "wan_interface": self.wan_interface,
            "bgp_source_interface": self.bgp_source_interface,
            "apipa_allowed": self.apipa_allowed,
            "existing_phase1": bool(self.existing_phase1),
            "conflicting_phase1": (self.conflicting_phase1 or {}).get("descr"),
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }


class PfSenseClient:
    """Typed operations on one firewall. Cheap to construct; close() when done."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        ca_file: str | None = None,
        fingerprint: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"The firewall URL {base_url!r} is not valid; use https://<firewall address>."
            )
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError(
                "Plain http:// would send the API key unencrypted; use https:// with the "
                "firewall's CA file or its certificate fingerprint (http is only for the local "
                "sandbox)."
            )
        self.base_url = base_url.rstrip("/")
        self.retries = max(0, int(retries))
        self._iface_repr: dict[str, str] | None = None
        headers = {"X-API-Key": api_key, "Accept": "application/json"}
        if parts.scheme == "https" and fingerprint:
            transport: httpx.BaseTransport = _PinnedTransport(_normalise_fingerprint(fingerprint))
            self._http = httpx.Client(
                base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
            )
        else:
            verify: Any = True
            if parts.scheme == "https" and ca_file:
                verify = ssl.create_default_context(cafile=ca_file)
            self._http = httpx.Client(
                base_url=self.base_url, headers=headers, timeout=timeout, verify=verify
            )

    fetch_fingerprint = staticmethod(fetch_fingerprint)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PfSenseClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- transport -----------------------------------------------------------------------------
    def request(
        self, method: str, path: str, *, params: dict | None = None, json_body: Any = None
    ) -> Any:
        """One API call; returns the envelope's ``data`` or raises :class:`ClientError`."""
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                return self._once(method, path, params, json_body)
            except ClientError as error:
                retry_safe = (
                    method == "GET"
                    or error.code in ("CONNECT", "TOO_MANY_REQUESTS")
                    or (error.status in (429, 503))
                )
                if error.permanent or not retry_safe or attempt == attempts - 1:
                    raise
                time.sleep(min(0.2 * (attempt + 1), 1.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, method: str, path: str, params: dict | None, json_body: Any) -> Any:
        what = f"{method} {path}"
        try:
            response = self._http.request(
                method,
                path,
                params=_query(params),
                json=json_body if json_body is not None else None,
            )
        except PinMismatch as error:
            raise ClientError(str(error), permanent=True, code="TLS_PIN_MISMATCH") from None
        except httpx.ConnectError as error:
            if "CERTIFICATE_VERIFY_FAILED" in str(error):
                raise ClientError(
                    "The firewall's certificate is not signed by the configured CA file; check "
                    "the CA file or pin the certificate's fingerprint instead.",
                    permanent=True,
                    code="TLS_VERIFY_FAILED",
                ) from None
            raise ClientError(
                f"Could not connect to the firewall for {what}; check the address, port and that "
                "the web GUI is reachable from s2svpn.",
                permanent=False,
                code="CONNECT",
            ) from None
        except httpx.TimeoutException:
            raise ClientError(
                f"The firewall did not answer {what} in time; it may be busy applying changes. "
                "Retry in a minute.",
                permanent=False,
                code="TIMEOUT",
            ) from None
        except httpx.TransportError as error:
            raise ClientError(
                f"The connection to the firewall broke during {what} ({error.__class__.__name__}); "
                "retry.",
                permanent=False,
                code="TRANSPORT",
            ) from None
        log.debug("pfSense %s -> HTTP %s", what, response.status_code)
        return self._unwrap(response, what)

    def _unwrap(self, response: httpx.Response, what: str) -> Any:
        status = response.status_code
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or "response_id" not in envelope:
            if status == 404 and response.request.url.path.startswith("/api/v2/"):
                raise ClientError(REST_MISSING, permanent=True, code="REST_API_MISSING", status=404)
            raise ClientError(
                f"The firewall answered {what} with HTTP {status} and no REST API envelope; is "
                "this the pfSense web GUI address with pfSense-pkg-RESTAPI v2 installed?",
                permanent=status < 500 and status != 429,
                code=f"HTTP_{status}",
                status=status,
            )
        if status == 200 and envelope.get("response_id") == "SUCCESS":
            return envelope.get("data")
        rid = str(envelope.get("response_id") or f"HTTP_{status}")
        message = str(envelope.get("message") or "").strip()
        hint = _HINTS.get(rid, "")
        text = f"pfSense refused {what}: {message or rid} ({rid}).{(' ' + hint) if hint else ''}"
        permanent = status in PERMANENT_STATUS or (400 <= status < 500 and status != 429)
        raise ClientError(text, permanent=permanent, code=rid, status=status)

    def command(self, command: str) -> tuple[str, int]:
        """Run one fixed command through ``POST /api/v2/diagnostics/command_prompt``."""
        data = self.request(
            "POST", "/api/v2/diagnostics/command_prompt", json_body={"command": command}
        )
        return str((data or {}).get("output") or ""), int((data or {}).get("result_code") or 0)

    # ---- reads ---------------------------------------------------------------------------------
    def settings(self) -> dict:
        return self.request("GET", "/api/v2/system/restapi/settings") or {}

    def interfaces(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/interfaces") or [])

    def packages(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/system/packages") or [])

    def phase1s(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/vpn/ipsec/phase1s") or [])

    def phase2s(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/vpn/ipsec/phase2s") or [])

    def rules(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/firewall/rules") or [])

    def latest_revision(self) -> dict | None:
        revisions = self.request("GET", "/api/v2/diagnostics/config_history/revisions") or []
        if not revisions:
            return None
        newest = max(revisions, key=lambda rev: rev.get("time") or 0)
        return {"time": newest.get("time"), "description": newest.get("description", "")}

    def _representation(self) -> dict[str, str]:
        if self._iface_repr is None:
            mode = self.settings().get("represent_interfaces_as", "descr")
            mapping = {}
            for iface in self.interfaces():
                iface_id = str(iface.get("id"))
                mapping[iface_id] = {
                    "id": iface_id,
                    "descr": iface.get("descr") or iface_id.upper(),
                    "if": iface.get("if") or iface_id,
                }.get(mode, iface_id)
            self._iface_repr = mapping
        return self._iface_repr

    def represent(self, iface_id: str) -> str:
        """An interface id (``wan``) as this firewall's REST settings expect it."""
        if iface_id in ("enc0", "openvpn", "any"):
            return iface_id
        return self._representation().get(iface_id, iface_id)

    # ---- preflight -----------------------------------------------------------------------------
    def preflight(self, intent: SiteIntent, *, azure_public_ip: str | None = None) -> Preflight:
        """Versions, interface representation, FRR, WAN/LAN, duplicate phase 1 - nothing written."""
        result = Preflight()
        result.pfsense_version = str(
            (self.request("GET", "/api/v2/system/version") or {}).get("version") or ""
        )
        result.restapi_version = str(
            (self.request("GET", "/api/v2/system/restapi/version") or {}).get("current_version")
            or ""
        )
        settings = self.settings()
        result.represent_interfaces_as = str(settings.get("represent_interfaces_as") or "descr")
        self._iface_repr = None
        interfaces = self.interfaces()
        result.interfaces = {
            str(i.get("id")): {
                "descr": i.get("descr"),
                "if": i.get("if"),
                "ipaddr": i.get("ipaddr"),
            }
            for i in interfaces
        }
        if intent.wan_interface in result.interfaces:
            result.wan_interface = intent.wan_interface
        else:
            result.problems.append(
                f"The firewall has no interface '{intent.wan_interface}' for the tunnel; choose "
                f"one of {', '.join(sorted(result.interfaces)) or 'its interfaces'} as WAN."
            )
        holder = next(
            (i for i, o in result.interfaces.items() if o.get("ipaddr") == intent.onprem_bgp_ip),
            "",
        )
        result.bgp_source_interface = holder
        if intent.bgp_mode == "azure_default" and not holder:
            result.problems.append(
                f"No pfSense interface has the on-prem BGP address {intent.onprem_bgp_ip}. Set the "
                "site's on-prem BGP IP to the pfSense LAN address (Azure expects BGP from it)."
            )
        names = {str(p.get("name")) for p in self.packages()}
        result.frr_installed = FRR_PACKAGE in names
        if not result.frr_installed:
            result.warnings.append(
                "The FRR package is not installed; s2svpn installs pfSense-pkg-frr before writing "
                "BGP settings (System > Package Manager shows it afterwards)."
            )
        if intent.bgp_mode == "apipa":
            result.warnings.append(
                "APIPA BGP addresses (169.254.x.x): check that pfSense accepts them on the VTI "
                "(the REST API does not expose that setting, so s2svpn cannot verify it)."
            )
        for p1 in self.phase1s():
            if p1.get("descr") == intent.descr:
                result.existing_phase1 = p1
            elif azure_public_ip and p1.get("remote_gateway") == azure_public_ip:
                result.conflicting_phase1 = p1
        if result.conflicting_phase1 is not None:
            result.problems.append(
                f"Phase 1 '{result.conflicting_phase1.get('descr') or '(no description)'}' already "
                f"points at the Azure gateway {azure_public_ip}. Delete or disable it on the "
                "firewall (VPN > IPsec), or let s2svpn manage it by setting its description to "
                f"'{intent.descr}'."
            )
        return result

    def frr_installed(self) -> bool:
        return any(str(p.get("name")) == FRR_PACKAGE for p in self.packages())

    def install_frr(self) -> None:
        self.request("POST", "/api/v2/system/package", json_body={"name": FRR_PACKAGE})

    # ---- finding by stable keys ----------------------------------------------------------------
    def find_phase1(
        self, descr: str | None = None, remote_gateway: str | None = None
    ) -> dict | None:
        for p1 in self.phase1s():
            if descr is not None and p1.get("descr") == descr:
                return p1
            if descr is None and remote_gateway and p1.get("remote_gateway") == remote_gateway:
                return p1
        return None

    def find_phase2(self, descr: str, ikeid: int | None = None) -> dict | None:
        for p2 in self.phase2s():
            if p2.get("descr") == descr and (ikeid is None or p2.get("ikeid") == ikeid):
                return p2
        return None

    def find_interface(self, port: str) -> dict | None:
        return next((i for i in self.interfaces() if i.get("if") == port), None)

    def find_rule(self, descr: str) -> dict | None:
        return next((r for r in self.rules() if r.get("descr") == descr), None)

    # ---- ensure (create / update / unchanged) --------------------------------------------------
    def _for_api(self, body: dict) -> dict:
        out = dict(body)
        if isinstance(out.get("interface"), str):
            out["interface"] = self.represent(out["interface"])
        elif isinstance(out.get("interface"), list):
            out["interface"] = [self.represent(i) for i in out["interface"]]
        return out

    def diff_phase1(self, body: dict, found: dict) -> dict:
        return plan.diff_fields(self._for_api(body), found, ignore=("pre_shared_key",))

    def ensure_phase1(self, body: dict, *, update_psk: bool = False) -> tuple[dict, str]:
        """Create or update s2svpn's phase 1 (found by ``descr``); returns (object, action)."""
        found = self.find_phase1(descr=body["descr"])
        if found is None:
            return self.request(
                "POST", "/api/v2/vpn/ipsec/phase1", json_body=self._for_api(body)
            ), "create"
        changes = self.diff_phase1(body, found)
        if not changes and not update_psk:
            return found, "unchanged"
        patch = {key: self._for_api(body)[key] for key in changes}
        if update_psk:
            patch["pre_shared_key"] = body["pre_shared_key"]
        return self.patch_phase1(body["descr"], patch), "update"

    def _patch_found(self, found: dict | None, what: str, path: str, fields: dict) -> dict:
        """PATCH an object just found again by its stable key (array ids shift on delete)."""
        if found is None:
            raise ClientError(
                f"{what} disappeared from the firewall; run the push again.",
                permanent=False,
                code="GONE",
            )
        return self.request("PATCH", path, json_body={"id": found["id"], **fields})

    def patch_phase1(self, descr: str, fields: dict) -> dict:
        found = self.find_phase1(descr=descr)
        return self._patch_found(found, f"Phase 1 '{descr}'", "/api/v2/vpn/ipsec/phase1", fields)

    def ensure_phase2(self, body: dict, ikeid: int) -> tuple[dict, str]:
        want = {**body, "ikeid": ikeid}
        found = self.find_phase2(body["descr"], ikeid)
        if found is None:
            return self.request("POST", "/api/v2/vpn/ipsec/phase2", json_body=want), "create"
        changes = plan.diff_fields(want, found)
        if not changes:
            return found, "unchanged"
        return self.patch_phase2(body["descr"], ikeid, {k: want[k] for k in changes}), "update"

    def patch_phase2(self, descr: str, ikeid: int, fields: dict) -> dict:
        found = self.find_phase2(descr, ikeid)
        return self._patch_found(found, f"Phase 2 '{descr}'", "/api/v2/vpn/ipsec/phase2", fields)

    def ensure_interface(self, body: dict, port: str) -> tuple[dict, str]:
        want = {**body, "if": port}
        found = self.find_interface(port)
        if found is None:
            return self.request("POST", "/api/v2/interface", json_body=want), "create"
        changes = plan.diff_fields(want, found)
        if not changes:
            return found, "unchanged"
        return self.patch_interface(port, {k: want[k] for k in changes}), "update"

    def patch_interface(self, port: str, fields: dict) -> dict:
        found = self.find_interface(port)
        return self._patch_found(found, f"Interface {port}", "/api/v2/interface", fields)

    def ensure_rule(self, body: dict) -> tuple[dict, str]:
        found = self.find_rule(body["descr"])
        want = self._for_api(body)
        if found is None:
            return self.request("POST", "/api/v2/firewall/rule", json_body=want), "create"
        changes = plan.diff_fields(want, found)
        if not changes:
            return found, "unchanged"
        return self.patch_rule(body["descr"], {k: want[k] for k in changes}), "update"

    def patch_rule(self, descr: str, fields: dict) -> dict:
        found = self.find_rule(descr)
        return self._patch_found(found, f"Firewall rule '{descr}'", "/api/v2/firewall/rule", fields)

    # ---- deletes (by stable key; each re-resolves the current array id) ----------------------
    def delete_rule(self, descr: str) -> bool:
        found = self.find_rule(descr)
        if found is None:
            return False
        self.request("DELETE", "/api/v2/firewall/rule", params={"id": found["id"]})
        return True

    def delete_interface(self, port: str) -> bool:
        found = self.find_interface(port)
        if found is None:
            return False
        self.request("DELETE", "/api/v2/interface", params={"id": found["id"]})
        return True

    def delete_phase2(self, descr: str, ikeid: int | None = None) -> bool:
        found = self.find_phase2(descr, ikeid)
        if found is None:
            return False
        self.request("DELETE", "/api/v2/vpn/ipsec/phase2", params={"id": found["id"]})
        return True

    def delete_phase1(self, descr: str) -> bool:
        found = self.find_phase1(descr=descr)
        if found is None:
            return False
        self.request("DELETE", "/api/v2/vpn/ipsec/phase1", params={"id": found["id"]})
        return True

    # ---- apply -----------------------------------------------------------------------------------
    def apply_ipsec(self) -> bool:
        return bool(
            (self.request("POST", "/api/v2/vpn/ipsec/apply", json_body={"async": False}) or {}).get(
                "applied", True
            )
        )

    def apply_interfaces(self) -> bool:
        return bool(
            (self.request("POST", "/api/v2/interface/apply", json_body={"async": False}) or {}).get(
                "applied", True
            )
        )

    def apply_firewall(self) -> bool:
        return bool(
            (self.request("POST", "/api/v2/firewall/apply", json_body={"async": False}) or {}).get(
                "applied", True
            )
        )

    # ---- FRR (command endpoint; data only as base64) -------------------------------------------
    def read_frr_sections(self) -> dict:
        output, code = self.command(plan.frr_read_command())
        try:
            data = json.loads(output) if code == 0 else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ClientError(
                "Could not read the FRR settings from the firewall (the PHP helper failed); check "
                "that pfSense-pkg-frr is installed.",
                permanent=False,
                code="FRR_READ_FAILED",
            )
        return {
            "frr": data.get("frr") or None,
            "frrbgp": data.get("frrbgp") or None,
            "frrbgpadvanced": data.get("frrbgpadvanced") or None,
            "frrbgpneighbors": [
                n for n in data.get("frrbgpneighbors") or [] if isinstance(n, dict)
            ],
        }

    def write_frr(self, sections: dict) -> None:
        """Write the FRR package sections (no apply); see :func:`frr_generate_config`."""
        nonce = secrets.token_hex(8)
        for command in plan.frr_write_commands(sections, nonce):
            _output, code = self.command(command)
            if code != 0:
                raise ClientError(
                    f"Writing the FRR settings failed on the firewall (exit {code}). Nothing was "
                    "applied; retry, and check the firewall's system log if it repeats.",
                    permanent=False,
                    code="FRR_WRITE_FAILED",
                )

    def frr_generate_config(self) -> None:
        _output, code = self.command(plan.frr_generate_command())
        if code != 0:
            raise ClientError(
                "pfSense could not generate the FRR configuration (frr_generate_config failed, "
                f"exit {code}); is pfSense-pkg-frr installed? Install it and retry.",
                permanent=code == 255,
                code="FRR_GENERATE_FAILED",
            )

    # ---- checkpoint ---------------------------------------------------------------------------
    def checkpoint(self) -> dict:
        """Newest config revision + a backup of the touched sections kept on the firewall.

        The backup (it contains PSKs) stays in ``/var/db/s2svpn`` on the firewall; s2svpn keeps
        only its id and SHA-256 so a restore can prove it restores exactly that backup.
        """
        nonce = secrets.token_hex(8)
        output, code = self.command(plan.checkpoint_command(nonce))
        try:
            info = json.loads(output) if code == 0 else {}
        except ValueError:
            info = {}
        if not info.get("sha256"):
            raise ClientError(
                "Could not save a checkpoint of the firewall configuration; nothing was changed. "
                "Retry; if it repeats, check free space in /var/db.",
                permanent=False,
                code="CHECKPOINT_FAILED",
            )
        return {
            "revision": self.latest_revision(),
            "backup_id": nonce,
            "sha256": info["sha256"],
            "bytes": info.get("bytes"),
        }

    def restore_checkpoint(self, checkpoint: dict) -> None:
        output, code = self.command(
            plan.restore_command(checkpoint["backup_id"], checkpoint["sha256"])
        )
        if code != 0:
            raise ClientError(
                f"Restoring the checkpoint failed ({output.strip()[:80] or f'exit {code}'}). The "
                "configuration before the push is in the firewall's config history "
                "(Diagnostics > Backup & Restore > Config History); restore it there.",
                permanent=code in (3, 4),
                code="RESTORE_FAILED",
            )
        self._iface_repr = None

    def discard_checkpoint(self, checkpoint: dict) -> None:
        self.command(plan.discard_checkpoint_command(checkpoint["backup_id"]))

    # ---- status --------------------------------------------------------------------------------
    def ipsec_sas(self) -> list[IkeSa]:
        data = self.request("GET", "/api/v2/status/ipsec/sas") or []
        return [_ike_sa(item) for item in data if isinstance(item, dict)]

    def interface_status(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/status/interfaces") or [])

    def _vtysh(self, kind: str, ip: str | None = None) -> Any:
        output, code = self.command(plan.vtysh_command(kind, ip))
        return frr_parse.load_output(output, code)

    def bgp_summary(self) -> list[BgpPeer]:
        return frr_parse.parse_summary(self._vtysh("summary"))

    def bgp_neighbor(self, ip: str) -> BgpPeer | None:
        peers = frr_parse.parse_neighbors(self._vtysh("neighbor", ip))
        return next((p for p in peers if p.neighbor == ip), None)

    def bgp_routes(self, ip: str) -> list[Route]:
        return frr_parse.parse_routes(self._vtysh("routes", ip))

    def bgp_advertised(self, ip: str) -> list[Route]:
        return frr_parse.parse_advertised_routes(self._vtysh("advertised", ip))

    def read_status(self, intent: SiteIntent) -> EndStatus:
        """One reading for the monitor. ``error`` set means unknown (never "down")."""
        status = EndStatus()
        try:
            p1 = self.find_phase1(descr=intent.descr)
            if p1 is None:
                status.error = (
                    f"s2svpn's phase 1 '{intent.descr}' is not on this firewall; push the site "
                    "(or check that nobody renamed it in VPN > IPsec)."
                )
                return status
            con_id = f"con{p1.get('ikeid')}"
            status.sas = [sa for sa in self.ipsec_sas() if sa.con_id == con_id]
            status.tunnel = _tunnel_state(status.sas, disabled=bool(p1.get("disabled")))
            children = [child for sa in status.sas for child in sa.children]
            if children:
                status.bytes_in = sum(c.bytes_in for c in children)
                status.bytes_out = sum(c.bytes_out for c in children)
            status.details["phase1"] = {
                "ikeid": p1.get("ikeid"),
                "remote_gateway": p1.get("remote_gateway"),
            }
            p2 = self.find_phase2(intent.descr, p1.get("ikeid"))
            neighbor = (p2 or {}).get("remoteid_address") or ""
            try:
                sections = self.read_frr_sections()
                mine = [
                    n
                    for n in sections["frrbgpneighbors"]
                    if n.get("descr") == plan.frr_description(intent.descr)
                ]
                if mine:
                    neighbor = mine[0].get("peer") or neighbor
            except ClientError:
                pass
            status.details["neighbor"] = neighbor
            try:
                peers = [p for p in self.bgp_summary() if not neighbor or p.neighbor == neighbor]
                status.bgp_peers = peers
                if neighbor and not peers:
                    status.bgp_peers = [
                        BgpPeer(neighbor=neighbor, asn=intent.azure_asn, state=BgpState.IDLE)
                    ]
                if neighbor and any(p.state == BgpState.ESTABLISHED for p in peers):
                    status.learned_routes = self.bgp_routes(neighbor)
                    status.advertised_routes = self.bgp_advertised(neighbor)
            except frr_parse.FrrNotRunning as error:
                status.bgp_peers = [
                    BgpPeer(
                        neighbor=neighbor or "", asn=intent.azure_asn, state=BgpState.NOT_RUNNING
                    )
                ]
                status.details["frr"] = str(error)
        except ClientError as error:
            status.error = error.message
            status.tunnel = TunnelState.UNKNOWN
        return status


def _query(params: dict | None) -> dict | None:
    if not params:
        return None
    return {k: (json.dumps(v) if isinstance(v, bool) else v) for k, v in params.items()}


def _tunnel_state(sas: list[IkeSa], *, disabled: bool) -> TunnelState:
    if disabled or not sas:
        return TunnelState.DOWN
    for sa in sas:
        if sa.state == "ESTABLISHED" and any(c.state == "INSTALLED" for c in sa.children):
            return TunnelState.UP
    return TunnelState.CONNECTING


def _ike_sa(item: dict) -> IkeSa:
    return IkeSa(
        con_id=str(item.get("con_id") or ""),
        state=str(item.get("state") or ""),
        remote_host=str(item.get("remote_host") or ""),
        local_host=str(item.get("local_host") or ""),
        nat_remote=bool(item.get("nat_remote")),
        nat_local=bool(item.get("nat_any")),
        encr_alg=str(item.get("encr_alg") or ""),
        encr_keysize=item.get("encr_keysize"),
        integ_alg=str(item.get("integ_alg") or ""),
        prf_alg=str(item.get("prf_alg") or ""),
        dh_group=str(item.get("dh_group") or ""),
        established_seconds=item.get("established"),
        children=tuple(
            ChildSa(
                name=str(child.get("name") or ""),
                state=str(child.get("state") or ""),
                reqid=child.get("reqid"),
                encr_alg=str(child.get("encr_alg") or ""),
                encr_keysize=child.get("encr_keysize"),
                integ_alg=str(child.get("integ_alg") or ""),
                dh_group=str(child.get("dh_group") or ""),
                bytes_in=int(child.get("bytes_in") or 0),
                bytes_out=int(child.get("bytes_out") or 0),
                local_ts=tuple(child.get("local_ts") or ()),
                remote_ts=tuple(child.get("remote_ts") or ()),
            )
            for child in item.get("child_sas") or []
            if isinstance(child, dict)
        ),
    )


_HINTS = {
    "AUTH_AUTHENTICATION_FAILED": "Check the API key, and that KeyAuth is enabled in System > "
    "REST API > Settings (only Basic auth is on after installation).",
    "AUTH_AUTHORIZATION_FAILED": "Give the API user the privileges s2svpn needs (or page-all).",
    "IPSEC_PHASE_1_ILLEGAL_DUPLICATE_REMOTE_GATEWAY": "Another phase 1 already uses this Azure "
    "gateway address; delete or disable it first.",
    "MODEL_WRITE_CONFIG_LOCKED": "Someone else is saving the configuration; retry shortly.",
    "NETWORK_INTERFACE_DESCR_IPSEC_MAX_LENGTH_EXCEEDED": "Use a VTI name of at most 22 characters.",
    "FIELD_INVALID_CHOICE": "",
}
