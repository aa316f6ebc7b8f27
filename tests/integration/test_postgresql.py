"""With DATABASE_URL and REDIS_URL set, s2svpn runs on PostgreSQL and Redis.

The provisioning integration test runs again in a nested pytest session whose settings come from
DATABASE_URL (PostgreSQL on this machine) and REDIS_URL: the real worker then shares a real
PostgreSQL test database with the test.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

POSTGRES = os.environ.get("S2SVPN_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/s2svpn")


def test_the_canonical_provisioning_runs_on_postgresql_and_redis(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": POSTGRES,
        "REDIS_URL": "redis://127.0.0.1:6379/12",
        "S2SVPN_VAR_DIR": str(tmp_path),
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL)",
        ],
        cwd=REPO,
        env={**env, "DJANGO_SETTINGS_MODULE": "s2svpn.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.split() == ["django.db.backends.postgresql", "redis://127.0.0.1:6379/12"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--create-db",
            "tests/integration/test_provisioning.py::"
            "test_provisioning_the_canonical_scenario_ends_connected_with_state_equal_to_the_intent",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
