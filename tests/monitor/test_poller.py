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


def _record_pfsense(boxes) -> list[str]:
    """Every request the pfSense sandbox answers, as "METHOD path[ vtysh words]"."""
    seen: list[str] = []
    original = type(boxes.pfsense).handle

    def handle(method, path, query, body, headers):
        command = str((body or {}).get("command", "")) if isinstance(body, dict) else ""
        words = " summary" if "summary" in command else " routes" if "routes" in command else ""
        seen.append(f"{method} {path}{words}")
        return original(boxes.pfsense, method, path, query, body, headers)

    boxes.pfsense.handle = handle
    return seen


def test_a_healthy_firewall_is_read_with_two_requests_and_a_change_in_full_at_once(
    provisioned, boxes
):
    """Between two polls of a healthy tunnel only the SAs and FRR's BGP summary are read again;
    the configuration and the BGP tables (same prefix counts) are reused. When the tunnel goes
    down the same poll reads everything again and shows Down."""
    poller.CLIENTS.clear()
    seen = _record_pfsense(boxes)
    try:
        first = poller.poll_sites([provisioned])[0].pfsense
        full = list(seen)
        seen.clear()
        second = poller.poll_sites([provisioned])[0].pfsense
        cheap = list(seen)
        seen.clear()
        with boxes.world.lock:  # Azure's only gateway instance stops: the tunnel goes down
            boxes.world.stopped_instances.update(
                ip for end in boxes.world.azure.values() for ip in end.gateway_public_ips
            )
        down = poller.poll_sites([provisioned])[0].pfsense
        after = list(seen)
    finally:
        del boxes.pfsense.handle
        boxes.world.stopped_instances.clear()
    assert first.tunnel == TunnelState.UP and first.learned_routes, first
    assert len(full) >= 6, full  # phase 1 and 2, FRR settings, SAs, summary, both tables
    assert sorted(cheap) == [
        "GET /api/v2/status/ipsec/sas",
        "POST /api/v2/diagnostics/command_prompt summary",
    ]
    assert (second.tunnel, second.bgp_peers) == (first.tunnel, first.bgp_peers)
    assert (second.learned_routes, second.advertised_routes) == (
        first.learned_routes,
        first.advertised_routes,
    )
    assert second.details == first.details
    assert down.tunnel == TunnelState.DOWN, down
    assert any("phase1" in request for request in after), after  # read again, in full
