"""Beat → worker → poll, for real: a Celery worker and beat on Redis poll a site that the same
worker provisioned into the sandboxes, and the snapshot appears without anyone calling the poller."""

from __future__ import annotations

import time

import pytest

from monitor.models import Snapshot, Transition
from wizard.models import RunKind, RunStatus
from wizard.runs import start_run

pytestmark = pytest.mark.integration


@pytest.fixture
def fast_beat(monkeypatch, dns, settings):
    """Beat every 2 s, the worker resolving the FQDN through the loopback DNS server."""
    monkeypatch.setenv("S2SVPN_TEST_POLL_INTERVAL", "2")
    monkeypatch.setenv("S2SVPN_DNS_SERVERS", ",".join(settings.S2SVPN_DNS_SERVERS))


def wait_for(check, timeout: float, what: str, procs):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen in {timeout} s\n{procs.log()[-3000:]}")


def test_beat_polls_a_provisioned_site_through_a_real_worker(boxes, fast_beat, celery_worker):
    from tests.conftest import make_sandbox_site

    site = make_sandbox_site(boxes, slug="beat")
    run = start_run(site, RunKind.PROVISION)

    def finished():
        run.refresh_from_db()
        return run if run.is_terminal else None

    wait_for(finished, 120, "provisioning", celery_worker)
    assert run.status == RunStatus.SUCCEEDED, run.error

    snap = wait_for(
        lambda: Snapshot.objects.filter(site=site, verdict="healthy").first(),
        60,
        "a healthy snapshot written by the worker",
        celery_worker,
    )
    assert snap.dns["address"] == "203.0.113.2"
    assert Transition.objects.filter(site=site, dimension="verdict", new="healthy").exists()
    assert "monitor.tasks.poll_all" in celery_worker.log("beat") + celery_worker.log()
