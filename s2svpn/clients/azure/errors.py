"""Azure SDK exceptions to :class:`ClientError`: Azure's code and message in plain words, whether a
retry can help, and what to do about it. Secrets are scrubbed from every message.

ARM error bodies: https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors
(``AuthorizationFailed``, ``LinkedAuthorizationFailed``, quota codes); throttling and ``Retry-After``:
https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling
"""

from __future__ import annotations

import re

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from s2svpn.clients.errors import ClientError

TRANSIENT_CODES = {
    "AnotherOperationInProgress",
    "RetryableError",
    "TooManyRequests",
    "InternalServerError",
    "ServerTimeout",
    "OperationNotAllowedAsOperationIsInProgress",
    "ReferencedResourceNotProvisioned",
}

HINTS = {
    401: "Check the service principal's tenant id, client id and secret (or re-run `az login`).",
    403: "Give the identity the s2svpn role on the resource group (see the site step).",
    429: "Azure is throttling requests; s2svpn will retry.",
}

# ARM's AuthorizationFailed message: "The client '<id>' with object id '<id>' does not have
# authorization to perform action '<action>' over scope '<scope>' or the scope is invalid. ..."
# LinkedAuthorizationFailed: "... however, it does not have permission to perform action(s)
# '<action>' on the linked scope(s) '<scope>' ..." (a PUT that references another resource).
_MISSING_ACTION = re.compile(
    r"perform action(?:\(s\))? '(?P<action>[^']+)' (?:over scope|on the linked scope\(s\)) "
    r"'(?P<scope>[^']+)'"
)


def _error_part(err: HttpResponseError, part: str) -> str:
    """``code`` or ``message`` of ARM's error body: the SDK's parsed error, else the raw JSON."""
    value = getattr(getattr(err, "error", None), part, None)
    if value:
        return str(value)
    try:
        return str(err.response.json()["error"][part])  # type: ignore[union-attr]
    except Exception:
        return ""


def _error_code(err: HttpResponseError) -> str:
    return _error_part(err, "code")


def _error_message(err: HttpResponseError) -> str:
    return _error_part(err, "message") or (err.message or str(err)).splitlines()[0]


def missing_permission(code: str, message: str, what: str) -> str | None:
    """The plain-words message for ARM's ``AuthorizationFailed`` (None for any other refusal)."""
    if code not in ("AuthorizationFailed", "LinkedAuthorizationFailed"):
        return None
    found = _MISSING_ACTION.search(message)
    if not found:
        return None
    return (
        f"Azure refused {what}: the service principal lacks permission '{found['action']}' on "
        f"{found['scope']}. Add it to the s2svpn role (see the site step)."
    )


def _is_permanent(status: int | None, code: str) -> bool:
    """Auth, validation, quota and conflicts are permanent; 429, 5xx and busy resources are not."""
    if status == 403:
        return True
    busy = status == 429 or (status is not None and status >= 500) or code in TRANSIENT_CODES
    return not busy


def _hint(status: int | None, code: str) -> str:
    if "Quota" in code or "LimitReached" in code or "LimitExceeded" in code:
        return "Request a quota increase or delete unused resources."
    hint = HINTS.get(status or 0, "")
    if code in TRANSIENT_CODES and not hint:
        return "s2svpn will retry when the other operation is done."
    return hint


def translate(err: Exception, what: str, secrets_: tuple[str, ...] = ()) -> ClientError:
    """Azure SDK exception -> :class:`ClientError` with Azure's code and message in plain words."""
    if isinstance(err, ClientError):
        return err
    if isinstance(err, ClientAuthenticationError):
        status = err.status_code or 401
        code = _error_code(err) or "AuthenticationFailed"
        msg = f"Azure refused to authenticate while {what}: {code}: {_error_message(err)} {HINTS[401]}"
        return ClientError(scrub(msg, secrets_), permanent=True, code=code, status=status)
    if isinstance(err, HttpResponseError):
        status, code, text = err.status_code, _error_code(err), _error_message(err)
        msg = missing_permission(code, text, what)
        if msg is None:
            hint = _hint(status, code)
            msg = f"Azure refused {what}: {code or status}: {text}{' ' + hint if hint else ''}"
        permanent = _is_permanent(status, code)
        return ClientError(scrub(msg, secrets_), permanent=permanent, code=code, status=status)
    if isinstance(err, ServiceRequestError) and "not permitted for non-TLS" in str(err):
        return ClientError(
            f"Refusing to send Azure credentials over plain HTTP while {what}: use an https:// base URL.",
            permanent=True,
            code="InsecureTransport",
        )
    if isinstance(err, ServiceRequestError | ServiceResponseError | TimeoutError | ConnectionError):
        return ClientError(
            scrub(f"Could not reach Azure while {what}: {err}. s2svpn will retry.", secrets_),
            permanent=False,
            code="ConnectionError",
        )
    return ClientError(
        scrub(f"Unexpected error while {what}: {type(err).__name__}: {err}", secrets_),
        permanent=False,
        code=type(err).__name__,
    )


def retry_after(value: str | None) -> float:
    """Seconds from a ``Retry-After`` header (a number; an HTTP date counts as none), capped."""
    try:
        return min(max(float(value or 0), 0.0), 60.0)
    except ValueError:
        return 0.0


def scrub(text: str, secrets_: tuple[str, ...]) -> str:
    for secret in secrets_:
        if secret:
            text = text.replace(secret, "***")
    return text
