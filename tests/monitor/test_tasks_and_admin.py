"""Beat schedule, task bodies (``monitor.jobs``), the admin's verdict column and actions."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from monitor import jobs, storage
from monitor.models import Snapshot
from monitor.readings import DnsReading, Reading
from tests.monitor.cast import healthy_azure, policy_trapped
from wizard import engine
from wizard.models import Run, Site


def test_beat_polls_every_interval_and_prunes_hourly():
    entry = settings.CELERY_BEAT_SCHEDULE["monitor-poll"]
    assert entry["task"] == "monitor.tasks.poll_all"
    assert entry["schedule"] == settings.S2SVPN_POLL_INTERVAL
    assert entry["options"]["expires"] == settings.S2SVPN_POLL_INTERVAL
    assert settings.CELERY_BEAT_SCHEDULE["monitor-prune"]["task"] == "monitor.tasks.prune"
    assert "resume-runs" in settings.CELERY_BEAT_SCHEDULE  # the wizard's entry is kept


def test_a_cycle_still_running_makes_the_next_one_skip(home):
    assert home.status == "active"
    cache.add(jobs.LOCK, "1", timeout=60)
    try:
        assert jobs.poll_all() == 0
        assert not Snapshot.objects.filter(site=home).exists(), "the skipped cycle read nothing"
    finally:
        cache.delete(jobs.LOCK)
    assert jobs.poll_all() == 1, "with the lock free the same site is polled"
    assert Snapshot.objects.filter(site=home).exists()
    assert cache.get(jobs.LOCK) is None, "a finished cycle releases the lock"


def test_a_cycle_with_no_active_site_polls_nothing(db, home):
    home.status = "draft"
    home.save()
    assert jobs.poll_all() == 0
    assert not Snapshot.objects.exists()


def test_the_site_list_in_the_admin_shows_the_verdict_and_offers_the_actions(alice, home):
    storage.record(
        [
            Reading(
                home.pk,
                *policy_trapped(),
                DnsReading("home-s2s.example.net", "203.0.113.2", 60),
                timezone.now(),
            )
        ],
        send=False,
    )
    body = alice.get("/admin/wizard/site/").content.decode()
    assert '<span class="verdict amber"' in body and ">Degraded</span>" in body
    for action in ("poll_now", "reset_azure_gateway", "repush_pfsense"):
        assert f'value="{action}"' in body


def test_poll_now_from_the_admin_enqueues_after_commit(
    alice, home, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = alice.post(
            "/admin/wizard/site/",
            {"action": "poll_now", "_selected_action": [home.pk]},
            follow=True,
        )
    assert "Polling 1 site(s) now." in response.content.decode()
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("kind", "status", "polls"),
    [
        ("provision", "succeeded", 1),
        ("push", "succeeded", 1),
        ("provision", "failed", 0),
        ("teardown", "succeeded", 0),
    ],
)
def test_a_site_is_polled_right_after_a_successful_run(
    home, django_capture_on_commit_callbacks, kind, status, polls
):
    run = Run.objects.create(site=home, kind=kind)
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        engine._finish(run, status, "")
    assert len(callbacks) == polls


def test_a_never_polled_site_page_says_so(alice, home):
    body = alice.get(f"/status/{home.slug}/").content.decode()
    assert "Not polled yet" in body


def test_an_unknown_half_shows_its_reason_on_the_site_page(alice, home):
    from s2svpn.status import EndStatus

    storage.record(
        [
            Reading(
                home.pk,
                healthy_azure(),
                EndStatus(error="pfSense did not answer within 20 s"),
                DnsReading("home-s2s.example.net", "203.0.113.2", 60),
                timezone.now(),
            )
        ],
        send=False,
    )
    body = alice.get(f"/status/{home.slug}/").content.decode()
    assert "<b>Unknown</b> — pfSense did not answer within 20 s" in body
    assert Site.objects.get(pk=home.pk).snapshot.verdict == "unknown"
