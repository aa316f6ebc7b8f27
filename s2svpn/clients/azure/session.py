"""The session under every Azure call: one ``NetworkManagementClient`` (azure-mgmt-network, its
pipeline, retries and credential), the ways to construct it, and the one mechanism every resource
call goes through — read (``None`` for 404), start a long-running operation and finish it or not,
parse Azure's answer into our dataclass, and delete.

Async operations: https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations
(wire details and SDK poller behaviour: ``shared/reference/azure.md``).
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.core.polling import LROPoller
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.network import NetworkManagementClient

from s2svpn.clients.azure.errors import translate
from s2svpn.clients.azure.models import API_VERSION, Kind, with_action
from s2svpn.clients.azure.parse import wire
from s2svpn.clients.errors import ClientError

T = TypeVar("T")

ARM_PUBLIC = "https://management.azure.com"
# The exception the SDK's operations raise for these statuses (azure.core.exceptions.map_error).
_ERRORS = {401: ClientAuthenticationError, 404: ResourceNotFoundError, 409: ResourceExistsError}


class _PooledTransport(RequestsTransport):
    """azure-core's requests transport keeping up to ``connections`` connections per host open
    (requests' default is 10: a client shared by more threads than that opened and dropped a
    connection, with its TLS handshake, for every request over ten at once)."""

    def __init__(self, *, connections: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._connections = connections

    def _init_session(self, session: Any) -> None:
        super()._init_session(session)
        for adapter in {id(a): a for a in session.adapters.values()}.values():
            adapter.init_poolmanager(10, max(10, self._connections))


def _transport(
    base_url: str | None, verify: str | bool, connections: int = 10
) -> tuple[RequestsTransport, dict[str, str]]:
    """The SDK's requests transport with the environment read once, here, and the proxies for ARM.

    With ``trust_env`` on (azure-core's default), requests scans the whole environment for
    proxies, ``NO_PROXY``, netrc and CA bundle variables on every request: about a millisecond
    of CPU each, the largest cost of a monitor read after TLS. The same variables are honoured,
    read when the client is made: ``HTTP(S)_PROXY`` / ``NO_PROXY`` for the ARM host, and
    ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` when no CA file is given.
    """
    host = urlsplit(base_url or ARM_PUBLIC).hostname or ""
    proxies = {k: v for k, v in urllib.request.getproxies().items() if k in ("http", "https")}
    if proxies and urllib.request.proxy_bypass(host):
        proxies = {}
    if verify is True:
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    transport = _PooledTransport(
        use_env_settings=False, connection_verify=verify, connections=connections
    )
    return transport, proxies


class _StaticToken:
    """A ``TokenCredential`` returning a fixed token (the sandbox accepts any bearer token)."""

    def __init__(self, token: str = "s2svpn-sandbox-token") -> None:  # noqa: S107 - not a secret
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, 4102444800)  # 2100-01-01

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self._token, 4102444800)


class ArmSession:
    """One subscription's ``NetworkManagementClient``. Thread-safe as the SDK client is."""

    def __init__(
        self,
        credential: Any,
        subscription_id: str,
        *,
        base_url: str | None = None,
        connection_verify: str | bool = True,
        polling_interval: float = 30,
        timeout: float = 30,
        lro_timeout: float = 900,
        connections: int = 10,
        **sdk_kwargs: Any,
    ) -> None:
        kwargs: dict[str, Any] = {"polling_interval": polling_interval, **sdk_kwargs}
        if base_url:
            kwargs["base_url"] = base_url
        if "transport" not in kwargs:
            kwargs["transport"], proxies = _transport(base_url, connection_verify, connections)
            if proxies:
                kwargs.setdefault("proxies", proxies)
        self.subscription_id = subscription_id
        self.timeout = timeout
        self.polling_interval = polling_interval
        self.lro_timeout = lro_timeout
        self._sdk = NetworkManagementClient(credential, subscription_id, **kwargs)
        self._call = {"connection_timeout": timeout, "read_timeout": timeout}

    # ---- constructors

    @classmethod
    def from_service_principal(
        cls, tenant_id: str, client_id: str, client_secret: str, subscription_id: str, **kw: Any
    ) -> Any:
        """Service principal login (https://learn.microsoft.com/entra/identity-platform/app-objects-and-service-principals)."""
        from azure.identity import ClientSecretCredential

        return cls(
            ClientSecretCredential(tenant_id, client_id, client_secret), subscription_id, **kw
        )

    @classmethod
    def from_default_credential(cls, subscription_id: str, **kw: Any) -> Any:
        """Environment, managed identity or ``az login`` (azure-identity ``DefaultAzureCredential``)."""
        from azure.identity import DefaultAzureCredential

        return cls(DefaultAzureCredential(), subscription_id, **kw)

    @classmethod
    def for_sandbox(cls, base_url: str, ca_file: str, subscription_id: str, **kw: Any) -> Any:
        """Client for the ARM sandbox: static token, HTTPS verified against the sandbox CA.

        Bearer-over-plain-HTTP refusal stays on (the sandbox serves HTTPS). Pollers default to a
        1 s interval and retries back off quickly because the sandbox is local.
        """
        kw.setdefault("polling_interval", 1)
        kw.setdefault("retry_backoff_factor", 0.05)
        kw.setdefault("retry_backoff_max", 1)
        return cls(
            _StaticToken(), subscription_id, base_url=base_url, connection_verify=str(ca_file), **kw
        )

    def close(self) -> None:
        self._sdk.close()

    # ---- plumbing: SDK calls go through _do (errors); reads through _send (the bare pipeline)

    def _do(self, what: str, fn: Callable[[], T], secrets_: tuple[str, ...] = ()) -> T:
        try:
            return fn()
        except ClientError:
            raise
        except Exception as err:
            raise translate(err, what, secrets_) from None

    def _url(self, kind: Kind[Any], path: tuple[str, ...], action: str = "") -> str:
        """The ARM URL of the resource at ``path`` (resource group, then the names), or of one of
        its POST actions / sub-resources (``getBgpPeerStatus``, ``sharedkey``)."""
        group, *names = (quote(part, safe="") for part in path)
        tail = "/".join(f"{seg}/{name}" for seg, name in zip(kind.segments, names, strict=True))
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{group}/providers/"
            f"Microsoft.Network/{tail}{'/' + action if action else ''}?api-version={API_VERSION}"
        )

    def _send(
        self,
        what: str,
        method: str,
        url: str,
        *,
        missing_ok: bool = False,
        body: Any = None,
        **params: str,
    ) -> HttpResponse:
        """One request through the SDK's pipeline (credential, retries, logging) without its
        operation layer: the body stays JSON for our parsers, and a status poll costs a third
        less CPU. Azure's refusals are raised as the SDK would raise them (404 is returned
        when ``missing_ok``). ``body``: JSON to send (a PUT the SDK has no operation for)."""
        request = HttpRequest(method, url, params=params or None, json=body)
        response = self._do(what, lambda: self._sdk.send_request(request, **self._call))
        status = response.status_code
        if status >= 400 and not (missing_ok and status == 404):
            error = _ERRORS.get(status, HttpResponseError)
            raise translate(error(response=response, error_format=ARMErrorFormat), what)
        return response

    def _finish(
        self, poller: LROPoller, what: str, wait: bool, timeout: float | None = None
    ) -> Any:
        if not wait:
            # Started with polling=False (no poller thread left asking Azure): the initial answer,
            # e.g. provisioningState Updating; a POST action's bodiless 202 gives nothing.
            try:
                return poller.result() if poller.done() else None
            except (ValueError, DecodeError):
                return None
        poller.wait(timeout if timeout is not None else self.lro_timeout)
        if not poller.done():
            raise ClientError(
                f"Azure did not finish {what} within {int(timeout or self.lro_timeout)} s; s2svpn will check again.",
                permanent=False,
                code="Timeout",
            )
        return poller.result()

    def _lro(
        self,
        what: str,
        begin: Callable[..., LROPoller],
        *args: Any,
        wait: bool,
        timeout: float | None = None,
        secrets_: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        """Start a long-running operation (an SDK ``begin_*``) and finish it, or with
        ``wait=False`` return Azure's first answer without a poller thread (``None`` if bodiless)."""
        poller = self._do(
            what, lambda: begin(*args, polling=wait, **kwargs, **self._call), secrets_
        )
        result = self._do(what, lambda: self._finish(poller, what, wait, timeout), secrets_)
        return None if result is None else wire(result)

    # ---- the resource mechanism: read, save (create or update), delete

    def _get(self, kind: Kind[T], what: str, path: tuple[str, ...]) -> T | None:
        """GET the resource at ``path`` (resource group first); ``None`` when it does not exist."""
        response = self._send(f"reading {what}", "GET", self._url(kind, path), missing_ok=True)
        return None if response.status_code == 404 else kind.parse(response.json())

    def _save(
        self,
        kind: Kind[T],
        what: str,
        path: tuple[str, ...],
        body: dict[str, Any],
        *,
        action: str,
        wait: bool,
        secrets_: tuple[str, ...] = (),
    ) -> T:
        """PUT ``body``; our dataclass of Azure's answer (read again when the answer had no body),
        marked with ``action``."""
        ops = getattr(self._sdk, kind.ops)
        answer = self._lro(
            f"saving {what}", ops.begin_create_or_update, *path, body, wait=wait, secrets_=secrets_
        )
        found = kind.parse(answer) if answer is not None else self._get(kind, what, path)
        return with_action(found, action)  # type: ignore[arg-type]

    def _delete(self, kind: Kind[Any], what: str, path: tuple[str, ...], wait: bool) -> str:
        """DELETE: ``"gone"`` (nothing there), ``"deleted"``, or ``"deleting"`` while Azure is
        still removing it (re-check until not deleting)."""
        found = self._get(kind, what, path)
        if found is None:
            return "gone"
        if found.provisioning_state == "Deleting" and not wait:
            return "deleting"
        self._lro(f"deleting {what}", getattr(self._sdk, kind.ops).begin_delete, *path, wait=wait)
        if wait:
            return "deleted"
        return "deleted" if self._get(kind, what, path) is None else "deleting"


def adopted(existing: Any) -> str:
    """The action for an existing resource that already matches: in progress while Azure updates it."""
    return "in_progress" if existing.provisioning_state == "Updating" else "unchanged"
