"""After teardown (issue #15): the run log says what happened ("created", "deleted"), and the
site's status page says "removed on <date>" with its history kept, not the last verdict."""

from __future__ import annotations

import pytest

from monitor import poller
from tests.monitor.sandbox_world import run_to_end
from wizard.models import RunKind, RunStatus

pytestmark = pytest.mark.django_db


def messages(run) -> dict[str, str]:
    return {step.key: step.message for step in run.steps.all()}


def test_the_run_logs_say_created_and_deleted_and_the_status_page_says_removed(
    alice, fresh_sandboxes, settings
):
    from tests.conftest import make_sandbox_site

    fresh_sandboxes.arm.timing.other_seconds = 0.3  # so the subnet is still being created at first
    site = make_sandbox_site(fresh_sandboxes, slug="gone")
    run = run_to_end(site)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert messages(run)["az_subnet"] == "GatewaySubnet 172.16.19.224/27 created"
    poller.run_cycle([site.pk])

    teardown = run_to_end(site, RunKind.TEARDOWN)
    assert teardown.status == RunStatus.SUCCEEDED, teardown.error
    said = messages(teardown)
    assert "already gone" not in " ".join(said.values()), said
    assert any(m.endswith(" deleted") for m in said.values())

    site.refresh_from_db()
    page = alice.get(f"/status/{site.slug}/").content.decode()
    assert "Removed on " in page and "the history below is kept" in page
    assert 'data-verdict="removed"' in page and 'data-verdict="healthy"' not in page
