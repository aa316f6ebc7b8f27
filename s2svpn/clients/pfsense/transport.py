"""The pfSense REST API v2 transport: TLS (CA file or pinned certificate), the response envelope,
errors as :class:`ClientError`, retries of calls that cannot have changed anything, and the fixed
command endpoint.

Vendor reference: https://pfrest.org/api-docs/ (envelope, ``X-API-Key``, ``response_id``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from s2svpn.clients.errors import ClientError

log = logging.getLogger("s2svpn.clients.pfsense")

REST_MISSING = (
    "The pfSense REST API package is not installed (a pfSense upgrade removes it): the firewall "
    "answered 404 for /api/v2/. Reinstall pfSense-pkg-RESTAPI for this pfSense version "
    "(pkg-static add …/pfSense-<version>-pkg-RESTAPI.pkg), re-enable KeyAuth, then retry."
)
VERSION_PATH = "/api/v2/system/restapi/version"
PERMANENT_STATUS = {400, 401, 403, 404, 405, 406, 409, 415, 422, 424}
# The monitor reads each firewall once per poll interval (60 s by default): keep its TLS
# connection that long instead of httpx's 5 s, so a poll does not pay a new handshake. A
# connection the firewall closed meanwhile is seen by httpcore as readable-at-idle and replaced
# before it is used.
KEEPALIVE_SECONDS = 300.0
LIMITS = httpx.Limits(  # httpx's default pool sizes
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_SECONDS
)


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
            ssl_context=context,
            network_backend=_PinningBackend(pin),
            max_connections=LIMITS.max_connections,
            max_keepalive_connections=LIMITS.max_keepalive_connections,
            keepalive_expiry=LIMITS.keepalive_expiry,
        )


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


class PfSenseApi:
    """One firewall's REST API: requests, envelope and errors. Cheap to construct; close() when done."""

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
        if parts.scheme == "http":
            raise ValueError(
                "Plain http:// would send the API key unencrypted; use https:// with the "
                "firewall's CA file or its certificate fingerprint."
            )
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(
                f"The firewall URL {base_url!r} is not valid; use https://<firewall address>."
            )
        self.base_url = base_url.rstrip("/")
        self.retries = max(0, int(retries))
        headers = {"X-API-Key": api_key, "Accept": "application/json"}
        if fingerprint:
            transport: httpx.BaseTransport = _PinnedTransport(_normalise_fingerprint(fingerprint))
            self._http = httpx.Client(
                base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
            )
        else:
            verify: Any = True
            if ca_file:
                verify = ssl.create_default_context(cafile=ca_file)
            self._http = httpx.Client(
                base_url=self.base_url,
                headers=headers,
                timeout=timeout,
                verify=verify,
                limits=LIMITS,
            )

    fetch_fingerprint = staticmethod(fetch_fingerprint)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PfSenseApi:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- transport -----------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json_body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        """One API call; returns the envelope's ``data`` or raises :class:`ClientError`.

        ``timeout`` overrides the client's for calls that take long on a real firewall (package
        installs, applies that rebuild every VTI)."""
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                return self._once(method, path, params, json_body, timeout)
            except ClientError as error:
                if error.code == "REST_API_MISSING" and path != VERSION_PATH:
                    self._endpoint_or_package_missing(path)
                retry_safe = (
                    method == "GET"
                    or error.code in ("CONNECT", "TOO_MANY_REQUESTS")
                    or (error.status in (429, 503))
                )
                if error.permanent or not retry_safe or attempt == attempts - 1:
                    raise
                time.sleep(min(0.2 * (attempt + 1), 1.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def _endpoint_or_package_missing(self, path: str) -> None:
        """A 404 without the envelope comes from nginx: either the whole package is gone (a
        pfSense upgrade removes it) or this release has no such endpoint (each endpoint is its own
        ``/usr/local/www/api/v2/.../index.php``, RESTAPI ``Core/Endpoint.inc``). Ask the package
        for its version to tell which."""
        try:
            data = self._once("GET", VERSION_PATH, None, None, None) or {}
        except ClientError:
            return  # the package itself is missing: keep REST_MISSING
        version = str(data.get("current_version") or "unknown")
        raise ClientError(
            f"The firewall's REST API package ({version}) has no endpoint {path}: it arrived in a "
            "later release. Install the pfSense-pkg-RESTAPI release that fits this pfSense "
            "version (the preflight names it), then retry.",
            permanent=True,
            code="ENDPOINT_MISSING",
            status=404,
        )

    def _once(
        self,
        method: str,
        path: str,
        params: dict | None,
        json_body: Any,
        timeout: float | None = None,
    ) -> Any:
        what = f"{method} {path}"
        try:
            response = self._http.request(
                method,
                path,
                params=_query(params),
                json=json_body if json_body is not None else None,
                **({"timeout": timeout} if timeout else {}),
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


def _query(params: dict | None) -> dict | None:
    if not params:
        return None
    return {k: (json.dumps(v) if isinstance(v, bool) else v) for k, v in params.items()}


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
