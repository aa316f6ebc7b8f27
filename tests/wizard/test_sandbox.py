"""The wizard against the sandboxes: "Use the sandbox", Test connection through the real clients,
the VNet read from ARM, and the review plan compared with what a real run then creates."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from tests.wizard.conftest import step_url
from wizard.forms import pretty_fingerprint
from wizard.models import Run, RunKind, RunStatus, Site
from wizard.plan import build_plan

HTMX = {"HX-Request": "true"}


@pytest.fixture
def sandbox_draft(alice, sandboxes, settings):
    """A draft filled by the "Use the sandbox" button, as a newcomer would start."""
    sandboxes.write_connection_file(settings.S2SVPN_SANDBOX_DIR / "connection.json")
    response = alice.post(
        reverse("wizard:new"), {"action": "sandbox", "name": "Sandbox home", "slug": "sbx"}
    )
    site = Site.objects.get(slug="sbx")
    assert response["Location"] == step_url(site, "site")
    return site


def site_form(site: Site, **changes) -> dict:
    data = {
        "name": site.name,
        "slug": site.slug,
        "azure_auth": site.azure_auth,
        "subscription_id": site.subscription_id,
        "resource_group": site.resource_group,
        "location": site.location,
        "arm_base_url": site.arm_base_url,
        "arm_ca_bundle": site.arm_ca_bundle,
        "pfsense_url": site.pfsense_url,
        "pfsense_tls": "ca",
        "pfsense_ca_bundle": site.pfsense_ca_bundle,
    }
    data.update(changes)
    return data


def test_test_azure_connection_lists_the_sandbox_vnets(alice, sandbox_draft):
    response = alice.post(
        step_url(sandbox_draft, "site"),
        site_form(sandbox_draft, action="test_azure"),
        headers=HTMX,
    )
    html = response.content.decode()
    assert "Works." in html and "vnet-hub" in html


def test_test_pfsense_connection_runs_the_preflight(alice, sandbox_draft):
    response = alice.post(
        step_url(sandbox_draft, "site"),
        site_form(sandbox_draft, action="test_pfsense"),
        headers=HTMX,
    )
    html = response.content.decode()
    assert "Works." in html and "Connected to pfSense" in html


def test_test_pfsense_connection_says_exactly_what_failed_with_a_wrong_key(alice, sandbox_draft):
    response = alice.post(
        step_url(sandbox_draft, "site"),
        site_form(sandbox_draft, action="test_pfsense", pfsense_api_key="wrong-key-1234"),
        headers=HTMX,
    )
    html = response.content.decode()
    assert "Failed." in html and "Works." not in html
    assert "wrong-key-1234" not in html
    # the firewall's 401 in the client's words: what to check, and where
    assert "Check the API key, and that KeyAuth is enabled in System &gt; REST API" in html


def test_fetch_fingerprint_shows_the_certificate_and_fills_the_field(
    alice, sandbox_draft, sandboxes
):
    response = alice.post(
        step_url(sandbox_draft, "site"),
        site_form(sandbox_draft, action="fetch_fingerprint"),
        headers=HTMX,
    )
    html = response.content.decode()
    expected = pretty_fingerprint(sandboxes.pfsense.fingerprint)
    assert f"SHA-256 fingerprint {expected}" in html
    assert 'id="f-pfsense_fingerprint" hx-swap-oob="true"' in html
    assert f'value="{expected}"' in html


def test_the_vnet_step_reads_the_vnets_and_proposes_the_canonical_gateway_subnet(
    alice, sandbox_draft
):
    response = alice.post(step_url(sandbox_draft, "site"), site_form(sandbox_draft))
    assert response["Location"] == step_url(sandbox_draft, "vnet")
    html = alice.get(step_url(sandbox_draft, "vnet")).content.decode()
    assert "vnet-hub" in html and "172.16.20.0/24" in html
    assert 'value="172.16.19.224/27"' in html


# --------------------------------------------------------------------------- plan vs run


def wait_for(run: Run, procs, timeout: float = 120) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_terminal:
            return run
        time.sleep(0.2)
    raise AssertionError(
        f"run did not finish: {list(run.steps.values_list('key', 'state', 'message'))}\n"
        f"{procs.log()[-3000:]}"
    )


ARM_KIND = {
    "GatewaySubnet": "subnets",
    "Public IP": "publicIPAddresses",
    "Local network gateway": "localNetworkGateways",
    "Virtual network gateway": "virtualNetworkGateways",
    "Connection": "connections",
}


def arm_inventory(boxes) -> set[tuple[str, str]]:
    out = set()
    for label, seg in ARM_KIND.items():
        for resource in boxes.arm.resources(seg):
            out.add((label, resource["name"]))
    return out


def pf_inventory(config: dict) -> set[tuple[str, str]]:
    out = set()
    for p1 in config["ipsec"]["phase1"]:
        out.add(("IPsec phase 1", p1.get("descr", "")))
    for p2 in config["ipsec"]["phase2"]:
        out.add(("IPsec phase 2 (VTI)", p2.get("descr", "")))
    for iface in config["interfaces"].values():
        out.add(("Interface", iface.get("descr", "")))
    for rule in config["filter"]["rule"]:
        out.add(("Firewall rule", rule.get("descr", "")))
    bgp = (config.get("installedpackages", {}).get("frrbgp") or {}).get("config") or [{}]
    asn = bgp[0].get("asnum") if bgp and bgp[0] else None
    if asn:
        out.add(("FRR BGP", f"AS {asn}"))
    system = config.get("system") or {}
    if system.get("no_apipa_block") is not None:
        out.add(("System setting", "Allow APIPA"))
    if system.get("maxmss_enable") is not None:
        out.add(("System setting", "Maximum MSS"))
    return out


APIPA = {
    "bgp_mode": "apipa",
    "azure_apipa_ip": "169.254.21.2",
    "onprem_apipa_ip": "169.254.21.1",
    "onprem_bgp_ip": "169.254.21.1",
}


@pytest.mark.integration
def test_in_apipa_mode_the_plan_also_lists_exactly_what_the_run_creates(
    fresh_sandboxes, celery_worker
):
    from tests.conftest import make_sandbox_site
    from wizard.runs import start_run

    boxes = fresh_sandboxes
    site = make_sandbox_site(boxes, slug="apipa", **APIPA)
    plan = build_plan(site)
    arm_before, pf_before = arm_inventory(boxes), pf_inventory(boxes.pfsense.snapshot())
    run = wait_for(start_run(site, RunKind.PROVISION), celery_worker)
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.steps.values("key", "error")))
    assert {(o.kind, o.name) for o in plan.azure} == arm_inventory(boxes) - arm_before
    assert {(o.kind, o.name) for o in plan.pfsense} == (
        pf_inventory(boxes.pfsense.snapshot()) - pf_before
    )
    p2 = next(o for o in plan.pfsense if o.kind == "IPsec phase 2 (VTI)")
    assert (p2.values["local"], p2.values["remote"]) == ("169.254.21.1/30", "169.254.21.2")


@pytest.mark.integration
def test_the_plan_lists_exactly_the_objects_the_run_creates_on_both_ends(
    fresh_sandboxes, celery_worker
):
    from tests.conftest import make_sandbox_site
    from wizard.runs import start_run

    boxes = fresh_sandboxes
    site = make_sandbox_site(boxes, slug="plan")
    plan = build_plan(site)
    arm_before, pf_before = arm_inventory(boxes), pf_inventory(boxes.pfsense.snapshot())

    run = wait_for(start_run(site, RunKind.PROVISION), celery_worker)
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.steps.values("key", "error")))

    created_azure = arm_inventory(boxes) - arm_before
    created_pf = pf_inventory(boxes.pfsense.snapshot()) - pf_before
    planned_azure = {(o.kind, o.name) for o in plan.azure if o.action == "create"}
    # system settings are "update"s of the firewall's own settings (Allow APIPA, maximum MSS)
    planned_pf = {(o.kind, o.name) for o in plan.pfsense if o.action in ("create", "update")}
    assert planned_azure == created_azure
    assert planned_pf == created_pf

    # and the key values the plan showed are the ones the ends now hold
    after = {(o.kind, o.name): o.values for o in build_plan(Site.objects.get(pk=site.pk)).objects}
    intent = site.get_intent()
    gateway = next(
        g for g in boxes.arm.resources("virtualNetworkGateways") if g["name"] == intent.gateway_name
    )
    bgp = gateway["properties"]["bgpSettings"]
    planned_gateway = plan.objects[[o.name for o in plan.objects].index(intent.gateway_name)]
    assert planned_gateway.values["BGP IP"] == bgp["bgpPeeringAddress"] == "172.16.19.254"
    assert planned_gateway.values["BGP ASN"] == bgp["asn"]
    pip = next(
        p
        for p in boxes.arm.resources("publicIPAddresses")
        if p["name"] == intent.public_ip_names[0]
    )
    phase1 = next(
        p for p in boxes.pfsense.snapshot()["ipsec"]["phase1"] if p.get("descr") == intent.descr
    )
    assert (
        after[("IPsec phase 1", intent.descr)]["remote gateway"] == pip["properties"]["ipAddress"]
    )
    assert phase1["remote_gateway"] == pip["properties"]["ipAddress"]
    phase2 = next(
        p for p in boxes.pfsense.snapshot()["ipsec"]["phase2"] if p.get("descr") == intent.descr
    )
    planned_p2 = next(o for o in plan.pfsense if o.kind == "IPsec phase 2 (VTI)")
    assert planned_p2.values["local"] == "172.16.19.253/30"
    assert phase2["localid_address"] == "172.16.19.253"
    assert phase2["remoteid_address"] == planned_p2.values["remote"] == "172.16.19.254"
    # a second look after the run says everything is reused, nothing new - from the runs'
    # record, and from reading both ends (what the review page does)
    site = Site.objects.get(pk=site.pk)
    assert {o.action for o in build_plan(site).objects} == {"reuse"}
    live = build_plan(site, live=True)
    assert {(o.kind, o.name): o.action for o in live.objects} == {
        (o.kind, o.name): "reuse" for o in plan.objects
    }, live.notes


def test_test_connection_works_without_javascript_too(alice, sandbox_draft):
    response = alice.post(
        step_url(sandbox_draft, "site"), site_form(sandbox_draft, action="test_azure")
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert '<div id="test-azure"' in html and "Works." in html
