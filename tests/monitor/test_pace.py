"""The monitor at Azure's pace (#17), at compressed time against the ARM sandbox: BGP reads that
answer 202 + Retry-After and finish later than a poll's budget, BGP reads that never finish, and
ARM throttling (token buckets, 429 + retry-after-ms) with a burst of someone else's reads."""

from __future__ import annotations

import time

import pytest

from monitor import pace, poller
from monitor.models import Snapshot
from s2svpn.sandbox.arm.throttle import ThrottleLimits
from tests.conftest import make_sandbox_site
from wizard.models import SiteStatus

POLL_TIMEOUT = 1.5  # a poll call's budget in these tests
SCALE = 0.15  # the real profile's 30 s BGP reads take 4.5 s, its Retry-After 10 s 1.5 s
INTERVAL = 5.0


@pytest.fixture
def real_pace(provisioned, boxes, settings):
    """The provisioned site, then Azure's pace: BGP reads 3x slower than a poll's budget, polled
    at Retry-After (the real profile's 10 s and 30 s, compressed 20 times)."""
    settings.S2SVPN_POLL_TIMEOUT = POLL_TIMEOUT
    settings.S2SVPN_POLL_INTERVAL = INTERVAL
    settings.S2SVPN_BGP_CADENCE = 60
    settings.S2SVPN_BGP_RECHECK = 0.2
    boxes.arm.timing.time_scale = SCALE
    boxes.arm.timing.bgp_read_seconds = 3 * POLL_TIMEOUT / SCALE  # 30 s: 4.5 s at this scale
    boxes.arm.timing.bgp_retry_after = 10.0
    poller.CLIENTS.clear()
    return provisioned


def _azure(site) -> dict:
    return Snapshot.objects.get(site=site).azure


def _next_cycle(started: float, interval: float = INTERVAL) -> None:
    time.sleep(max(0.0, started + interval - time.monotonic()))


def test_slow_bgp_reads_reach_the_status_page_within_two_cycles(real_pace, alice):
    site = real_pace
    started = time.monotonic()
    poller.run_cycle()
    first = _azure(site)
    assert first["tunnel"] == "up" and not first["error"], first
    assert not first["bgp_peers"], "the BGP reads were started, not waited for"
    assert "bgp_pending_since" in first["details"]
    # no Azure BGP tables yet is pending, not a BGP problem (a cold start takes minutes)
    snapshot = Snapshot.objects.get(site=site)
    assert snapshot.verdict == "healthy", snapshot.reason
    assert snapshot.states["bgp_azure"] == "pending"
    assert "Not read yet" in alice.get(f"/status/{site.slug}/").content.decode()

    _next_cycle(started)
    poller.run_cycle()
    second = _azure(site)
    assert [p["state"] for p in second["bgp_peers"]] == ["established"]
    assert second["learned_routes"], "the learned routes came with the peers"
    assert second["details"]["bgp_read_at"]

    page = alice.get("/status/").content.decode()
    assert "bgp-age" in page and "s ago" in page, "the BGP data shows when it was read"

    poller.run_cycle()  # BGP not due again: the last known tables stay, with their age
    third = _azure(site)
    assert third["bgp_peers"] == second["bgp_peers"]
    assert third["details"]["bgp_read_at"] == second["details"]["bgp_read_at"]


def test_a_bgp_read_that_never_finishes_keeps_the_tunnel_state_and_bytes(
    real_pace, boxes, settings
):
    site = real_pace
    settings.S2SVPN_BGP_DEADLINE = 2.0  # a started read given up after 2 s
    settings.S2SVPN_BGP_CADENCE = 0.1
    boxes.arm.timing.bgp_read_seconds = 3600 / SCALE  # every BGP read now runs an hour
    for _ in range(3):
        started = time.monotonic()
        poller.run_cycle()
        _next_cycle(started, 2.5)
    azure = _azure(site)
    assert azure["tunnel"] == "up" and not azure["error"], azure["error"]
    assert azure["bytes_in"] is not None and azure["bytes_out"] is not None
    assert "in time" in azure["details"].get("bgp_error", ""), azure["details"]
    assert Snapshot.objects.get(site=site).states["tunnel_azure"] == "up"


def test_a_429_burst_is_absorbed_without_losing_a_cycles_tunnel_states(
    real_pace, boxes, alice, settings
):
    sites = [real_pace]
    for n in range(1, 6):
        extra = make_sandbox_site(boxes, slug=f"home-{n}")
        extra.status = SiteStatus.ACTIVE
        extra.azure_ids = real_pace.azure_ids
        extra.intent = dict(real_pace.intent)  # the same Azure connection, read again
        extra.save()
        sites.append(extra)
    settings.S2SVPN_POLL_TIMEOUT = 10  # a call may wait out a few Retry-Afters
    boxes.arm.throttle.limits = ThrottleLimits(reads=(2, 0.6))  # 2 tokens, 4 a second here
    boxes.arm.throttle.enabled = True
    before = pace.counters()["throttled"]
    subscription = boxes.connection_info()["subscription_id"]
    for _ in range(4):  # someone else empties the read bucket just before the cycle
        boxes.arm.throttle.take(subscription.lower(), "GET")
    refused = boxes.arm.throttle.throttled
    result = poller.run_cycle()
    assert result.sites == len(sites)
    assert boxes.arm.throttle.throttled > refused, "ARM answered the monitor 429s"
    assert pace.counters()["throttled"] > before, "and the monitor counted them"
    for site in sites:
        azure = _azure(site)
        assert azure["tunnel"] == "up" and not azure["error"], (site.slug, azure["error"])
    page = alice.get("/status/").content.decode()
    assert "× 429 from Azure" in page
