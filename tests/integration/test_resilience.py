"""Runs survive a killed worker, flaky Azure answers, and stop cleanly on a permanent error."""

from __future__ import annotations

import time

import pytest

from tests.conftest import inventory, make_sandbox_site, slow_down
from tests.integration.test_provisioning import wait_for_run
from wizard.models import RunKind, RunStatus, Step, StepState
from wizard.runs import start_run

pytestmark = pytest.mark.integration

ONE_OF_EACH = {
    "gateway_subnet": 1,
    "public_ip": 1,
    "gateway": 1,
    "local_gateway": 1,
    "connection": 1,
    "phase1": 1,
    "phase2": 1,
    "vti_interface": 1,
    "rule": 1,
    "bgp_neighbor": 1,
}
PROVISION_STEPS = [
    "az_subnet",
    "az_pip",
    "az_lng",
    "az_gateway",
    "pf_preflight",
    "pf_phase1",
    "pf_rest",
    "az_connection",
    "az_psk",
    "verify",
]


def wait_until_running(run, key: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Step.objects.filter(run=run, key=key, state=StepState.RUNNING).exists():
            return
        time.sleep(0.01)
    raise AssertionError(f"step {key} never ran: {list(run.steps.values_list('key', 'state'))}")


@pytest.mark.parametrize("key", PROVISION_STEPS)
def test_killing_the_worker_while_a_step_is_in_flight_costs_only_a_recheck(
    key, fresh_sandboxes, celery_worker
):
    slow_down(fresh_sandboxes, 0.25)  # every answer takes a while: the step stays in flight
    site = make_sandbox_site(fresh_sandboxes)
    run = start_run(site, RunKind.PROVISION)
    wait_until_running(run, key)
    celery_worker.kill()  # SIGKILL: no ack, no cleanup
    assert Step.objects.get(run=run, key=key).state == StepState.RUNNING
    celery_worker.start()
    run = wait_for_run(run, celery_worker, timeout=120)
    assert run.status == RunStatus.SUCCEEDED, (run.error, celery_worker.log()[-3000:])
    assert inventory(fresh_sandboxes) == ONE_OF_EACH
    assert Step.objects.get(run=run, key=key).attempts >= 2


def test_a_run_completes_when_a_fifth_of_azure_answers_are_429_or_500(
    fresh_sandboxes, celery_worker
):
    faults = fresh_sandboxes.arm.faults
    faults.rate_429, faults.rate_500, faults.seed = 0.1, 0.1, 7
    site = make_sandbox_site(fresh_sandboxes)
    run = wait_for_run(start_run(site, RunKind.PROVISION), celery_worker, timeout=180)
    assert run.status == RunStatus.SUCCEEDED, (
        run.error,
        list(run.steps.values("key", "state", "error")),
    )
    assert inventory(fresh_sandboxes) == ONE_OF_EACH
    faults.rate_429 = faults.rate_500 = 0.0


def test_a_permanent_error_stops_the_run_as_failed_with_azures_message(
    fresh_sandboxes, celery_worker
):
    # The wizard would refuse 65520 on the Azure side; the sandbox (Azure) refuses it too.
    site = make_sandbox_site(fresh_sandboxes, azure_asn=65520)
    run = wait_for_run(start_run(site, RunKind.PROVISION), celery_worker)
    assert run.status == RunStatus.FAILED
    gateway = Step.objects.get(run=run, key="az_gateway")
    assert gateway.state == StepState.FAILED
    assert gateway.attempts == 1, "a permanent error is not retried"
    assert "65520" in gateway.error and "reserved" in gateway.error.lower()
    assert not gateway.retryable
    assert run.error == gateway.error


def test_teardown_after_a_completed_run_removes_everything_s2svpn_created(
    fresh_sandboxes, celery_worker
):
    site = make_sandbox_site(fresh_sandboxes)
    assert wait_for_run(start_run(site, RunKind.PROVISION), celery_worker).status == "succeeded"
    before = fresh_sandboxes.pfsense.snapshot()
    assert before["ipsec"]["phase1"]
    run = wait_for_run(start_run(site, RunKind.TEARDOWN), celery_worker)
    assert run.status == RunStatus.SUCCEEDED, (
        run.error,
        list(run.steps.values("key", "state", "error")),
    )
    assert inventory(fresh_sandboxes) == dict.fromkeys(ONE_OF_EACH, 0)
    arm = fresh_sandboxes.arm
    assert [r["name"] for r in arm.resources("subnets")] == ["workload"]
    assert not arm.resources("publicIPAddresses")
    after = fresh_sandboxes.pfsense.snapshot()
    assert after["filter"]["rule"][0]["descr"] == "Default allow LAN to any rule"
    assert len(after["filter"]["rule"]) == 1
    site.refresh_from_db()
    assert site.status == "removed"
    assert site.azure_ids == {}


# ------------------------------------------------------------------ heartbeats, not leases

# Production pace (heartbeat 2 s, dead after 10 s, re-check slack 5 s, beat every 10 s) with a
# lease far longer than the test: only the heartbeat and the database can bring the run back.
PRODUCTION_PACE = {"S2SVPN_STEP_LEASE": "600", "S2SVPN_RESUME_INTERVAL": "10"}


def gateway_ready(boxes) -> bool:
    return any(
        g["properties"].get("provisioningState") == "Succeeded"
        for g in boxes.arm.resources("virtualNetworkGateways")
    )


def wait_until_building(run, procs, timeout: float = 60) -> None:
    """Until the gateway step waits for Azure (its re-check is a countdown message)."""
    deadline = time.monotonic() + timeout
    while not Step.objects.filter(run=run, key="az_gateway", state=StepState.WAITING).exists():
        assert time.monotonic() < deadline, procs.log()[-2000:]
        time.sleep(0.05)


def finish_noting_the_gateway(run, boxes, procs, timeout: float = 150) -> tuple[float, float]:
    """Wait for the run to end; return (when the gateway was ready, when the run ended)."""
    deadline = time.monotonic() + timeout
    ready_at = None
    while time.monotonic() < deadline:
        if ready_at is None and gateway_ready(boxes):
            ready_at = time.monotonic()
        run.refresh_from_db()
        if run.is_terminal:
            return ready_at or time.monotonic(), time.monotonic()
        time.sleep(0.2)
    steps = list(run.steps.values_list("key", "state", "message"))
    raise AssertionError(f"run did not finish: {steps}\n{procs.log()[-3000:]}")


@pytest.mark.parametrize("celery_env", [PRODUCTION_PACE])
def test_a_worker_killed_while_the_gateway_builds_is_replaced_without_waiting_for_the_lease(
    celery_env, fresh_sandboxes, celery_worker
):
    fresh_sandboxes.arm.timing.gateway_seconds = 8.0
    site = make_sandbox_site(fresh_sandboxes)
    run = start_run(site, RunKind.PROVISION)
    wait_until_building(run, celery_worker)
    celery_worker.kill()  # SIGKILL: the gateway's re-check message dies with it
    celery_worker.start()  # a new worker at once
    ready_at, ended_at = finish_noting_the_gateway(run, fresh_sandboxes, celery_worker)
    assert run.status == RunStatus.SUCCEEDED, (run.error, celery_worker.log()[-3000:])
    assert inventory(fresh_sandboxes) == ONE_OF_EACH
    print(f"\nrun finished {ended_at - ready_at:.1f} s after the gateway was ready (worker killed)")


@pytest.mark.parametrize("celery_env", [{**PRODUCTION_PACE, "S2SVPN_RESUME_INTERVAL": "2"}])
def test_a_step_whose_worker_stops_beating_is_sent_again_long_before_its_lease_ends(
    celery_env, fresh_sandboxes, celery_worker
):
    from s2svpn.models import WorkerBeat

    slow_down(fresh_sandboxes, 1.0)  # every answer takes a second: the step stays in flight
    site = make_sandbox_site(fresh_sandboxes)
    run = start_run(site, RunKind.PROVISION)
    wait_until_running(run, "az_subnet")
    step = Step.objects.get(run=run, key="az_subnet")
    deadline = time.monotonic() + 10
    while not any(step.pk in row.holding for row in WorkerBeat.objects.all()):
        assert time.monotonic() < deadline, "the worker's heartbeat lists the step it executes"
        time.sleep(0.1)
    celery_worker.kill()  # the step stays RUNNING with a 600 s lease
    for box in (fresh_sandboxes.arm, fresh_sandboxes.pfsense):
        del box.handle  # answers at full speed again
    celery_worker.start()
    run = wait_for_run(run, celery_worker, timeout=120)  # far less than the lease
    assert run.status == RunStatus.SUCCEEDED, (run.error, celery_worker.log()[-3000:])
    assert inventory(fresh_sandboxes) == ONE_OF_EACH
    assert Step.objects.get(pk=step.pk).attempts >= 2
