"""The step functions of each run kind (filled in as the clients land)."""

from __future__ import annotations

from wizard.engine import StepSpec
from wizard.models import Run, Site


def provision_plan(site: Site) -> list[StepSpec]:
    return []


def teardown_plan(site: Site) -> list[StepSpec]:
    return []


def push_plan(site: Site) -> list[StepSpec]:
    return []


def on_run_finished(run: Run) -> None:
    """Called inside the transaction that finishes a run."""
