"""A stored secret only ever goes to the endpoint it was stored with: an operator who changes the
pfSense URL (or Azure's endpoint) and leaves the secret empty cannot lure it to another server,
through Test connection, a save and re-push, or the admin. A listener on loopback stands in for
the attacker's server and must not even be connected to."""

from __future__ import annotations

import socket
import threading

import pytest
from django.urls import reverse

from tests.wizard.conftest import step_url
from wizard.models import AzureAuth, Run, RunKind, SiteStatus

pytestmark = pytest.mark.django_db


class Listener:
    """A TCP server on 127.0.0.1 that records every connection and the bytes it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                self.received.append(conn.recv(65536))
            except OSError:
                self.received.append(b"")
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def site_form_data(site, **changes) -> dict:
    data = {
        "name": site.name,
        "slug": site.slug,
        "azure_auth": site.azure_auth,
        "tenant_id": site.tenant_id,
        "client_id": site.client_id,
        "client_secret": "",
        "subscription_id": site.subscription_id,
        "resource_group": site.resource_group,
        "location": site.location,
        "arm_base_url": site.arm_base_url,
        "arm_ca_bundle": site.arm_ca_bundle,
        "pfsense_url": site.pfsense_url,
        "pfsense_api_key": "",
        "pfsense_tls": "fingerprint",
        "pfsense_fingerprint": site.pfsense_fingerprint,
        "pfsense_ca_bundle": "",
    }
    return {**data, **changes}


def test_test_pfsense_connection_never_sends_the_stored_key_to_a_new_url(alice, draft, listener):
    data = site_form_data(draft, pfsense_url=listener.url, action="test_pfsense")
    html = alice.post(step_url(draft, "site"), data).content.decode()
    assert "You changed the pfSense URL" in html and "only ever sent where it was stored" in html
    assert listener.received == []
    # the control: with a key typed for the new address the test does connect there
    data["pfsense_api_key"] = "a-key-typed-for-the-new-firewall"
    alice.post(step_url(draft, "site"), data)
    assert len(listener.received) >= 1
    assert b"pfsense-api-key-not-to-be-shown" not in b"".join(listener.received)


def test_a_changed_fingerprint_also_makes_the_key_required_again(alice, draft, listener):
    data = site_form_data(draft, pfsense_fingerprint="cd" * 32, action="save")
    html = alice.post(step_url(draft, "site"), data).content.decode()
    assert "You changed the pinned certificate fingerprint" in html
    draft.refresh_from_db()
    assert draft.pfsense_fingerprint == "ab" * 32


def test_test_azure_connection_never_sends_the_stored_client_secret_elsewhere(
    alice, draft, listener
):
    data = site_form_data(draft, arm_base_url=listener.url, action="test_azure")
    html = alice.post(step_url(draft, "site"), data).content.decode()
    assert "You changed the ARM endpoint" in html and "client secret" in html
    assert listener.received == []
    for field, value in (
        ("tenant_id", "99999999-2222-3333-4444-555555555555"),
        ("client_id", "99999999-7777-8888-9999-000000000000"),
        ("subscription_id", "99999999-0000-0000-0000-0000000000aa"),
    ):
        data = site_form_data(draft, **{field: value}, action="save")
        html = alice.post(step_url(draft, "site"), data).content.decode()
        assert "enter the client secret for the new endpoint again" in html, field


def test_saving_a_relaying_url_drops_the_psk_so_a_re_push_has_nothing_to_send(
    alice, draft, listener
):
    draft.status = SiteStatus.ACTIVE
    draft.save()
    data = site_form_data(
        draft, pfsense_url=listener.url, pfsense_api_key="attacker-key", action="save"
    )
    response = alice.post(step_url(draft, "site"), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.pfsense_url == listener.url and draft.psk == ""
    page = alice.get(response["Location"]).content.decode()
    assert "the stored pre-shared key was removed" in page
    repush = alice.post(reverse("monitor:repush", args=[draft.slug]), follow=True)
    assert "has no pre-shared key stored" in repush.content.decode()
    assert not Run.objects.filter(kind=RunKind.PUSH).exists()
    assert listener.received == []


def test_the_admin_asks_for_each_secret_again_when_its_endpoint_changes(alice, draft):
    from django.forms.models import model_to_dict

    url = reverse("admin:wizard_site_change", args=[draft.pk])
    data = {k: v for k, v in model_to_dict(draft).items() if v is not None}
    data.update(
        intent="{}",
        pfsense_ids="{}",
        client_secret="",
        pfsense_api_key="",
        psk="",
        apprise_urls="",
        pfsense_url="https://203.0.113.50",
        arm_base_url="https://arm.example.net",
    )
    html = alice.post(url, data).content.decode()
    for label in ("API key", "client secret", "pre-shared key"):
        assert f"enter the {label} for the new endpoint again" in html, label
    draft.refresh_from_db()
    assert draft.pfsense_url == "https://127.0.0.1:9" and draft.psk


def test_a_ca_bundle_posted_with_crlf_line_ends_is_the_same_endpoint(alice, draft):
    import trustme

    pem = trustme.CA().cert_pem.bytes().decode()
    draft.pfsense_ca_bundle, draft.pfsense_fingerprint = pem, ""
    draft.save()
    data = site_form_data(
        draft, pfsense_tls="ca", pfsense_ca_bundle=pem.replace("\n", "\r\n"), action="save"
    )
    assert alice.post(step_url(draft, "site"), data).status_code == 302
    draft.refresh_from_db()
    assert draft.pfsense_api_key == "pfsense-api-key-not-to-be-shown" and draft.psk


def test_use_the_sandbox_on_an_existing_site_drops_the_psk(alice, draft, sandboxes):
    alice.post(step_url(draft, "site"), {"action": "sandbox"})
    draft.refresh_from_db()
    assert draft.azure_auth == AzureAuth.SANDBOX and draft.psk == ""


def test_the_site_step_shows_the_least_privilege_role_for_the_site_s_group(alice, draft):
    from s2svpn import azure_role

    html = alice.get(step_url(draft, "site")).content.decode()
    assert "How to get these credentials with least privilege" in html
    for action in azure_role.REQUIRED_ACTIONS:
        assert f"<code>{action}</code>" in html
    assert "az role definition create" in html and "az ad sp create-for-rbac" in html
    assert f"/subscriptions/{draft.subscription_id}/resourceGroups/{draft.resource_group}" in html
