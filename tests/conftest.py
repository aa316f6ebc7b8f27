"""Shared fixtures: a small named cast used across the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ARTIFACTS = REPO / "artifacts"


@pytest.fixture
def admin_user(db, django_user_model):
    return django_user_model.objects.create_superuser("alice", "alice@example.net", "s3cret-pass!")


@pytest.fixture
def alice(client, admin_user):
    """A logged-in admin's test client."""
    client.force_login(admin_user)
    return client
