"""The poller against the sandboxes: halves in parallel, per-call deadlines, reused clients."""

from __future__ import annotations

import time

from monitor import poller
from monitor.models import Alert, Snapshot, Transition
from s2svpn.status import TunnelState


def slow_down(boxes, seconds: float) -> None:
    """Every answer of both sandboxes takes ``seconds`` longer (undo: ``del box.handle``)."""
    for box in (boxes.arm, boxes.pfsense):
        original = type(box).handle

        def handle(*args, _original=original, _box=box, **kwargs):
            time.sleep(seconds)
            return _original(_box, *args, **kwargs)

        box.handle = handle


def test_a_half_that_misses_its_deadline_is_unknown_never_down(provisioned, boxes, settings):
    settings.S2SVPN_POLL_TIMEOUT = 0.5
    poller.CLIENTS.clear()
    original = type(boxes.pfsense).handle

    def late(*args, **kwargs):
        time.sleep(1.5)
        return original(boxes.pfsense, *args, **kwargs)

    boxes.pfsense.handle = late
    try:
        reading = poller.poll_sites([provisioned])[0]
        poller.run_cycle([provisioned.pk])  # the same late firewall, stored
    finally:
        del boxes.pfsense.handle
    assert "did not answer within" in reading.pfsense.error
    assert reading.pfsense.tunnel == TunnelState.UNKNOWN
    assert reading.azure.error == "" and reading.azure.tunnel == TunnelState.UP
    snapshot = Snapshot.objects.get(site=provisioned)
    assert snapshot.verdict == "unknown", snapshot.reason
    assert not Transition.objects.filter(site=provisioned, new="down").exists()
    # "we can no longer tell" opens an incident too, and its alert says so, not "Down"
    assert [a.subject for a in Alert.objects.filter(site=provisioned)] == [
        f"[s2svpn] {provisioned.name}: Unknown"
    ]


def test_the_two_halves_are_read_in_parallel(provisioned, boxes, settings):
    settings.S2SVPN_POLL_TIMEOUT = 10
    poller.poll_sites([provisioned])  # warm the clients
    slow_down(boxes, 0.3)
    try:
        started = time.monotonic()
        reading = poller.poll_sites([provisioned])[0]
        elapsed = time.monotonic() - started
        started = time.monotonic()
        poller.CLIENTS.get(provisioned)[0].read_status(provisioned.get_intent())
        azure_alone = time.monotonic() - started
        started = time.monotonic()
        poller.CLIENTS.get(provisioned)[1].read_status(provisioned.get_intent())
        pfsense_alone = time.monotonic() - started
    finally:
        del boxes.arm.handle, boxes.pfsense.handle
    assert reading.azure.error == "" and reading.pfsense.error == ""
    assert elapsed < azure_alone + pfsense_alone


def test_clients_are_reused_between_cycles_and_rebuilt_when_the_site_changes(provisioned):
    first = poller.CLIENTS.get(provisioned)
    assert poller.CLIENTS.get(provisioned) == first
    provisioned.pfsense_url = provisioned.pfsense_url.rstrip("/") + "/"
    assert poller.CLIENTS.get(provisioned)[1] is not first[1]


def test_a_cycle_stores_a_snapshot_per_site(provisioned):
    result = poller.run_cycle()
    assert result.sites == 1
    assert Snapshot.objects.get(site=provisioned).verdict == "healthy"
