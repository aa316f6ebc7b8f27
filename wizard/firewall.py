"""One push at a time per firewall: a run holds its pfSense from its first write to its last check.

A pfSense push is not a set of independent writes: its preflight records a checkpoint of the
sections it touches, and a permanent error in a later step restores that checkpoint, which would
wipe whatever another site's push wrote in between; and every IPsec apply recreates all VTI
interfaces on the firewall (BGP flaps), so another site's apply in the middle of a run's verify
makes that verify flaky. So the lease (``wizard.models.FirewallLease``, one row per firewall) is
held by the *run*:

* its first firewall step (the preflight of a provision or push, the pfSense removal of a
  teardown) takes it: holder ``run<id>``; a step of the same run writing right now marks itself
  (``run<id>/step<id>``), so two steps of one run (phase 1 while FRR installs) never write at
  once either;
* it is held until the run's last firewall step (``verify``: the tunnel is up) is done, or the
  run ends in any way (``release_run``, a ``run_finished`` receiver): succeeded, failed,
  errored, cancelled;
* every step execution of the holding run renews it (``renew``, called by the Celery task after
  each step; the firewall steps renew it themselves when they take it), so a run waiting 45
  minutes for Azure's gateway between its phase 1 and its phase 2 keeps the firewall; a run whose
  workers are gone renews nothing and its lease runs out after ``S2SVPN_FIREWALL_LEASE`` seconds,
  so another run is never blocked for ever;
* a step of another run that finds the firewall held ``Wait``s (with a message naming the site
  that holds it) and takes the lease once it is free.

The holder is a string of our own making (no migration needed to change the unit from step to
run); one ``UPDATE ... WHERE`` takes it, so two workers can never both believe they hold it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from wizard.context import StepContext
from wizard.engine import specs_for
from wizard.models import FirewallLease, Run, StepState
from wizard.results import Done, Wait

HOLDING: set[Callable] = set()  # the step functions that need the firewall (see on_the_firewall)


def firewall_of(url: str) -> str:
    """The lease key of a pfSense: its URL, normalised (``https://FW/`` is ``https://fw``)."""
    return url.rstrip("/").lower()


def run_holder(run_id: int) -> str:
    return f"run{run_id}"


def _held_by(run_id: int) -> Q:
    """The lease rows a run holds, between its steps or while one of them writes."""
    holder = run_holder(run_id)
    return Q(holder=holder) | Q(holder__startswith=f"{holder}/")


def _until():
    return timezone.now() + timedelta(seconds=settings.S2SVPN_FIREWALL_LEASE)


def take(ctx: StepContext) -> bool:
    """Take (or renew) the firewall for this step of this run: one atomic UPDATE that succeeds
    when the lease is free, expired, held by this run between steps, or by this very step (a
    re-check, or the same step sent again after its worker died)."""
    firewall = firewall_of(ctx.site.pfsense_url)
    mine = f"{run_holder(ctx.run.pk)}/step{ctx.step.pk}"
    now = timezone.now()
    FirewallLease.objects.get_or_create(firewall=firewall)
    free = Q(holder="") | Q(until__lt=now) | Q(holder=run_holder(ctx.run.pk)) | Q(holder=mine)
    return bool(
        FirewallLease.objects.filter(free, firewall=firewall).update(holder=mine, until=_until())
    )


def put_down(ctx: StepContext, *, done: bool) -> None:
    """The step stops writing: the run keeps the firewall, unless this was its last firewall step
    (then anyone may take it)."""
    firewall = firewall_of(ctx.site.pfsense_url)
    mine = f"{run_holder(ctx.run.pk)}/step{ctx.step.pk}"
    held = FirewallLease.objects.filter(firewall=firewall, holder=mine)
    if done and not _firewall_steps_left(ctx):
        held.update(holder="", until=None)
    else:
        held.update(holder=run_holder(ctx.run.pk), until=_until())


def _firewall_steps_left(ctx: StepContext) -> bool:
    keys = [spec.key for spec in specs_for(ctx.run).values() if spec.fn in HOLDING]
    return (
        ctx.run.steps.filter(key__in=keys)
        .exclude(pk=ctx.step.pk)
        .exclude(state__in=(StepState.DONE, StepState.SKIPPED))
        .exists()
    )


def renew(run_id: int) -> int:
    """The run is alive (one of its steps just ran): keep the firewall it holds."""
    return FirewallLease.objects.filter(_held_by(run_id)).update(until=_until())


def release_run(sender: type[Run], run: Run, **kwargs: object) -> None:
    """``run_finished`` receiver: a run that ended (in any way) holds no firewall any more."""
    FirewallLease.objects.filter(_held_by(run.pk)).update(holder="", until=None)


def busy_message(ctx: StepContext) -> str:
    """Why the step waits, naming the site whose push holds the firewall."""
    holder = (
        FirewallLease.objects.filter(firewall=firewall_of(ctx.site.pfsense_url))
        .values_list("holder", flat=True)
        .first()
    )
    found = re.fullmatch(r"run(\d+)(?:/step\d+)?", holder or "")
    if found and int(found.group(1)) == ctx.run.pk:
        return "another step of this run is writing to the firewall; waiting for it"
    site = (
        Run.objects.filter(pk=int(found.group(1))).values_list("site__name", flat=True).first()
        if found
        else None
    )
    if site:
        return f"another push to this firewall (site {site}) is in progress; waiting for it"
    return "another push to this firewall is in progress; waiting for it"


def on_the_firewall(work: Callable[[StepContext], Done | Wait]) -> Callable:
    """A step that writes to (or checks) the firewall only while its run holds the lease."""

    def step(ctx: StepContext) -> Done | Wait:
        if not take(ctx):
            # Briskly at first (a step of the same run ends in seconds), then at most every 15 s
            # (another site's push may hold the firewall while Azure builds its gateway).
            waits = ctx.step.data.get("firewall_waits", 0)
            seconds = min(0.5 * 1.5**waits, 15.0)
            return Wait(seconds, busy_message(ctx), data={"firewall_waits": waits + 1})
        done = False
        try:
            result = work(ctx)
            done = isinstance(result, Done)
            return result
        finally:
            put_down(ctx, done=done)

    step.__name__ = step.__qualname__ = work.__name__.lstrip("_")
    step.__doc__ = work.__doc__
    HOLDING.add(step)
    return step
