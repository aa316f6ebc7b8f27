"""Secrets are encrypted at rest, write-only in the admin, masked in lists, never logged."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from wizard.models import Site

CLIENT_SECRET = "Client~Secret.Value-123456"
API_KEY = "pfsense-api-key-0123456789abcdef"
PSK = "PskValueThatMustNeverLeak0123456789AB"
APPRISE = "ntfy://secret-topic-token"


@pytest.fixture
def site(db):
    return Site.objects.create(
        name="Home",
        slug="home",
        tenant_id="00000000-0000-0000-0000-000000000001",
        client_id="00000000-0000-0000-0000-000000000002",
        client_secret=CLIENT_SECRET,
        subscription_id="00000000-0000-0000-0000-000000000003",
        resource_group="rg-home-s2s",
        location="westeurope",
        vnet_name="vnet-hub",
        pfsense_url="https://pfsense.home.arpa",
        pfsense_api_key=API_KEY,
        psk=PSK,
        apprise_urls=APPRISE,
        azure_ids={
            "gateway": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/virtualNetworkGateways/gw"
        },
    )


SECRETS = (CLIENT_SECRET, API_KEY, PSK, APPRISE)


def database_file_bytes(name: str) -> bytes:
    """The bytes on disk of the SQLite database ``name`` and its -wal/-journal, read by a child
    process (``cat``), never by this one.

    POSIX advisory locks belong to a process and a file, not to a descriptor: close() of ANY
    descriptor of the file drops every lock this process holds on it (fcntl(2)). SQLite keeps a
    per-process count of its locks and does not take them again while it believes it holds them
    (os_unix.c, "POSIX advisory locks are broken by design"), so an open()/close() here, while any
    connection of this process was open, left it reading without a lock. A Celery worker that
    then closed its last connection took the EXCLUSIVE lock, checkpointed and unlinked -wal and
    -shm under this process, and every later connection here got 'disk I/O error'
    (SQLITE_IOERR_SHORT_READ). A child's close() drops only the child's locks."""
    import subprocess
    from pathlib import Path

    paths = [p for p in (name, f"{name}-wal", f"{name}-journal") if Path(p).exists()]
    return subprocess.run(["cat", *paths], check=True, capture_output=True).stdout


@pytest.mark.django_db(transaction=True)
def test_no_secret_is_stored_in_plaintext_in_the_database_file(site):
    connection.close()  # the rows are in the file or its WAL, not only in this connection
    raw = database_file_bytes(connection.settings_dict["NAME"])
    assert raw, "the test database must be a real file"
    for secret in SECRETS:
        assert secret.encode() not in raw
    assert b"fernet:" in raw


def test_secrets_read_back_decrypted_in_python(site):
    fresh = Site.objects.get(pk=site.pk)
    assert str(fresh.psk) == PSK
    assert str(fresh.pfsense_api_key) == API_KEY
    assert "Never" not in repr(fresh.psk)


def test_the_admin_never_renders_a_secret(alice, site):
    pages = [
        alice.get("/admin/wizard/site/"),
        alice.get(f"/admin/wizard/site/{site.pk}/change/"),
        alice.get("/admin/wizard/site/?q=home"),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        for secret in SECRETS:
            assert secret not in html
    assert "Write-only" in pages[1].content.decode()
    assert "virtualNetworkGateways/gw" in pages[1].content.decode()


def test_an_empty_secret_field_in_the_admin_keeps_the_stored_value(alice, site):
    page = alice.get(f"/admin/wizard/site/{site.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(client_secret="", pfsense_api_key="", psk="", apprise_urls="", name="Home 2")
    data["intent"] = "{}"
    data["pfsense_ids"] = "{}"
    response = alice.post(f"/admin/wizard/site/{site.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    fresh = Site.objects.get(pk=site.pk)
    assert fresh.name == "Home 2"
    assert str(fresh.psk) == PSK and str(fresh.client_secret) == CLIENT_SECRET


def test_no_secret_reaches_the_logs(alice, site, caplog):
    caplog.set_level(logging.DEBUG)
    alice.get(f"/admin/wizard/site/{site.pk}/change/")
    logging.getLogger("s2svpn").info("site %r psk %r", site, Site.objects.get(pk=site.pk).psk)
    for secret in SECRETS:
        assert secret not in caplog.text


def test_keys_rotate_without_losing_secrets(site, settings):
    from cryptography.fernet import Fernet

    from s2svpn import crypto

    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    crypto._fernet.cache_clear()
    from django.core.management import call_command

    call_command("rotate_keys")
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    crypto._fernet.cache_clear()
    assert str(Site.objects.get(pk=site.pk).psk) == PSK
    crypto._fernet.cache_clear()
