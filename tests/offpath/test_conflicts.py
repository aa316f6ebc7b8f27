"""Conflicts before money: a firewall that cannot take the site stops the run before anything is
created (or billed) in Azure, with the message a person can act on, and no traceback in the log."""

from __future__ import annotations

import pytest

from tests.conftest import make_sandbox_site
from tests.monitor.sandbox_world import run_to_end
from tests.offpath.helpers import azure_writes, firewall_runs_bgp_as
from wizard.models import RunStatus, StepState

pytestmark = pytest.mark.django_db


def test_a_run_checks_pfsense_before_its_first_azure_write(fresh_sandboxes):
    site = make_sandbox_site(fresh_sandboxes, slug="second", onprem_asn=4200000001)
    firewall_runs_bgp_as(site, 65010)
    calls = len(fresh_sandboxes.arm.calls)

    run = run_to_end(site)

    assert run.status == RunStatus.FAILED
    assert (
        "already runs BGP as AS 65010" in run.error and "nothing was created in Azure" in run.error
    )
    assert azure_writes(fresh_sandboxes, calls) == []
    check = run.steps.get(key="pf_check")
    assert check.state == StepState.FAILED and not check.retryable
    assert run.steps.filter(end="azure").exclude(state=StepState.PENDING).count() == 0
    lines = " ".join(line["m"] for step in run.steps.all() for line in step.log)
    assert "Traceback" not in lines and 'File "' not in lines


def test_a_step_that_crashes_logs_no_traceback_for_the_user(sandbox_site, monkeypatch, caplog):
    from wizard import steps

    def crash(ctx):
        raise KeyError("boom")

    monkeypatch.setattr(steps.preconditions, "check", crash)
    run = run_to_end(sandbox_site)
    assert run.status == RunStatus.ERRORED
    step = run.steps.get(key="pf_check")
    assert step.error.startswith("Internal error in step")
    assert [line["m"] for line in step.log] == [
        "Internal error; the details are in the server log."
    ]
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)
