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
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken
from azure.core.exceptions import DecodeError, HttpResponseError, ResourceNotFoundError
from azure.core.pipeline.transport import RequestsTransport
from azure.core.polling import LROPoller
from azure.mgmt.network import NetworkManagementClient

from s2svpn.clients.azure.errors import translate
from s2svpn.clients.azure.models import Kind, with_action
from s2svpn.clients.azure.parse import wire
from s2svpn.clients.errors import ClientError

T = TypeVar("T")

ARM_PUBLIC = "https://management.azure.com"


def _transport(
    base_url: str | None, verify: str | bool
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
    return RequestsTransport(use_env_settings=False, connection_verify=verify), proxies


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
        **sdk_kwargs: Any,
    ) -> None:
        kwargs: dict[str, Any] = {"polling_interval": polling_interval, **sdk_kwargs}
        if base_url:
            kwargs["base_url"] = base_url
        if "transport" not in kwargs:
            kwargs["transport"], proxies = _transport(base_url, connection_verify)
            if proxies:
                kwargs.setdefault("proxies", proxies)
        self.subscription_id = subscription_id
        self.timeout = timeout
        self.polling_interval = polling_interval
        self.lro_timeout = lro_timeout
        self._sdk = NetworkManagementClient(credential, subscription_id, **kwargs)
        self._call = {"connection_timeout": timeout, "read_timeout": timeout}
        # GETs take the body as bytes: we parse the JSON into our own dataclasses anyway, and the
        # SDK's model deserialization is the largest CPU cost of a status check.
        self._read = {**self._call, "stream": True}

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

    # ---- plumbing: every SDK call goes through _do (errors) or _maybe (a 404 is None)

    def _do(self, what: str, fn: Callable[[], T], secrets_: tuple[str, ...] = ()) -> T:
        try:
            return fn()
        except ClientError:
            raise
        except Exception as err:
            raise translate(err, what, secrets_) from None

    def _maybe(self, what: str, fn: Callable[[], Any]) -> dict[str, Any] | None:
        """GET that returns ``None`` for 404."""
        try:
            return wire(fn())
        except ResourceNotFoundError:
            return None
        except HttpResponseError as err:
            if err.status_code == 404:
                return None
            raise translate(err, what) from None
        except Exception as err:
            raise translate(err, what) from None

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
        ops = getattr(self._sdk, kind.ops)
        body = self._maybe(f"reading {what}", lambda: ops.get(*path, **self._read))
        return None if body is None else kind.parse(body)

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
