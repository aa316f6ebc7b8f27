"""One Azure gateway, several homes (issue #15): a second home in the same VNet adopts the VPN
gateway the first site built and adds only its local network gateway and connection; tearing
down the site that built the gateway keeps the gateway (Azure still lists the other home's
connection) and the other home stays Healthy; tearing down the other home then (the last s2svpn
site out) deletes the gateway, its public IP and the GatewaySubnet that s2svpn built.

Real Celery worker on Redis, the real ARM sandbox and two pfSense sandboxes (one per home, each
behind its own NAT router) in one World."""

from __future__ import annotations

import time

import pytest

from monitor import poller
from monitor.models import Snapshot
from tests.conftest import make_sandbox_site
from tests.integration.test_provisioning import wait_for_run
from tests.offpath.helpers import azure_writes, on_firewall
from wizard.models import RunKind, RunStatus, Site
from wizard.runs import start_run

pytestmark = pytest.mark.integration

GATEWAY = "s2svpn-home-vpngw"
BRANCH = {
    "existing_gateway": GATEWAY,
    "onprem_fqdn": "branch-s2s.example.net",
    "onprem_asn": 65020,
    "onprem_bgp_ip": "10.1.0.1",
    "lan_prefixes": ["10.1.0.0/24"],
}


def healthy(*sites: Site) -> dict[str, str]:
    """Poll until every site is Healthy (Azure's BGP tables are read at Azure's pace)."""
    deadline = time.monotonic() + 30  # a bound for a loaded machine, not a timed assertion
    while True:
        poller.run_cycle([site.pk for site in sites])
        # (a site the worker's own post-run poll holds is left to it: no snapshot yet)
        verdicts = {s.slug: Snapshot.objects.filter(site=s).first() for s in sites}
        if all(snap and snap.verdict == "healthy" for snap in verdicts.values()):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
    return {
        slug: f"{snap.verdict}: {snap.reason}" if snap else "not polled"
        for slug, snap in verdicts.items()
    }


def status_after(site: Site) -> str:
    return healthy(site)[site.slug]


def names(boxes, kind: str) -> set[str]:
    return {r["name"] for r in boxes.arm.resources(kind)}


def test_tearing_down_one_of_two_sites_sharing_a_gateway_keeps_the_gateway_and_the_other_site_healthy(
    fresh_sandboxes, branch_firewall, celery_worker
):
    boxes = fresh_sandboxes
    home = make_sandbox_site(boxes, slug="home")
    run = wait_for_run(start_run(home, RunKind.PROVISION), celery_worker)
    assert run.status == RunStatus.SUCCEEDED, run.error

    # the second home adopts the gateway: nothing but its LNG and connection is written
    branch = on_firewall(make_sandbox_site(boxes, slug="branch", **BRANCH), branch_firewall)
    since = len(boxes.arm.calls)
    run = wait_for_run(start_run(branch, RunKind.PROVISION), celery_worker)
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.steps.values("key", "error")))
    written = {path.rsplit("/", 2)[-2] for _, path in azure_writes(boxes, since)}
    assert written <= {"localNetworkGateways", "connections", "sharedkey", "s2svpn-branch-conn"}
    assert not any(
        "virtualNetworkGateways" in path or "publicIPAddresses" in path or "subnets" in path
        for _, path in azure_writes(boxes, since)
    )
    steps = {s.key: s for s in run.steps.all()}
    assert "adopted" in steps["az_gateway"].message
    assert "az_subnet" not in steps
    assert names(boxes, "virtualNetworkGateways") == {GATEWAY}
    assert names(boxes, "connections") == {"s2svpn-home-conn", "s2svpn-branch-conn"}
    status = healthy(home, branch)
    assert all(verdict.startswith("healthy") for verdict in status.values()), status
    # each status shows its own home's BGP session and prefixes, not the other home's
    for site, peer, theirs in (
        (home, "10.0.0.1", "10.1.0.0/24"),
        (branch, "10.1.0.1", "10.0.0.0/24"),
    ):
        azure = Snapshot.objects.get(site=site).azure
        assert {p["neighbor"] for p in azure["bgp_peers"]} == {peer}
        learned = {r["prefix"] for r in azure["learned_routes"]}
        assert theirs not in learned

    # tear down the site that built the gateway: the gateway, its IP and subnet stay
    run = wait_for_run(start_run(home, RunKind.TEARDOWN), celery_worker)
    assert run.status == RunStatus.SUCCEEDED, run.error
    steps = {s.key: s for s in run.steps.all()}
    assert (
        steps["az_gateway"].message
        == f"VPN gateway {GATEWAY} kept: still used by connection s2svpn-branch-conn"
    )
    assert "kept" in steps["az_pip"].message and "kept" in steps["az_subnet"].message
    assert names(boxes, "virtualNetworkGateways") == {GATEWAY}
    assert names(boxes, "publicIPAddresses") == {"s2svpn-home-pip1"}
    assert "GatewaySubnet" in names(boxes, "subnets")
    assert names(boxes, "connections") == {"s2svpn-branch-conn"}
    assert names(boxes, "localNetworkGateways") == {"s2svpn-branch-lng"}
    assert "s2svpn:branch" in str(branch_firewall.snapshot()["ipsec"])  # left as it was

    status = healthy(branch)
    assert status["branch"].startswith("healthy"), status
    snap = Snapshot.objects.get(site=branch)
    assert not snap.dns.get("error")

    # a re-push of the remaining home reads the adopted gateway's public IP by its id
    run = wait_for_run(start_run(branch, RunKind.PUSH), celery_worker)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert status_after(branch).startswith("healthy")

    # the last s2svpn site out removes what s2svpn built: the adopting home deletes the gateway
    # (tagged for home, whose teardown kept it), its public IP and the GatewaySubnet
    run = wait_for_run(start_run(branch, RunKind.TEARDOWN), celery_worker)
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.steps.values("key", "error")))
    steps = {s.key: s for s in run.steps.all()}
    assert steps["az_gateway"].title == (
        "VPN gateway (adopted: kept unless s2svpn built it and nothing uses it)"
    )
    assert steps["az_gateway"].message == (
        f"VPN gateway {GATEWAY} deleted: built by s2svpn for site home, which was removed "
        "earlier; no connection uses it any more"
    )
    assert steps["az_pip"].message == "public IP deleted (of the VPN gateway deleted above)"
    assert steps["az_subnet"].message == "GatewaySubnet deleted"
    assert names(boxes, "virtualNetworkGateways") == set()
    assert names(boxes, "publicIPAddresses") == set()
    assert "GatewaySubnet" not in names(boxes, "subnets")
    assert names(boxes, "connections") == set() and names(boxes, "localNetworkGateways") == set()
    branch.refresh_from_db()
    assert branch.azure_ids == {}
