"""Acceptance against the sandboxes: the canonical site is Healthy; each injected fault shows its
diagnosis on the status page, records a transition and sends exactly one alert to a real webhook;
recovery sends exactly one recovery alert.

Every reading goes through the real clients (azure-mgmt-network over HTTPS to the ARM sandbox,
httpx to the pfSense sandbox) and the real DNS check against a DNS server on loopback.
"""

from __future__ import annotations

import pytest

from monitor import poller
from monitor.models import Snapshot, Transition
from tests.monitor.conftest import FQDN
from tests.monitor.sandbox_world import run_to_end
from wizard.models import RunKind, RunStatus, Site
from wizard.services import azure_client, pfsense_client


@pytest.fixture(autouse=True)
def unpaced_bgp_starts(settings):
    """These tests poll a few cycles within a second: the monitor's ARM write budget (5/s, and a
    BGP read costs 3 POSTs) would hold back a re-read that real polls, a minute apart, always get.
    Pacing itself is tested in test_pace.py."""
    settings.S2SVPN_ARM_WRITES_PER_S = 1000.0


def poll(site: Site) -> Snapshot:
    poller.run_cycle([site.pk])
    return Snapshot.objects.get(site=site)


def test_the_canonical_site_is_healthy_with_both_peers_and_both_route_tables(
    provisioned, alice, webhook
):
    snap = poll(provisioned)
    assert snap.verdict == "healthy", snap.reason
    body = alice.get("/status/").content.decode()
    assert 'data-verdict="healthy"' in body
    page = alice.get(f"/status/{provisioned.slug}/").content.decode()
    assert "10.0.0.1 (AS 65010)" in page  # Azure's peer: pfSense
    assert "172.16.19.254 (AS 65515)" in page  # pfSense's peer: Azure
    assert page.count('<span class="pill s-healthy">ok</span>') == 3
    assert "missing</span>" not in page
    assert webhook.bodies == []


def poll_until_healthy(site: Site, cycles: int = 3) -> Snapshot:
    """A repaired tunnel comes back within a few cycles (IKE, then BGP, then routes)."""
    for _ in range(cycles):
        snap = poll(site)
        if snap.verdict == "healthy":
            return snap
    raise AssertionError(f"still {snap.verdict} after {cycles} cycles: {snap.reason}")


def _set_azure_key(site: Site, key: str) -> None:
    azure_client(site).set_shared_key(site.get_intent(), key)


def _policy_trap(site: Site, boxes) -> None:
    pf = pfsense_client(site)
    sections = pf.read_frr_sections()
    advanced = sections.get("frrbgpadvanced") or {}
    advanced["disableebgprequirepolicy"] = ""
    sections["frrbgpadvanced"] = advanced
    pf.write_frr(sections)
    pf.frr_generate_config()


def _repush(site: Site, boxes) -> None:
    run = run_to_end(site, RunKind.PUSH)
    assert run.status == RunStatus.SUCCEEDED, run.error


def _move_fqdn(dns, boxes, address):
    boxes.world.dns[FQDN] = address
    dns.set_records({FQDN: [("A", address, 60)]})


FAULTS = {
    "psk changed on one end": (
        lambda site, boxes, dns: _set_azure_key(site, "AnotherKeyEntirely0123456789abcdef"),
        lambda site, boxes, dns: _set_azure_key(site, str(site.psk)),
        {"down": "Authentication fails: the pre-shared keys differ"},
    ),
    "the ebgp policy trap": (
        lambda site, boxes, dns: _policy_trap(site, boxes),
        lambda site, boxes, dns: _repush(site, boxes),
        {"degraded": "FRR&#x27;s eBGP policy trap"},
    ),
    "the fqdn moved to another address": (
        lambda site, boxes, dns: _move_fqdn(dns, boxes, "198.51.100.77"),
        lambda site, boxes, dns: _move_fqdn(dns, boxes, "203.0.113.2"),
        # pfSense identifies itself by the DDNS name: once the sandbox re-reads it, Azure rejects
        # the identity and the tunnel drops; until then it keeps running on the cached address.
        {
            "degraded": "The FQDN no longer points at the tunnel&#x27;s address",
            "down": "The FQDN moved: Azure&#x27;s DNS cache",
        },
    ),
    "frr stopped": (
        lambda site, boxes, dns: setattr(boxes.pfsense.faults, "frr_running", False),
        lambda site, boxes, dns: setattr(boxes.pfsense.faults, "frr_running", True),
        {"degraded": "FRR (bgpd) is not running on pfSense"},
    ),
    "the rest package gone": (
        lambda site, boxes, dns: setattr(boxes.pfsense.faults, "rest_package_missing", True),
        lambda site, boxes, dns: setattr(boxes.pfsense.faults, "rest_package_missing", False),
        {"unknown": "pfSense&#x27;s REST API package is missing"},
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_is_diagnosed_recorded_alerted_once_and_recovers_once(
    fault, provisioned, boxes, dns, alice, webhook, mailoutbox
):
    inject, repair, expected = FAULTS[fault]
    assert poll(provisioned).verdict == "healthy"

    inject(provisioned, boxes, dns)
    snap = poll(provisioned)
    assert snap.verdict in expected, snap.reason
    verdict, text = snap.verdict, expected[snap.verdict]
    poll(provisioned)  # the same incident: nothing more is sent
    page = alice.get(f"/status/{provisioned.slug}/").content.decode()
    assert text in page
    card = alice.get("/status/").content.decode()
    assert text in card  # the card names the cause too
    assert Transition.objects.filter(
        site=provisioned, dimension="verdict", old="healthy", new=verdict
    ).exists()
    assert len(webhook.bodies) == 1, webhook.titles
    assert webhook.titles[0].endswith(verdict.capitalize())

    repair(provisioned, boxes, dns)
    snap = poll_until_healthy(provisioned)
    poll(provisioned)
    assert webhook.titles[1:] == [f"[s2svpn] {provisioned.name}: recovered — Healthy"]
    assert len(mailoutbox) == 2


def test_the_reset_gateway_task_makes_azure_resolve_the_moved_fqdn(provisioned, boxes, dns, alice):
    from monitor.tasks import reset_gateway

    assert poll(provisioned).verdict == "healthy"
    _move_fqdn(dns, boxes, "198.51.100.77")
    assert poll(provisioned).verdict in ("degraded", "down")
    assert reset_gateway(provisioned.pk) == "reset started"
    snap = poll(provisioned)
    assert snap.verdict == "down", snap.reason
    # the reset made Azure resolve the name again: it now talks to the (wrong) new address
    assert set(boxes.world.resolved.values()) == {"198.51.100.77"}
    codes = [f["code"] for f in snap.findings]
    assert "dns_cache" in codes
    page = alice.get(f"/status/{provisioned.slug}/").content.decode()
    assert "Reset gateway</button>" in page
    _move_fqdn(dns, boxes, "203.0.113.2")  # the DDNS client catches up
    poll_until_healthy(provisioned)
