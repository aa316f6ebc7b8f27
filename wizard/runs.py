"""Starting, retrying and cancelling runs: what the pages, the admin and the monitor call.

The engine (``wizard.engine``) moves a run forward; this module opens one (its steps from the
plan registered for its kind) and hands it to the workers through ``wizard.tasks``.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from wizard import tasks
from wizard.engine import plan_for
from wizard.models import Run, RunKind, RunStatus, Site, SiteStatus, Step, StepState
from wizard.signals import run_finished
from wizard.timing import expected_hints


class RunBusy(Exception):
    """Another run is active for this site."""


def start_run(site: Site, kind: str, data: dict[str, Any] | None = None) -> Run:
    """Create a run with its steps and dispatch the first ones (after commit)."""
    specs = plan_for(kind)(site)
    data = dict(data or {})
    if "expected" not in data:
        data["expected"] = expected_hints(site)
    try:
        with transaction.atomic():
            run = Run.objects.create(site=site, kind=kind, data=data)
            Step.objects.bulk_create(
                Step(
                    run=run,
                    key=spec.key,
                    end=spec.end,
                    title=spec.title,
                    order=index,
                    depends_on=list(spec.depends_on),
                )
                for index, spec in enumerate(specs)
            )
            busy = SiteStatus.TEARING_DOWN if kind == RunKind.TEARDOWN else SiteStatus.PROVISIONING
            Site.objects.filter(pk=site.pk).update(status=busy)
            # The first steps go straight to the workers (no hop through an advance task).
            tasks.dispatch(run.pk)
    except IntegrityError as exc:
        raise RunBusy(f"{site} already has a run in progress; wait for it or cancel it.") from exc
    return run


def retry_run(run: Run) -> Run:
    """Re-open a failed run: failed steps go back to pending; done steps stay done."""
    try:
        with transaction.atomic():
            run = Run.objects.select_for_update().get(pk=run.pk)
            run.status = RunStatus.RUNNING
            run.active = True
            run.finished = None
            run.error = ""
            run.save()
            run.steps.filter(state=StepState.FAILED).update(
                state=StepState.PENDING, error="", retryable=False, attempts=0
            )
    except IntegrityError as exc:
        raise RunBusy(f"{run.site} already has another run in progress.") from exc
    transaction.on_commit(lambda: tasks.advance_run.delay(run.pk))
    return run


def cancel_run(run: Run) -> None:
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.is_terminal:
            return
        run.status = RunStatus.CANCELLED
        run.active = False
        run.finished = timezone.now()
        run.save()
        run_finished.send(sender=Run, run=run)
