"""The run engine's guarantees, tested on its own: claims, leases, staleness, one run per site."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from wizard import engine, firewall, runs, watchdog
from wizard.context import StepContext
from wizard.models import Run, RunKind, Site, Step, StepState
from wizard.signals import run_finished


@pytest.fixture
def site(db):
    return Site.objects.create(name="Home", slug="home", pfsense_url="https://fw.home.arpa")


def make_run(site, keys=("a", "b"), deps=None):
    run = Run.objects.create(site=site, kind=RunKind.PUSH)
    for index, key in enumerate(keys):
        Step.objects.create(
            run=run,
            key=key,
            end="azure",
            title=key,
            order=index,
            depends_on=(deps or {}).get(key, []),
        )
    return run


def test_advance_queues_only_steps_whose_dependencies_are_done(site):
    run = make_run(site, deps={"b": ["a"]})
    queued = engine.advance(run.pk)
    assert [Step.objects.get(pk=pk).key for pk in queued] == ["a"]
    Step.objects.filter(run=run, key="a").update(state=StepState.DONE)
    queued = engine.advance(run.pk)
    assert [Step.objects.get(pk=pk).key for pk in queued] == ["b"]


def test_a_step_can_be_claimed_once_until_its_lease_expires(site):
    run = make_run(site)
    (step_id, *_) = engine.advance(run.pk)
    first = engine.claim(step_id)
    assert first is not None and first.attempts == 1
    assert engine.claim(step_id) is None, "a live lease keeps a second worker out"
    Step.objects.filter(pk=step_id).update(lease_until=timezone.now() - timedelta(seconds=1))
    again = engine.claim(step_id)
    assert again is not None and again.attempts == 2


def test_steps_a_dead_worker_left_running_are_found_again(site):
    run = make_run(site)
    (step_id, *_) = engine.advance(run.pk)
    engine.claim(step_id)
    assert watchdog.stale_steps() == []
    Step.objects.filter(pk=step_id).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert watchdog.stale_steps() == [step_id]


def test_a_site_has_one_active_run_at_a_time(site):
    Run.objects.create(site=site, kind=RunKind.PUSH)
    with pytest.raises(runs.RunBusy, match="already has a run in progress"):
        runs.start_run(site, RunKind.PUSH)


def test_a_run_whose_steps_are_all_done_succeeds_and_frees_the_site(site):
    run = make_run(site)
    Step.objects.filter(run=run).update(state=StepState.DONE)
    engine.advance(run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded" and not run.active
    site.refresh_from_db()
    assert site.status == "active"


def test_a_finished_run_is_announced_once_with_its_final_state(site):
    heard = []

    def receiver(sender, run, **kwargs):
        heard.append((sender, run.pk, run.status))

    run_finished.connect(receiver)
    try:
        run = make_run(site)
        Step.objects.filter(run=run, key="a").update(state=StepState.DONE)
        Step.objects.filter(run=run, key="b").update(state=StepState.FAILED, error="nope")
        engine.advance(run.pk)
        engine.advance(run.pk)  # already terminal: nothing more to say
        cancelled = make_run(Site.objects.create(name="Lab", slug="lab"))
        runs.cancel_run(cancelled)
    finally:
        run_finished.disconnect(receiver)
    assert heard == [(Run, run.pk, "failed"), (Run, cancelled.pk, "cancelled")]


def test_two_sites_on_one_firewall_never_write_to_it_at_once(site):
    other = Site.objects.create(name="Lab", slug="lab", pfsense_url="https://FW.home.arpa/")
    step_a = Step.objects.get(pk=engine.advance(make_run(site).pk)[0])
    step_b = Step.objects.get(pk=engine.advance(make_run(other).pk)[0])
    ctx_a, ctx_b = StepContext(step_a), StepContext(step_b)
    assert firewall.take(ctx_a)
    assert not firewall.take(ctx_b), "the same firewall, spelt differently"
    firewall.put_down(ctx_a, done=True)  # no firewall step left in run a: the firewall is free
    assert firewall.take(ctx_b)


def test_rechecks_wait_for_the_expected_end_then_look_briskly_then_back_off():
    from wizard.timing import recheck_delay

    # Real Azure: a 35-minute gateway is looked at once a minute, then every 15 s once it is due.
    assert recheck_delay(2100, 0) == 60.0
    assert recheck_delay(2100, 2090) == 15.0
    assert recheck_delay(2100, 2100 + 600) == 60.0  # ten minutes late: once a minute, no more
    # A 20 s operation that runs late is not asked about several times a second.
    assert recheck_delay(20, 5) == 15.0
    assert recheck_delay(20, 20) == 0.2
    assert recheck_delay(20, 60) == 10.0
    assert recheck_delay(20, 600) == 60.0
    polls, t = 0, 0.0
    while t < 20 + 300:  # five minutes late
        t += recheck_delay(20, t)
        polls += 1
    assert polls < 40, polls
    # The sandbox's 1 s operations: at the expected end, then every 0.1 s.
    assert recheck_delay(1.0, 0.0) == 1.0
    assert recheck_delay(1.0, 1.0) == 0.1
