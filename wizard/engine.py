"""The run engine: a small DAG of idempotent steps executed by short Celery tasks.

Rules that make a run survive anything:

* A step function only reads and writes through idempotent client calls (read, compare, act), so
  running it twice is harmless. It returns ``Done`` or ``Wait`` (re-check later) or raises
  ``ClientError`` (permanent: the run fails with the message; transient: retried with backoff).
  A domain refusal (``s2svpn.errors.Refusal``, e.g. an ASN the firewall already runs otherwise)
  fails the run with its message, for the user to fix; any other exception is a bug: the run is
  errored and the traceback goes to the server log only, never to the step log users read.
* A worker claims a step with a lease (an UPDATE guarded by state and lease), so two workers never
  run the same step at once; if the worker dies, ``resume_runs`` (beat) dispatches the step
  again (``wizard.watchdog``: at once when the worker's heartbeat stops, else when the lease ends).
* Nothing long happens inside a task: the VPN gateway build is a ``Wait`` that re-checks with a
  countdown, so no worker is held for 45 minutes.
* Only ids travel in task messages; tasks are enqueued after the transaction commits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from s2svpn.clients.errors import ClientError
from s2svpn.errors import Refusal
from wizard.context import StepContext, append_log, with_line
from wizard.models import TERMINAL, Run, RunKind, RunStatus, Site, SiteStatus, Step, StepState
from wizard.results import StepSpec, Wait
from wizard.signals import run_finished

logger = logging.getLogger(__name__)

Plan = Callable[[Site], list[StepSpec]]
PLANS: dict[str, Plan] = {}


# ---------------------------------------------------------------- registry of run kinds


def register_plan(kind: str) -> Callable[[Plan], Plan]:
    """Decorator: ``plan(site)`` lists the steps of a ``kind`` run. ``wizard.steps`` registers
    the three kinds when it is imported (``WizardConfig.ready()``), so the engine imports no
    step code."""

    def register(plan: Plan) -> Plan:
        PLANS[kind] = plan
        return plan

    return register


def plan_for(kind: str) -> Plan:
    try:
        return PLANS[kind]
    except KeyError:
        raise LookupError(f"no plan is registered for {kind!r} runs") from None


def specs_for(run: Run) -> dict[str, StepSpec]:
    return {spec.key: spec for spec in plan_for(run.kind)(run.site)}


# ---------------------------------------------------------------- the engine


def advance(run_id: int) -> list[int]:
    """Dispatch every step whose dependencies are done; finish the run when nothing is left.

    Returns the ids of the steps to execute now (the caller enqueues them after commit).
    """
    to_dispatch: list[int] = []
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("site").get(pk=run_id)
        if run.is_terminal:
            return []
        now = timezone.now()
        if run.status == RunStatus.PENDING:
            run.status = RunStatus.RUNNING
            run.started = now
            run.save(update_fields=["status", "started"])
        steps = list(run.steps.all())
        state = {s.key: s.state for s in steps}
        failed = [s for s in steps if s.state == StepState.FAILED]
        busy = [s for s in steps if s.state in (StepState.QUEUED, StepState.RUNNING)]
        if failed:
            if not busy:
                _finish(run, RunStatus.FAILED, failed[0].error)
            return []
        if all(s.state in (StepState.DONE, StepState.SKIPPED) for s in steps):
            _finish(run, RunStatus.SUCCEEDED, "")
            return []
        for s in steps:
            if s.state == StepState.PENDING and all(
                state.get(dep) in (StepState.DONE, StepState.SKIPPED) for dep in s.depends_on
            ):
                s.state = StepState.QUEUED
                s.queued_at = now
                s.save(update_fields=["state", "queued_at"])
                to_dispatch.append(s.pk)
    return to_dispatch


def _finish(run: Run, status: str, error: str) -> None:
    run.status = status
    run.active = False
    run.finished = timezone.now()
    run.error = error
    run.save(update_fields=["status", "active", "finished", "error"])
    ok = status == RunStatus.SUCCEEDED
    if run.kind == RunKind.TEARDOWN:
        site_status = SiteStatus.REMOVED if ok else SiteStatus.FAILED
    else:
        site_status = SiteStatus.ACTIVE if ok else SiteStatus.FAILED
    Site.objects.filter(pk=run.site_id).update(status=site_status)
    run_finished.send(sender=Run, run=run)


def claim(step_id: int) -> Step | None:
    """Take the lease on a step, or None if it is not ours to run (done, or held by a live worker)."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.S2SVPN_STEP_LEASE)
    # A WAITING step only once its re-check is due: a second copy of its message (sent again by
    # wizard.watchdog, or restored by the broker) finds it not due and ends there.
    claimable = (
        Q(state=StepState.QUEUED)
        | Q(state=StepState.WAITING, next_check_at__lte=now + timedelta(seconds=1))
        | Q(state=StepState.WAITING, next_check_at__isnull=True)
        | Q(state=StepState.RUNNING, lease_until__lt=now)
    )
    with transaction.atomic():
        updated = (
            Step.objects.filter(claimable, pk=step_id)
            .exclude(run__status__in=TERMINAL)
            .update(
                state=StepState.RUNNING,
                lease_until=lease,
                attempts=F("attempts") + 1,
                started=Coalesce("started", Value(now)),
            )
        )
    if not updated:
        return None
    step = Step.objects.select_related("run__site").get(pk=step_id)
    return step


def execute(step_id: int) -> tuple[str, float | None, int | None]:
    """Run one step. Returns ``(outcome, seconds, run_id)`` for the caller: ``("advance", None,
    run)`` (advance the run now) or ``("recheck", seconds, run)`` (run the step again later)."""
    step = claim(step_id)
    if step is None:
        return ("none", None, None)
    outcome, seconds = _execute(step)
    return (outcome, seconds, step.run_id)


def _execute(step: Step) -> tuple[str, float | None]:
    spec = specs_for(step.run).get(step.key)
    ctx = StepContext(step)
    began = time.monotonic()
    try:
        if spec is None:
            raise RuntimeError(f"no step function for {step.key!r} in a {step.run.kind} run")
        result = spec.fn(ctx)
    except ClientError as exc:
        _add_busy(step, began)
        return _client_error(step, exc)
    except Refusal as exc:  # an answer that cannot work here: the user fixes it, then retries
        _add_busy(step, began)
        return _client_error(step, ClientError(exc.message, permanent=True, code="Refused"))
    except Exception as exc:  # a bug: the traceback goes to the server log only
        logger.exception("step %s of run %s crashed", step.key, step.run_id)
        append_log(step, "Internal error; the details are in the server log.")
        _fail(step, f"Internal error in step {step.title!r}: {type(exc).__name__}: {exc}", False)
        Run.objects.filter(pk=step.run_id).update(status=RunStatus.ERRORED)
        _finish_errored(step.run_id)
        return ("none", None)
    # One UPDATE records the outcome, the log line and the time spent (each commit costs).
    spent = F("busy_seconds") + (time.monotonic() - began)
    now = timezone.now()
    if result.message:
        step.log = with_line(step.log, result.message)
    if isinstance(result, Wait):
        Step.objects.filter(pk=step.pk, state=StepState.RUNNING).update(
            state=StepState.WAITING,
            lease_until=None,
            next_check_at=now + timedelta(seconds=result.seconds),
            message=result.message[:300],
            eta=(now + timedelta(seconds=result.eta_seconds)) if result.eta_seconds else None,
            data={**step.data, **result.data},
            log=step.log,
            busy_seconds=spent,
        )
        return ("recheck", result.seconds)
    Step.objects.filter(pk=step.pk, state=StepState.RUNNING).update(
        state=StepState.DONE,
        lease_until=None,
        finished=now,
        message=result.message[:300],
        resource_id=result.resource_id or step.resource_id,
        data={**step.data, **result.data},
        error="",
        log=step.log,
        busy_seconds=spent,
    )
    return ("advance", None)


def _add_busy(step: Step, began: float) -> None:
    spent = time.monotonic() - began
    Step.objects.filter(pk=step.pk).update(busy_seconds=F("busy_seconds") + spent)


def _client_error(step: Step, exc: ClientError) -> tuple[str, float | None]:
    append_log(step, f"{'Permanent' if exc.permanent else 'Transient'} error: {exc.message}")
    if exc.permanent or step.attempts >= settings.S2SVPN_STEP_MAX_ATTEMPTS:
        reason = exc.message
        if not exc.permanent:
            reason = f"{exc.message} (gave up after {step.attempts} attempts; Retry resumes)"
        _fail(step, reason, retryable=not exc.permanent)
        return ("advance", None)
    delay = min(settings.S2SVPN_STEP_BACKOFF * (2 ** (step.attempts - 1)), 60.0)
    Step.objects.filter(pk=step.pk, state=StepState.RUNNING).update(
        state=StepState.WAITING,
        lease_until=None,
        next_check_at=timezone.now() + timedelta(seconds=delay),
        message=f"Retrying in {delay:.0f} s: {exc.message}"[:300],
    )
    return ("recheck", delay)


def _fail(step: Step, error: str, retryable: bool) -> None:
    Step.objects.filter(pk=step.pk).update(
        state=StepState.FAILED,
        lease_until=None,
        finished=timezone.now(),
        error=error,
        retryable=retryable,
        message=error[:300],
    )


def _finish_errored(run_id: int) -> None:
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        failed = run.steps.filter(state=StepState.FAILED).first()
        _finish(run, RunStatus.ERRORED, failed.error if failed else "internal error")


def active_run_ids() -> list[int]:
    return list(
        Run.objects.filter(active=True).exclude(status__in=TERMINAL).values_list("pk", flat=True)
    )
