"""Celery tasks: thin, short, and given ids only (never secrets)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

# Imported here, in the worker's main process, so forked children inherit the SDKs already
# loaded instead of paying for the import inside the first task they run.
import s2svpn.clients.azure
import s2svpn.clients.pfsense  # noqa: F401
import wizard.steps  # noqa: F401
from wizard import engine


@shared_task(acks_late=True)
def advance_run(run_id: int) -> None:
    for step_id in engine.advance(run_id):
        transaction.on_commit(lambda sid=step_id: execute_step.delay(sid))


@shared_task(acks_late=True)
def execute_step(step_id: int) -> None:
    outcome, seconds = engine.execute(step_id)
    if outcome == "recheck":
        execute_step.apply_async((step_id,), countdown=seconds)
    elif outcome == "advance":
        from wizard.models import Step

        run_id = Step.objects.filter(pk=step_id).values_list("run_id", flat=True).first()
        if run_id:
            advance_run.delay(run_id)


@shared_task
def resume_runs() -> int:
    """Beat: re-dispatch what crashed workers left behind, and nudge every active run."""
    stale = engine.stale_steps()
    for step_id in stale:
        execute_step.delay(step_id)
    for run_id in engine.active_run_ids():
        advance_run.delay(run_id)
    return len(stale)
