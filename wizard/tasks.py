"""Celery tasks: thin, short, and given ids only (never secrets).

A step that finishes advances its run in the same task (no extra hop through the broker), and
the steps that became ready are enqueued after that transaction commits.
"""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from wizard import engine, firewall, watchdog


def dispatch(run_id: int) -> None:
    """Advance a run now and enqueue the steps that became ready (after commit)."""
    for step_id in engine.advance(run_id):
        transaction.on_commit(lambda sid=step_id: execute_step.delay(sid))


@shared_task(acks_late=True)
def advance_run(run_id: int) -> None:
    dispatch(run_id)


@shared_task(acks_late=True)
def execute_step(step_id: int) -> None:
    outcome, seconds, run_id = engine.execute(step_id)
    if run_id:
        firewall.renew(run_id)  # the run is alive: it keeps the firewall it holds for its push
    if outcome == "recheck":
        execute_step.apply_async((step_id,), countdown=seconds)
    elif outcome == "advance" and run_id:
        dispatch(run_id)


@shared_task
def resume_runs() -> int:
    """Beat: re-dispatch what crashed workers left behind, and nudge every active run."""
    stale = watchdog.stale_steps()
    watchdog.prune_heartbeats()
    for step_id in stale:
        execute_step.delay(step_id)
    for run_id in engine.active_run_ids():
        advance_run.delay(run_id)
    return len(stale)
