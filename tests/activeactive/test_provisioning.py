"""An active-active site, provisioned for real into a fresh pair of sandboxes: both instances'
tunnels and BGP sessions come up from s2svpn's own push, in both BGP addressing modes."""

from __future__ import annotations

import pytest

from monitor import poller
from tests.monitor.sandbox_world import run_to_end
from wizard.models import RunKind, RunStatus, Site
from wizard.services import azure_client, pfsense_client

APIPA = {
    "bgp_mode": "apipa",
    "azure_apipa_ip": "169.254.21.2",
    "onprem_apipa_ip": "169.254.21.1",
    "onprem_bgp_ip": "169.254.21.1",
}


def provision(boxes, settings, **overrides) -> Site:
    from tests.conftest import make_sandbox_site

    settings.S2SVPN_POLL_TIMEOUT = 10
    poller.CLIENTS.clear()
    site = make_sandbox_site(boxes, **{"active_active": True, **overrides})
    run = run_to_end(site)
    assert run.status == RunStatus.SUCCEEDED, run.error
    site.refresh_from_db()
    return site


@pytest.mark.parametrize(
    "overrides, azure_bgp",
    [({}, ["172.16.19.228", "172.16.19.229"]), (APIPA, ["169.254.21.2", "169.254.21.6"])],
    ids=["default-bgp", "apipa"],
)
def test_both_instances_get_a_tunnel_and_an_established_session(
    db, boxes, dns, settings, overrides, azure_bgp
):
    site = provision(boxes, settings, **overrides)
    intent = site.get_intent()
    pf = pfsense_client(site)
    gateway = azure_client(site).get_gateway(intent)
    public_ips = [i.tunnel_ips[0] for i in gateway.instances]

    phase1s = [pf.find_phase1(descr=d) for d in ("s2svpn:home", "s2svpn:home#2")]
    assert [p["remote_gateway"] for p in phase1s] == public_ips
    neighbors = {p.neighbor: p for p in pf.bgp_summary()}
    assert sorted(neighbors) == azure_bgp
    assert all(p.state == "established" and p.prefixes_received for p in neighbors.values())

    peers = azure_client(site).bgp_peer_status(intent)  # one row per instance
    assert sorted(p.local_address for p in peers) == azure_bgp
    assert all(p.state == "established" and p.prefixes_received == 2 for p in peers)
    learned = azure_client(site).learned_routes(intent)
    assert {"10.0.0.0/24", "192.168.2.0/24"} <= {r.prefix for r in learned if r.next_hop}


def test_teardown_removes_both_tunnels(db, boxes, dns, settings):
    site = provision(boxes, settings)
    run = run_to_end(site, RunKind.TEARDOWN)
    assert run.status == RunStatus.SUCCEEDED, run.error
    pf = pfsense_client(site)
    assert pf.find_phase1(descr="s2svpn:home") is None
    assert pf.find_phase1(descr="s2svpn:home#2") is None
    assert pf.read_frr_sections()["frrbgpneighbors"] == []


def poll(site: Site, until: str | None = None):
    """One poll cycle, or up to six until the verdict is ``until``: the monitor reads Azure's BGP
    tables at Azure's pace (started in one cycle, collected in a later one)."""
    import time

    from monitor.models import Snapshot

    for _ in range(6 if until else 1):
        poller.run_cycle([site.pk])
        snap = Snapshot.objects.filter(site=site).first()
        if until is None or (snap is not None and snap.verdict == until):
            break
        time.sleep(0.3)
    return snap


def test_one_stopped_instance_is_degraded_with_one_alert_naming_it(
    db, boxes, dns, settings, webhook, alice
):
    site = provision(boxes, settings)
    site.apprise_urls = webhook.url
    site.save()
    snap = poll(site, until="healthy")
    assert snap.verdict == "healthy", snap.reason
    page = alice.get(f"/status/{site.slug}/").content.decode()
    assert "172.16.19.228" in page and "172.16.19.229" in page

    gateway = azure_client(site).get_gateway(site.get_intent())
    second_ip = gateway.instances[1].tunnel_ips[0]
    boxes.world.stopped_instances.add(second_ip)  # Azure maintains instance 1
    snap = poll(site, until="degraded")
    assert snap.verdict == "degraded", snap.reason
    assert f"instance 1 (public IP {second_ip}, BGP 172.16.19.229)" in snap.reason
    assert "Azure's tunnel is down" in snap.reason
    instances = snap.azure["details"]["instances"]
    assert [i["tunnel"] for i in instances] == ["up", "down"]
    assert "instance 0" not in snap.reason
    poll(site)  # still degraded: no second alert
    assert len(webhook.titles) == 1 and "egraded" in webhook.titles[0]

    boxes.world.stopped_instances.clear()
    assert poll(site, until="healthy").verdict == "healthy"


def test_the_firewall_traffic_fix_is_pushed_for_both_tunnels_and_torn_down(
    db, boxes, dns, settings
):
    """Issue 13 fact 8 through a whole provisioning run: one mapping per tunnel (each sourced
    from its own VTI address), outbound NAT switched to hybrid so pf uses them; teardown gives
    automatic mode back."""
    site = provision(boxes, settings, self_traffic="lan_source")
    rules = boxes.pfsense.effective_outbound_nat()
    assert sorted((r["descr"], r["destination"], r["translation"]) for r in rules) == [
        ("s2svpn:home (firewall traffic)", "172.16.0.0/16", "10.0.0.1/32"),
        ("s2svpn:home#2 (firewall traffic)", "172.16.0.0/16", "10.0.0.1/32"),
    ]
    assert len({r["source"] for r in rules}) == 2 and len({r["port"] for r in rules}) == 2
    assert boxes.pfsense.snapshot()["nat"]["outbound"]["mode"] == "hybrid"

    run = run_to_end(site, RunKind.TEARDOWN)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert boxes.pfsense.snapshot()["nat"]["outbound"] == {"mode": "automatic", "rule": []}
    assert boxes.pfsense.effective_outbound_nat() == []
