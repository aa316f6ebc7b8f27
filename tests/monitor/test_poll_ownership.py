"""One poll per site at a time, and polls that go on while a run works on the site."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from monitor import jobs, poller
from monitor.models import Alert, Snapshot, Transition
from wizard import runs
from wizard.models import Run, RunKind, RunStatus, Site, SiteStatus
from wizard.services import azure_client

OTHER_KEY = "AnotherKeyEntirely0123456789abcdef"


def break_the_tunnel(site) -> None:
    """Azure gets another pre-shared key: IKE fails, the tunnel goes down."""
    azure_client(site).set_shared_key(site.get_intent(), OTHER_KEY)


def test_two_polls_of_one_site_at_the_same_moment_write_one_set_of_transitions_and_one_alert(
    transactional_db, provisioned, webhook
):
    break_the_tunnel(provisioned)
    start = threading.Barrier(2)
    polled: list[int] = []

    def poll() -> None:
        try:
            start.wait()
            polled.append(jobs.poll_sites([provisioned.pk]))
        finally:
            connection.close()

    threads = [threading.Thread(target=poll) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(polled) == 2, "both polls returned"
    assert Snapshot.objects.get(site=provisioned).verdict == "down"
    changes = Counter(Transition.objects.filter(site=provisioned).values_list("dimension", "new"))
    assert changes[("verdict", "down")] == 1
    assert set(changes.values()) == {1}, changes
    assert Alert.objects.filter(site=provisioned).count() == 1
    assert webhook.titles == [f"[s2svpn] {provisioned.name}: Down"]


def test_a_site_another_poll_holds_is_left_to_it(provisioned):
    from monitor import leases

    holder, taken = leases.claim([provisioned.pk], 60)
    try:
        assert taken == {provisioned.pk}
        assert jobs.poll_sites([provisioned.pk]) == 0, "the second request is dropped"
        assert not Snapshot.objects.filter(site=provisioned).exists()
    finally:
        leases.release(holder)
    assert jobs.poll_sites([provisioned.pk]) == 1, "released: the next request polls"


def test_the_database_refuses_one_change_written_twice_for_the_same_poll(provisioned):
    first = dict(site=provisioned, dimension="verdict", old="", new="down", seq=1)
    Transition.objects.create(**first, at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Transition.objects.create(**first, at=timezone.now())


def test_the_status_page_shows_down_while_a_push_runs_on_a_site_whose_tunnel_went_down(
    provisioned, alice
):
    assert jobs.poll_all() == 1
    assert Snapshot.objects.get(site=provisioned).verdict == "healthy"
    with transaction.atomic():
        run = runs.start_run(provisioned, RunKind.PUSH)  # no worker: it stays open
    provisioned.refresh_from_db()
    assert provisioned.status == SiteStatus.PROVISIONING and run.active

    break_the_tunnel(provisioned)
    assert jobs.poll_all() == 1, "beat's cycle still reads the site while the push runs"

    run.refresh_from_db()
    assert run.active and not run.is_terminal
    page = alice.get(f"/status/{provisioned.slug}/").content.decode()
    assert 'data-verdict="down"' in page or "<b>Down</b>" in page
    board = alice.get("/status/").content.decode()
    assert f'data-site="{provisioned.slug}"' in board and 'data-verdict="down"' in board


def test_the_monitor_watches_active_sites_and_pushed_ones_not_sites_being_built(db):
    def site(slug: str, status: str, *kinds: tuple[str, str]) -> None:
        made = Site.objects.create(name=slug, slug=slug, status=status)
        for kind, run_status in kinds:  # oldest first
            active = run_status in (RunStatus.PENDING, RunStatus.RUNNING)
            Run.objects.create(site=made, kind=kind, status=run_status, active=active)

    done = (RunKind.PROVISION, RunStatus.SUCCEEDED)
    site("active", SiteStatus.ACTIVE, done)
    site("pushing", SiteStatus.PROVISIONING, done, (RunKind.PUSH, RunStatus.RUNNING))
    site("push-failed", SiteStatus.FAILED, done, (RunKind.PUSH, RunStatus.FAILED))
    site("being-built", SiteStatus.PROVISIONING, (RunKind.PROVISION, RunStatus.RUNNING))
    site("build-failed", SiteStatus.FAILED, (RunKind.PROVISION, RunStatus.FAILED))
    site("going", SiteStatus.TEARING_DOWN, done, (RunKind.TEARDOWN, RunStatus.RUNNING))
    site("draft", SiteStatus.DRAFT)
    assert [s.slug for s in poller.pollable_sites()] == ["active", "pushing", "push-failed"]
