"""One push at a time per firewall (issue #15): two sites on one pfSense, provisioned together by
a real Celery worker, write to the firewall one whole push after the other, never interleaved,
and both end Connected."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection

from s2svpn.sandbox.pfsense_state import Fault
from tests.conftest import make_sandbox_site
from tests.integration.test_provisioning import wait_for_run
from tests.offpath.test_two_sites import FIRST, SECOND
from wizard.models import FirewallLease, RunKind, RunStatus, StepState
from wizard.runs import start_run

pytestmark = pytest.mark.integration

# The command_prompt commands that only read (s2svpn.sandbox.pfsense_commands._command_kind);
# every other command, and every POST/PATCH/PUT/DELETE elsewhere, changes the firewall.
READ_COMMANDS = ("frr_read", "system_read", "vtysh")


def record_writes(pfsense) -> list[dict]:
    """Every request that changes the sandbox pfSense, in the order it arrived, with who held the
    firewall's lease at that moment and the request itself (to tell whose it is by content)."""
    writes: list[dict] = []
    original = type(pfsense).handle
    guard = threading.Lock()

    def handle(method, path, query, body, headers):
        is_write = method in ("POST", "PATCH", "PUT", "DELETE")
        if path == "/api/v2/diagnostics/command_prompt" and isinstance(body, dict):
            is_write = pfsense._command_kind(str(body.get("command", ""))) not in READ_COMMANDS
        if is_write:
            try:
                holder = ",".join(FirewallLease.objects.values_list("holder", flat=True))
            finally:
                connection.close()  # this sandbox thread's own connection
            with guard:
                writes.append({"holder": holder, "request": f"{method} {path} {json.dumps(body)}"})
        return original(pfsense, method, path, query, body, headers)

    pfsense.handle = handle
    return writes


def two_sites(boxes):
    """Two sites on the sandbox pfSense (APIPA, 32-bit ASN), the second in a VNet of its own."""
    # Each gateway takes a few seconds: a run waits for Azure between its phase 1 and its phase 2,
    # the gap where another push would slip in if the firewall were held per step.
    boxes.arm.timing.gateway_seconds = 4.0
    boxes.arm.seed_vnet(
        "rg-home-s2s", "vnet-branch", "westeurope", ["172.17.0.0/16"], [("apps", "172.17.1.0/24")]
    )
    home = make_sandbox_site(boxes, slug="home", **FIRST)
    branch = make_sandbox_site(boxes, slug="branch", **SECOND)
    branch.vnet_name = "vnet-branch"
    branch.save(update_fields=["vnet_name"])
    return home, branch


def waited_for(run, site) -> bool:
    """Some step of ``run`` waited because ``site``'s push held the firewall."""
    wanted = f"another push to this firewall (site {site.name}) is in progress"
    return any(wanted in line["m"] for step in run.steps.all() for line in step.log)


def test_two_sites_provisioned_together_write_to_their_firewall_one_push_after_the_other(
    fresh_sandboxes, celery_worker
):
    boxes = fresh_sandboxes
    home, branch = two_sites(boxes)
    writes = record_writes(boxes.pfsense)

    run_home = start_run(home, RunKind.PROVISION)
    run_branch = start_run(branch, RunKind.PROVISION)
    run_home = wait_for_run(run_home, celery_worker, timeout=180)
    run_branch = wait_for_run(run_branch, celery_worker, timeout=180)

    for run in (run_home, run_branch):
        assert run.status == RunStatus.SUCCEEDED, (
            run.error,
            list(run.steps.values_list("key", "state", "message")),
        )
    holders = {f"run{run_home.pk}": "home", f"run{run_branch.pk}": "branch"}

    # Every write happened while a run held the firewall, and the holders form two blocks: one
    # whole push, then the other (no write of one run between two writes of the other).
    owners = [
        next((site for run, site in holders.items() if w["holder"].startswith(run + "/")), None)
        for w in writes
    ]
    assert None not in owners, [w for w, o in zip(writes, owners, strict=True) if o is None]
    blocks = [owner for i, owner in enumerate(owners) if i == 0 or owners[i - 1] != owner]
    assert sorted(blocks) == ["branch", "home"], blocks

    # The holder recorded is the run that really wrote: writes that name a site's own objects
    # (its VTI, its APIPA peer) were made while that site's run held the firewall.
    marks = {"home": ('"AZUREVTI"', "169.254.21.2"), "branch": ("AZUREVTI2", "169.254.21.6")}
    for write, owner in zip(writes, owners, strict=True):
        other = "branch" if owner == "home" else "home"
        assert not any(mark in write["request"] for mark in marks[other]), (owner, write)
    for site, site_marks in marks.items():
        assert any(
            mark in w["request"]
            for w, o in zip(writes, owners, strict=True)
            if o == site
            for mark in site_marks
        ), f"no write of {site} names its own objects"

    # The run that went second waited, and said for whom.
    first, second = (home, run_branch) if blocks[0] == "home" else (branch, run_home)
    assert waited_for(second, first), "the second push waited for the first"
    assert list(FirewallLease.objects.values_list("holder", flat=True)) == [""]


def test_a_push_that_fails_lets_go_of_the_firewall_and_the_waiting_one_finishes(
    fresh_sandboxes, celery_worker
):
    boxes = fresh_sandboxes
    home, branch = two_sites(boxes)
    # The first push to write its firewall rule is refused (a validation error: permanent), so it
    # rolls back to its checkpoint and fails; the other push waits for it, then goes ahead.
    boxes.pfsense.faults.fail_at["POST /api/v2/firewall/rule"] = Fault(code=400, times=1)

    runs = [start_run(home, RunKind.PROVISION), start_run(branch, RunKind.PROVISION)]
    runs = [wait_for_run(run, celery_worker, timeout=180) for run in runs]

    failed = [run for run in runs if run.status == RunStatus.FAILED]
    succeeded = [run for run in runs if run.status == RunStatus.SUCCEEDED]
    assert len(failed) == len(succeeded) == 1, [(r.site.slug, r.status, r.error) for r in runs]
    assert failed[0].steps.get(key="pf_rest").state == StepState.FAILED
    assert waited_for(succeeded[0], failed[0].site), "the second push waited for the first"
    # The failed push's rollback restored only its own checkpoint: the other site's objects stay.
    ok = succeeded[0].site.get_intent()
    config = boxes.pfsense.snapshot()
    assert ok.vti_descr in json.dumps(config.get("interfaces"))
    assert list(FirewallLease.objects.values_list("holder", flat=True)) == [""]
