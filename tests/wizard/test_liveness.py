"""What a person sees when no worker runs or the broker does not answer: a sentence, never an ETA
that will not come or a bare 500; what was asked for is saved and resumes by itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from s2svpn.models import WorkerBeat
from tests.wizard.test_pages import launch
from wizard import watchdog
from wizard.models import Run, StepState

DOWN = "The task queue (Redis) is not answering."


@pytest.fixture
def broker_down():
    """The app's broker is a port nothing listens on (the real client, a refused connection)."""
    from s2svpn.celery import app
    from tests.conftest import _reset_broker_pools

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    _reset_broker_pools(app)
    yield
    app.conf.broker_url = old
    _reset_broker_pools(app)


def a_worker(seconds_ago: float = 0.0) -> WorkerBeat:
    at = timezone.now() - timedelta(seconds=seconds_ago)
    name = f"worker@test/{WorkerBeat.objects.count()}"
    return WorkerBeat.objects.create(name=name, kind="worker", started=at, beat_at=at)


def building(run: Run) -> None:
    now = timezone.now()
    run.steps.filter(key="az_gateway").update(
        state=StepState.WAITING, started=now, eta=now + timedelta(minutes=30)
    )


def test_the_run_page_says_no_worker_is_running_instead_of_an_eta(alice, draft, dns):
    run = launch(alice, draft)
    building(run)
    a_worker(seconds_ago=30)  # killed: silent for longer than S2SVPN_WORKER_DEAD_AFTER
    url = reverse("wizard:run", args=[draft.slug, run.pk])
    html = alice.get(url).content.decode()
    assert "No worker is running" in html
    assert "ETA" not in html
    a_worker()
    html = alice.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "No worker is running" not in html
    assert "ETA in about" in html


def test_the_status_page_says_no_worker_is_running(alice):
    assert "No worker is running" in alice.get(reverse("monitor:status")).content.decode()
    a_worker()
    assert "No worker is running" not in alice.get(reverse("monitor:status")).content.decode()


def test_launch_with_the_broker_down_saves_the_run_and_says_so(
    transactional_db, alice, draft, dns, broker_down
):
    response = alice.post(reverse("wizard:launch", args=[draft.slug]))
    run = Run.objects.get(site=draft)
    assert response.status_code == 302
    assert response["Location"] == reverse("wizard:run", args=[draft.slug, run.pk])
    page = alice.get(response["Location"]).content.decode()
    assert DOWN in page and "start by themselves" in page
    queued = list(run.steps.filter(state=StepState.QUEUED).values_list("pk", flat=True))
    assert queued, "the first steps are saved as queued"
    # Once their message is overdue, beat's watchdog sends them again (the broker is back then).
    run.steps.filter(pk__in=queued).update(queued_at=timezone.now() - timedelta(seconds=6))
    assert sorted(watchdog.stale_steps()) == sorted(queued)


@pytest.mark.parametrize("button", ["run_resume", "run_retry"])
def test_resume_and_retry_with_the_broker_down_are_a_message_not_a_500(
    button, transactional_db, alice, draft, dns, broker_down
):
    run = launch(alice, draft)
    if button == "run_retry":
        run.steps.filter(key="az_subnet").update(state=StepState.FAILED, error="boom")
        Run.objects.filter(pk=run.pk).update(status="failed", active=False)
    building(run)
    run.steps.filter(key="az_gateway").update(next_check_at=timezone.now() - timedelta(minutes=5))
    response = alice.post(reverse(f"wizard:{button}", args=[draft.slug, run.pk]))
    assert response.status_code == 302
    assert DOWN in alice.get(response["Location"]).content.decode()


def test_poll_now_with_the_broker_down_says_it_was_not_sent(
    transactional_db, alice, draft, broker_down
):
    response = alice.post(reverse("monitor:poll_now", args=[draft.slug]))
    assert response.status_code == 302
    page = alice.get(response["Location"]).content.decode()
    assert DOWN in page and "Not sent: Poll now" in page
