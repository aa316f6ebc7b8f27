"""Azure's refusals in plain words: ARM's own error bodies, raised as azure-core raises them for the
SDK (``HttpResponseError`` with ``ARMErrorFormat`` over a received HTTP answer), through the
client's mapping to :class:`ClientError`."""

from __future__ import annotations

import io
import json

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.core.rest._requests_basic import RestRequestsTransportResponse
from azure.mgmt.core.exceptions import ARMErrorFormat

from s2svpn.clients.azure import translate

SCOPE = "/subscriptions/6a2c/resourceGroups/rg-home/providers/Microsoft.Network/connections/cn"
# ARM's AuthorizationFailed body, word for word (ids shortened).
AUTHORIZATION_FAILED = {
    "error": {
        "code": "AuthorizationFailed",
        "message": "The client 'a1b2c3' with object id 'a1b2c3' does not have authorization to "
        "perform action 'Microsoft.Network/connections/write' over scope "
        f"'{SCOPE}' or the scope is invalid. If access was recently granted, please refresh your "
        "credentials.",
    }
}
LINKED_AUTHORIZATION_FAILED = {
    "error": {
        "code": "LinkedAuthorizationFailed",
        "message": "The client has permission to perform action "
        "'Microsoft.Network/connections/write' on scope "
        f"'{SCOPE}', however the current tenant 't1' is not authorized to access linked "
        "subscription 's2'. The client 'a1b2c3' with object id 'a1b2c3' does not have "
        "permission to perform action(s) 'Microsoft.Network/localNetworkGateways/join/action' "
        "on the linked scope(s) '/subscriptions/6a2c/resourceGroups/rg-home/providers/"
        "Microsoft.Network/localNetworkGateways/lng' (respectively) or the linked scope(s) "
        "are invalid.",
    }
}


def arm_answer(status: int, body: dict) -> HttpResponseError:
    """The exception the SDK raises for this HTTP answer from ARM."""
    raw = requests.Response()
    raw.status_code = status
    raw.headers["Content-Type"] = "application/json; charset=utf-8"
    raw.raw = io.BytesIO(json.dumps(body).encode())
    response = RestRequestsTransportResponse(
        request=HttpRequest("PUT", f"https://management.azure.com{SCOPE}"), internal_response=raw
    )
    response.read()
    return HttpResponseError(response=response, error_format=ARMErrorFormat)


def test_a_missing_permission_is_permanent_and_names_the_action_and_scope_in_plain_words():
    err = translate(arm_answer(403, AUTHORIZATION_FAILED), "saving the connection")
    assert err.permanent is True and err.status == 403 and err.code == "AuthorizationFailed"
    assert err.message == (
        "Azure refused saving the connection: the service principal lacks permission "
        f"'Microsoft.Network/connections/write' on {SCOPE}. Add it to the s2svpn role (see the "
        "site step)."
    )
    assert "a1b2c3" not in err.message  # ARM's client and object ids say nothing to a user


def test_a_missing_permission_on_a_linked_resource_names_that_action():
    err = translate(arm_answer(403, LINKED_AUTHORIZATION_FAILED), "saving the connection")
    assert err.permanent is True
    assert (
        "lacks permission 'Microsoft.Network/localNetworkGateways/join/action' on " in err.message
    )
    assert err.message.endswith(
        "/localNetworkGateways/lng. Add it to the s2svpn role (see the site step)."
    )


def test_a_403_in_other_words_keeps_azures_message_and_still_points_at_the_role():
    body = {"error": {"code": "Forbidden", "message": "Operation is not allowed."}}
    err = translate(arm_answer(403, body), "reading the connection")
    assert err.permanent is True
    assert err.message.startswith("Azure refused reading the connection: Forbidden: Operation")
    assert "s2svpn role" in err.message


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (409, "AnotherOperationInProgress", False),
        (429, "TooManyRequests", False),
        (500, "InternalServerError", False),
        (400, "InvalidRequestFormat", True),
        (409, "InUseSubnetCannotBeDeleted", True),
    ],
)
def test_busy_and_throttled_answers_are_transient_and_invalid_ones_permanent(
    status, code, permanent
):
    err = translate(arm_answer(status, {"error": {"code": code, "message": "m"}}), "x")
    assert err.permanent is permanent and err.code == code and err.status == status


def test_a_quota_refusal_says_how_to_get_more():
    body = {"error": {"code": "PublicIPCountLimitReached", "message": "Cannot create more."}}
    err = translate(arm_answer(400, body), "saving public IP pip")
    assert err.permanent is True and "Request a quota increase" in err.message


def test_a_secret_in_azures_message_is_scrubbed():
    body = {"error": {"code": "InvalidSharedKey", "message": "Key 'Sup3r-Secret' is invalid."}}
    err = translate(arm_answer(400, body), "saving the connection", ("Sup3r-Secret",))
    assert "Sup3r-Secret" not in err.message and "***" in err.message
