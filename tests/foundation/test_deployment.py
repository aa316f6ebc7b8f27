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


def test_every_service_restarts_and_worker_and_beat_are_checked_by_their_heartbeat(compose):
    services = compose["services"]
    for name, service in services.items():
        assert service["restart"] in {"unless-stopped", "always"}, name
    for name in ("worker", "beat"):
        test = services[name]["healthcheck"]["test"]
        assert test[:4] == ["CMD", "python", "manage.py", "healthcheck"] and test[4] == name
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "ping" in services["redis"]["healthcheck"]["test"]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["worker", "beat"])
def test_the_heartbeat_healthcheck_passes_only_with_a_recent_beat_on_this_host(kind):
    import socket
    from datetime import timedelta

    from django.core.management import CommandError, call_command
    from django.utils import timezone

    from s2svpn.models import WorkerBeat

    with pytest.raises(CommandError, match=f"no {kind} heartbeat"):
        call_command("healthcheck", kind)
    at = timezone.now() - timedelta(seconds=45)
    name = f"{kind}@{socket.gethostname()}/1"
    row = WorkerBeat.objects.create(name=name, kind=kind, started=at, beat_at=at)
    with pytest.raises(CommandError):
        call_command("healthcheck", kind)  # 45 s ago: stuck
    row.beat_at = timezone.now()
    row.save()
    call_command("healthcheck", kind)
