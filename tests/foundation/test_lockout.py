"""Login throttling (django-axes): repeated wrong passwords lock the username, and separately the
address, out with a clear message; the admin lists the attempts; axes_reset_username unlocks."""

from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-pass-phrase"


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.net", PASSWORD)


def attempt(client, username, password, address="198.51.100.10"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_five_wrong_passwords_lock_the_user_out_even_with_the_right_one(client, bob, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "bob", "wrong").status_code == 200  # the form again
    locked = attempt(client, "bob", "wrong")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # the right password from another address does not get in either: the user is locked
    right = attempt(client, "bob", PASSWORD, address="198.51.100.99")
    assert right.status_code == 429 and "_auth_user_id" not in client.session


def test_an_address_that_tries_many_usernames_is_locked_out(client, bob, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, f"user{n}", "wrong", address="203.0.113.66")
    assert attempt(client, "bob", PASSWORD, address="203.0.113.66").status_code == 429
    # bob himself, from his own address, still logs in
    assert attempt(client, "bob", PASSWORD, address="198.51.100.10").status_code == 302


def test_an_administrator_sees_the_attempts_and_the_documented_command_unlocks(
    client, bob, alice, settings
):
    anonymous = client.__class__()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(anonymous, "bob", "wrong")
    assert attempt(anonymous, "bob", PASSWORD, address="192.0.2.1").status_code == 429
    listing = alice.get("/admin/axes/accessattempt/").content.decode()
    assert "bob" in listing and "198.51.100.10" in listing
    call_command("axes_reset_username", "bob")
    assert attempt(anonymous, "bob", PASSWORD, address="192.0.2.1").status_code == 302
