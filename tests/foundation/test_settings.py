"""Settings come from the environment; nothing configured means SQLite and an embedded broker."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from tests.conftest import REPO

# What an entry point does (manage.py, wsgi, the Celery app): prepare ./var, then load Django.
PRINT = (
    "from s2svpn.vardir import prepare; prepare();"
    "import json, django; from django.conf import settings; django.setup();"
    "print(json.dumps({'db': settings.DATABASES['default']['ENGINE'],"
    " 'broker': settings.CELERY_BROKER_URL, 'cache': settings.CACHES['default']['BACKEND'],"
    " 'keys': len(settings.FIELD_ENCRYPTION_KEYS), 'secret': settings.SECRET_KEY}))"
)


def run_with(tmp_path, code: str, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    base.update({"S2SVPN_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "s2svpn.settings"})
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=base, capture_output=True, text=True
    )


def settings_with(tmp_path, **env):
    out = run_with(tmp_path, PRINT, **env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_importing_the_settings_writes_no_file(tmp_path):
    var = tmp_path / "var"
    out = run_with(var, "import s2svpn.settings as s; print(repr(s.SECRET_KEY))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "''", "no key before the first start generated one"
    assert not var.exists()


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_an_unknown_yes_no_value_names_its_variable(tmp_path, value):
    out = run_with(tmp_path, "import s2svpn.settings", S2SVPN_DEBUG=value)
    assert out.returncode != 0
    assert "ImproperlyConfigured" in out.stderr
    assert f"S2SVPN_DEBUG={value!r} is not a yes/no value" in out.stderr


@pytest.mark.parametrize(("value", "expected"), [("off", False), ("No", False), ("1", True)])
def test_yes_no_values_are_read_in_any_case(tmp_path, value, expected):
    out = run_with(tmp_path, "import s2svpn.settings as s; print(s.DEBUG)", S2SVPN_DEBUG=value)
    assert out.stdout.strip() == str(expected), out.stderr


def test_a_number_that_is_not_one_names_its_variable(tmp_path):
    out = run_with(tmp_path, "import s2svpn.settings", S2SVPN_POLL_INTERVAL="1m")
    assert "S2SVPN_POLL_INTERVAL='1m' is not a whole number" in out.stderr


def test_a_secret_file_that_cannot_be_read_names_its_variable(tmp_path):
    missing = tmp_path / "nowhere"
    out = run_with(tmp_path, "import s2svpn.settings", SECRET_KEY_FILE=str(missing))
    assert f"SECRET_KEY_FILE={str(missing)!r} cannot be read" in out.stderr


def test_it_runs_on_sqlite_and_the_embedded_redis_when_nothing_is_configured(tmp_path):
    values = settings_with(tmp_path)
    assert values["db"] == "django.db.backends.sqlite3"
    assert values["broker"] == f"redis+socket://{tmp_path}/redis/redis.sock"
    assert values["cache"].endswith("RedisCache")


def test_the_first_start_generates_its_keys_into_var_with_mode_0600_once(tmp_path):
    first = settings_with(tmp_path)
    second = settings_with(tmp_path)
    assert first["secret"] == second["secret"] and first["keys"] == 1
    for name in ("secret_key", "field_encryption_key"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600, name


def test_database_url_and_redis_url_switch_to_postgresql_and_redis(tmp_path):
    values = settings_with(
        tmp_path,
        DATABASE_URL="postgres://u:p@127.0.0.1:5432/s2svpn",
        REDIS_URL="redis://127.0.0.1:6379/3",
    )
    assert values["db"] == "django.db.backends.postgresql"
    assert values["broker"] == "redis://127.0.0.1:6379/3"
    assert values["cache"].endswith("RedisCache")


def test_secrets_can_come_from_files_for_docker_secrets(tmp_path):
    (tmp_path / "sk").write_text("from-a-file\n")
    values = settings_with(tmp_path, SECRET_KEY_FILE=str(tmp_path / "sk"))
    assert values["secret"] == "from-a-file"


def test_a_worker_drops_a_broken_database_connection_after_the_task(transactional_db, monkeypatch):
    """Connections are reused between tasks, but one that broke is not carried into the next."""
    from django.db import connection

    from s2svpn.celery import _drop_broken_connections

    connection.ensure_connection()
    _drop_broken_connections()
    assert connection.connection is not None, "a healthy connection is kept"
    monkeypatch.setattr(connection, "is_usable", lambda: False)
    connection.errors_occurred = True
    _drop_broken_connections()
    assert connection.connection is None, "a broken connection is closed after the task"
