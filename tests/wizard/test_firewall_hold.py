"""A run holds its firewall for its whole push (wizard.firewall): from its first pfSense write to
its verified tunnel, or until it ends in any way; a silent run's hold runs out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from wizard import engine, firewall, runs
from wizard.context import StepContext
from wizard.models import FirewallLease, Run, RunKind, RunStatus, Site, Step, StepState
from wizard.results import Done, Wait
from wizard.steps import push_plan

pytestmark = pytest.mark.django_db

FIREWALL = "https://fw.home.arpa"


def push_run(slug: str, url: str = FIREWALL) -> Run:
    """A push run with the real push plan's steps (nothing dispatched)."""
    site = Site.objects.create(name=slug.title(), slug=slug, pfsense_url=url)
    run = Run.objects.create(site=site, kind=RunKind.PUSH, status=RunStatus.RUNNING)
    for order, spec in enumerate(push_plan(site)):
        Step.objects.create(
            run=run,
            key=spec.key,
            end=spec.end,
            title=spec.title,
            order=order,
            depends_on=list(spec.depends_on),
        )
    return run


def ctx(run: Run, key: str) -> StepContext:
    return StepContext(Step.objects.select_related("run__site").get(run=run, key=key))


def done(run: Run, *keys: str) -> None:
    Step.objects.filter(run=run, key__in=keys).update(state=StepState.DONE)


def holder() -> str:
    return FirewallLease.objects.get(firewall=FIREWALL).holder


def test_a_run_keeps_the_firewall_between_its_steps_and_lets_go_after_its_last_check():
    home, lab = push_run("home"), push_run("lab", "https://FW.home.arpa/")

    assert firewall.take(ctx(home, "pf_preflight"))
    firewall.put_down(ctx(home, "pf_preflight"), done=True)
    done(home, "az_facts", "pf_preflight")
    assert holder() == f"run{home.pk}", "held by the run between its steps"
    assert not firewall.take(ctx(lab, "pf_preflight"))
    assert firewall.busy_message(ctx(lab, "pf_preflight")) == (
        "another push to this firewall (site Home) is in progress; waiting for it"
    )

    # Two steps of the holding run never write at once either.
    assert firewall.take(ctx(home, "pf_phase1"))
    assert not firewall.take(ctx(home, "pf_frr"))
    assert "another step of this run" in firewall.busy_message(ctx(home, "pf_frr"))
    firewall.put_down(ctx(home, "pf_phase1"), done=True)
    assert firewall.take(ctx(home, "pf_frr"))
    firewall.put_down(ctx(home, "pf_frr"), done=True)
    done(home, "pf_phase1", "pf_frr", "pf_rest")
    assert not firewall.take(ctx(lab, "pf_preflight")), "still held: verify has not run"

    assert firewall.take(ctx(home, "verify"))
    firewall.put_down(ctx(home, "verify"), done=False)  # a Wait: the tunnel is not up yet
    assert holder() == f"run{home.pk}"
    assert firewall.take(ctx(home, "verify"))
    firewall.put_down(ctx(home, "verify"), done=True)
    assert holder() == "", "the last firewall step is done: anyone may take it"
    assert firewall.take(ctx(lab, "pf_preflight"))


@pytest.mark.parametrize("ending", ["failed", "cancelled", "errored"])
def test_a_run_that_ends_in_any_way_lets_go_of_the_firewall(ending):
    home, lab = push_run("home"), push_run("lab")
    assert firewall.take(ctx(home, "pf_preflight"))
    firewall.put_down(ctx(home, "pf_preflight"), done=True)
    assert not firewall.take(ctx(lab, "pf_preflight"))

    if ending == "cancelled":
        runs.cancel_run(home)
    elif ending == "failed":
        done(home, "az_facts", "pf_preflight")
        Step.objects.filter(run=home, key="pf_phase1").update(
            state=StepState.FAILED, error="pfSense refused the phase 1"
        )
        engine.advance(home.pk)
    else:
        Step.objects.filter(run=home, key="pf_phase1").update(state=StepState.FAILED)
        engine._finish_errored(home.pk)
    home.refresh_from_db()
    assert home.status == ending

    assert holder() == ""
    assert firewall.take(ctx(lab, "pf_preflight"))


def test_a_silent_runs_hold_runs_out_and_a_live_one_is_renewed():
    home, lab = push_run("home"), push_run("lab")
    assert firewall.take(ctx(home, "pf_preflight"))
    firewall.put_down(ctx(home, "pf_preflight"), done=True)

    # Any step of the holding run that runs (Azure's gateway build, say) renews the hold.
    FirewallLease.objects.update(until=timezone.now() + timedelta(seconds=1))
    assert firewall.renew(home.pk) == 1
    lease = FirewallLease.objects.get()
    assert lease.until > timezone.now() + timedelta(seconds=60)
    assert firewall.renew(lab.pk) == 0, "a run renews only what it holds"

    # Its workers died: nothing renews the hold, it runs out and the other push goes ahead.
    FirewallLease.objects.update(until=timezone.now() - timedelta(seconds=1))
    assert firewall.take(ctx(lab, "pf_preflight"))
    assert holder() == f"run{lab.pk}/step{ctx(lab, 'pf_preflight').step.pk}"


def test_a_firewall_step_waits_with_a_message_naming_the_site_and_backs_off():
    home, lab = push_run("home"), push_run("lab")
    assert firewall.take(ctx(home, "pf_preflight"))
    calls = []
    step = firewall.on_the_firewall(lambda c: calls.append(c) or Done("written"))

    first = step(ctx(lab, "pf_preflight"))
    assert isinstance(first, Wait) and not calls
    assert (
        first.message == "another push to this firewall (site Home) is in progress; waiting for it"
    )
    Step.objects.filter(run=lab, key="pf_preflight").update(data=first.data)
    second = step(ctx(lab, "pf_preflight"))
    assert second.seconds > first.seconds, "waits longer each time (a push may take long)"


def test_a_step_that_raises_leaves_the_firewall_with_its_run():
    home = push_run("home")

    def broken(c):
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        firewall.on_the_firewall(broken)(ctx(home, "pf_preflight"))
    assert holder() == f"run{home.pk}", "the run fails next, and its end releases the firewall"
