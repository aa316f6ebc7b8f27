"""docker compose cannot run here, so the compose file is checked by reading it."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import REPO


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def documented() -> set[str]:
    names = set()
    for line in (REPO / ".env.example").read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def test_it_runs_postgresql_redis_and_one_image_as_web_worker_and_beat(compose):
    services = compose["services"]
    assert set(services) == {"db", "redis", "web", "worker", "beat"}
    assert services["db"]["image"].startswith("postgres")
    assert services["redis"]["image"].startswith("redis")
    for name in ("web", "worker", "beat"):
        assert services[name]["build"] == "."
        assert services[name]["env_file"] == ".env"
    assert "gunicorn" in services["web"]["command"] and "migrate" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "s2svpn", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "s2svpn", "beat"]


def test_the_database_lives_in_a_named_volume_and_web_has_a_healthcheck(compose):
    assert "pgdata" in compose["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["db"]["volumes"]
    health = compose["services"]["web"]["healthcheck"]
    assert "/healthz/" in " ".join(health["test"])
    assert compose["services"]["web"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_every_variable_the_compose_file_uses_is_documented_in_env_example():
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (REPO / "docker-compose.yml").read_text()))
    assert used, "the compose file interpolates variables"
    assert used <= documented(), used - documented()


def test_every_variable_the_settings_read_is_documented_in_env_example():
    source = (REPO / "s2svpn" / "settings.py").read_text()
    read = set(re.findall(r'env(?:_bool|_int|_float|_list|_secret)?\("([A-Z][A-Z0-9_]*)"', source))
    assert read <= documented(), read - documented()


def test_the_image_runs_as_a_non_root_user_in_a_multi_stage_build():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) >= 2
    assert re.search(r"^USER s2svpn", dockerfile, re.M)
