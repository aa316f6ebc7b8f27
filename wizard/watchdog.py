"""What beat's ``resume_runs`` sends again: the database says what must happen next, so no run
depends on a message surviving in the broker or on the worker that held it.

* a RUNNING step whose lease expired, or that was claimed more than ``S2SVPN_WORKER_DEAD_AFTER``
  seconds ago and that no live worker lists in its heartbeat (its worker died: no need to wait
  for the lease);
* a WAITING step whose re-check is ``S2SVPN_RECHECK_SLACK`` seconds overdue (the countdown message
  went with a killed worker or a broker that restarted empty);
* a QUEUED step whose message has not been picked up for ``S2SVPN_RECHECK_SLACK`` seconds (an
  enqueue that failed while the broker was down, or a lost message).

Sending a step twice is harmless: ``engine.claim`` lets one copy through and the other finds the
step running, done, or not due yet.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from s2svpn import heartbeat
from s2svpn.models import WorkerBeat
from wizard.models import TERMINAL, Step, StepState


def stale_steps() -> list[int]:
    """Ids of the steps to dispatch again; their rows are made claimable now."""
    now = timezone.now()
    slack = timedelta(seconds=settings.S2SVPN_RECHECK_SLACK)
    # A step claimed at t holds its lease until t + LEASE: claimed before now - DEAD_AFTER.
    claimed_before = now + timedelta(
        seconds=settings.S2SVPN_STEP_LEASE - settings.S2SVPN_WORKER_DEAD_AFTER
    )
    live = Step.objects.filter(run__active=True).exclude(run__status__in=TERMINAL)
    candidates = live.filter(
        Q(state=StepState.RUNNING, lease_until__lt=claimed_before)
        | Q(state=StepState.WAITING, next_check_at__lt=now - slack)
        | Q(state=StepState.QUEUED, queued_at__lt=now - slack)
    ).values_list("pk", "state", "lease_until")
    held = None
    ids = []
    for pk, state, lease_until in candidates:
        if state == StepState.RUNNING and lease_until >= now:
            held = heartbeat.held_step_ids() if held is None else held
            if pk in held:
                continue  # slow, not dead: its worker still beats and lists it
            # Expire the lease of the dead worker (only if nobody re-claimed it meanwhile).
            if not Step.objects.filter(pk=pk, state=state, lease_until=lease_until).update(
                lease_until=now
            ):
                continue
        ids.append(pk)
    if ids:
        Step.objects.filter(pk__in=ids, state=StepState.QUEUED).update(queued_at=now)
        Step.objects.filter(pk__in=ids, state=StepState.WAITING).update(next_check_at=now)
    return ids


def prune_heartbeats() -> int:
    """Forget the rows of workers that stopped beating long ago (killed, never shut down)."""
    horizon = timezone.now() - timedelta(seconds=max(3600.0, settings.S2SVPN_WORKER_MISSING * 10))
    return WorkerBeat.objects.filter(beat_at__lt=horizon).delete()[0]
