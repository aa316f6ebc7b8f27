"""Everything but the login page and /healthz/ needs a login."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {"login", "healthz"}


def walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.name


def concrete(route: str) -> str:
    """Turn a pattern into a URL by filling converters and regex groups with sample values."""
    route = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "1" if m.group(1) == "int" else "x", route)
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)
    route = route.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")
    return "/" + route


@pytest.mark.django_db
def test_every_url_except_login_and_healthz_sends_an_anonymous_user_to_login(client):
    checked = 0
    for route, name in walk(get_resolver().url_patterns):
        if name in PUBLIC:
            continue
        url = concrete(route)
        response = client.get(url)
        assert response.status_code in (301, 302), (url, response.status_code)
        assert "/login/" in response["Location"], (url, response["Location"])
        checked += 1
    assert checked > 10


@pytest.mark.django_db
def test_the_login_page_and_healthz_are_public(client):
    assert client.get("/login/").status_code == 200
    assert client.get("/healthz/").status_code in (200, 503)


def a_heartbeat(kind: str = "worker", seconds_ago: float = 0.0):
    from datetime import timedelta

    from django.utils import timezone

    from s2svpn.models import WorkerBeat

    at = timezone.now() - timedelta(seconds=seconds_ago)
    return WorkerBeat.objects.create(name=f"{kind}@test", kind=kind, started=at, beat_at=at)


@pytest.mark.django_db
def test_healthz_answers_200_when_database_broker_and_a_worker_respond(client):
    a_heartbeat("worker")
    a_heartbeat("beat")
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "worker": "ok",
        "beat": "ok",
    }


@pytest.mark.django_db
def test_healthz_fails_and_says_worker_missing_when_no_worker_beat_for_a_minute(client):
    a_heartbeat("worker", seconds_ago=61)
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json()["worker"] == "missing"
    assert response.json()["broker"] == "ok"


@pytest.mark.django_db
def test_a_logged_in_user_sees_the_home_page(alice):
    assert alice.get("/").status_code == 200


@pytest.mark.django_db
def test_healthz_answers_503_when_the_broker_does_not_respond(client, settings):
    from s2svpn.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz/")
    finally:
        app.conf.broker_url = old
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["broker"].startswith("error")
