"""A canonical site provisioned for real into a fresh pair of sandboxes, plus a loopback DNS.

``provision(site)`` runs the wizard's provisioning run in-process (the same engine steps the
Celery worker runs: ``engine.advance`` / ``engine.execute``) until it ends.
"""

from __future__ import annotations

import time

from django.db import transaction

from wizard import engine, runs
from wizard.models import Run, RunKind, Site


def drive(run: Run, *, limit: float = 60.0) -> Run:
    """Advance a run until it is terminal, executing each step here (no worker)."""
    deadline = time.monotonic() + limit
    pending: list[int] = []
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_terminal:
            return run
        pending.extend(engine.advance(run.pk))
        if not pending:
            # steps waiting for a re-check: run them again
            pending.extend(
                run.steps.filter(state__in=["waiting", "queued", "running"]).values_list(
                    "pk", flat=True
                )
            )
            time.sleep(0.05)
        while pending:
            step_id = pending.pop(0)
            outcome, seconds, _run_id = engine.execute(step_id)
            if outcome == "recheck":
                time.sleep(min(seconds or 0.05, 0.2))
                pending.append(step_id)
            elif outcome == "advance":
                break
    raise AssertionError(f"run {run.pk} did not finish within {limit} s: {run.status}")


def run_to_end(site: Site, kind: str = RunKind.PROVISION) -> Run:
    with transaction.atomic():
        run = runs.start_run(site, kind)
    return drive(run)
