"""The wizard in lab mode: a user goes through the wizard with the keyboard, launches, and the run
reaches Connected with BGP Established — judged by real strongSwan and FRR in network namespaces
(``start_sandboxes(..., lab=True)``), not by the sandboxes' own rules.

The sandboxes answer the run's and the monitor's reads from the LabWorld, which asks the daemons
(IKE/child SAs over vici, BGP peers and prefixes over vtysh); this test checks those answers
against the daemons themselves, then stops the real bgpd and watches the answers follow.
Reference: ../shared/reference/lab/README.md. Screenshots: artifacts/wizard-lab/.
"""

from __future__ import annotations

import re
import signal

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from s2svpn.lab.harness import wait_for
from s2svpn.sandbox.world import evaluate
from tests.browser.conftest import PASSWORD, Shots, login
from tests.browser.lab_fixtures import lab_sandboxes, lab_trace, report  # noqa: F401
from tests.browser.test_wizard import home_dns  # noqa: F401
from wizard.models import Run, RunStatus, Site, SiteStatus

pytestmark = [pytest.mark.browser, pytest.mark.lab]

HOME_PREFIXES = {"10.0.0.0/24", "192.168.2.0/24"}
AZURE_PEER = "172.16.19.254"
HOME_PEER = "10.0.0.1"
FROM_PEER = "show bgp ipv4 unicast neighbors"  # + "<peer> routes json": what FRR accepted


@pytest.fixture
def worker_dns(home_dns, monkeypatch):  # noqa: F811
    """The worker (a subprocess, so no ``settings`` override reaches it) asks the same DNS
    server as the wizard, so the monitor resolves the DDNS name like the run did."""
    monkeypatch.setenv("S2SVPN_DNS_SERVERS", home_dns.address)
    return home_dns


def save_and_expect(page, keys, next_step: str) -> None:
    keys.press_on(".actions button[value=save]")
    page.wait_for_url(f"**/wizard/{next_step}/")


def complete_the_wizard_for_the_canonical_scenario(page, keys, shot) -> None:
    """The keyboard flow of test_wizard.py, without its detours (PSK copy, step logs)."""
    keys.press_on("#new-site")
    page.wait_for_url("**/new/")
    keys.type_into("#id_name", "Home lab")
    keys.type_into("#id_slug", "home")
    keys.press_on("#use-sandbox")
    page.wait_for_url("**/sites/home/wizard/site/")
    keys.press_on("button[value=test_azure]")
    page.locator("#test-azure .test-result.ok").wait_for()
    keys.press_on("button[value=test_pfsense]")
    page.locator("#test-pfsense .test-result.ok").wait_for()
    shot(page, "step0-site-sandbox")
    save_and_expect(page, keys, "vnet")
    assert page.input_value("#id_gateway_subnet_prefix") == "172.16.19.224/27"
    save_and_expect(page, keys, "gateway")
    keys.tab_to("#id_sku_0")
    page.keyboard.press("Space")
    save_and_expect(page, keys, "lng")
    keys.type_into("#id_onprem_fqdn", "home-s2s.example.net")
    keys.type_into("#id_onprem_bgp_ip", "10.0.0.1")
    page.keyboard.press("Tab")
    page.locator("#fb-onprem_fqdn .ok").wait_for()
    save_and_expect(page, keys, "connection")
    keys.press_on(".actions button[value=save]")
    page.locator("#psk-value").wait_for()
    keys.press_on("#continue")
    page.wait_for_url("**/wizard/pfsense/")
    keys.type_into("#id_lan_prefixes", "10.0.0.0/24\n192.168.2.0/24")
    save_and_expect(page, keys, "nat")
    save_and_expect(page, keys, "review")
    assert "Fix these first" not in page.inner_text("main")
    shot(page, "step7-review")


def poll_now_and_wait(page, keys, shot, verdict: str) -> None:
    """Press the site page's Poll now (the worker polls through the sandboxes) and wait until
    the verdict the page shows satisfies ``verdict`` (a JS comparison)."""
    keys.press_on("#site form[action$='/poll/'] button")
    page.wait_for_url("**/status/home/")
    try:
        page.wait_for_function(
            f"() => document.querySelector('.verdict.big').dataset.verdict {verdict}",
            timeout=60_000,
        )
    except PlaywrightTimeout:
        shot(page, "poll-timed-out")
        raise AssertionError(
            f"the monitor's verdict never became {verdict}: {page.inner_text('#site .reason')}"
        ) from None


def test_in_lab_mode_the_wizard_reaches_connected_with_bgp_read_from_the_real_frr(
    lab_sandboxes,  # noqa: F811 - first, so a lab that cannot run skips before anything starts
    lab_trace,  # noqa: F811
    page,
    keys,
    owner,
    worker_dns,
    celery_worker,
    report,  # noqa: F811
):
    world = lab_sandboxes.world
    shot = Shots("wizard-lab")
    login(page, keys, "owner", PASSWORD)
    complete_the_wizard_for_the_canonical_scenario(page, keys, shot)

    keys.press_on("#launch")
    page.wait_for_url(re.compile(r".*/sites/home/runs/\d+/$"))
    site = Site.objects.get(slug="home")
    run = Run.objects.get(site=site)
    page.locator("#step-pf_phase1[data-state=done]").wait_for(timeout=60_000)
    shot(page, "progress-phase1")
    page.locator("#run-live:not([data-status=pending]):not([data-status=running])").wait_for(
        timeout=240_000
    )
    shot(page, "progress-connected")
    run.refresh_from_db()
    steps = {s.key: s for s in run.steps.all()}
    assert run.status == RunStatus.SUCCEEDED, [(s.key, s.state, s.error) for s in steps.values()]
    assert page.text_content("#tunnel-state") == "Connected · BGP Established"
    site.refresh_from_db()
    assert site.status == SiteStatus.ACTIVE
    launch_to_connected = (steps["verify"].finished - run.created).total_seconds()
    gateway_to_connected = (steps["verify"].finished - steps["az_gateway"].finished).total_seconds()
    report(
        f"\nFIGURES lab mode, gateway=2s: launch->Connected={launch_to_connected:.1f}s "
        f"(az_gateway done -> verify done {gateway_to_connected:.1f}s; steps done at "
        + ", ".join(
            f"{s.key} +{(s.finished - run.created).total_seconds():.1f}s" for s in steps.values()
        )
        + ")"
    )

    # What the run saw is what the real daemons say: the lab that runs is the one the wizard
    # provisioned, its charons hold the SAs, its FRRs the session and the prefixes.
    lab = world.lab
    assert lab is not None and world.plan is not None
    same_psk = world.plan.pfsense.psk == site.psk  # rendered from what the wizard pushed
    assert same_psk, "the lab runs a pre-shared key other than the one the wizard generated"
    assert set(steps["verify"].data["advertised_to_azure"]) == HOME_PREFIXES
    real_children = {}
    for node in ("az", "onprem"):
        sas = [sa for sa in lab.list_sas(node) if sa["state"] == "ESTABLISHED"]
        children = [c for sa in sas for c in sa["child-sas"].values() if c["state"] == "INSTALLED"]
        assert children, f"no installed child SA in the lab's {node} charon"
        real_children[node] = children[0]
    real_azure_routes = set(lab.vtysh_json("az", f"{FROM_PEER} {HOME_PEER} routes json")["routes"])
    assert real_azure_routes == HOME_PREFIXES
    real_pf_peer = lab.vtysh_json("onprem", f"show bgp neighbors {AZURE_PEER} json")[AZURE_PEER]
    assert real_pf_peer["bgpState"] == "Established"
    real_pf_routes = set(
        lab.vtysh_json("onprem", f"{FROM_PEER} {AZURE_PEER} routes json")["routes"]
    )
    assert real_pf_routes == {"172.16.0.0/16"}
    (seen,) = world.view()  # what the sandboxes answer from
    assert set(seen.azure_learned) == real_azure_routes
    assert set(seen.pfsense_learned) == real_pf_routes
    assert seen.negotiated["child_sa"]["encr-alg"] == real_children["az"]["encr-alg"]
    assert real_children["onprem"]["encr-alg"] == real_children["az"]["encr-alg"] == "AES_GCM_16"

    # The monitor polls through the sandboxes' normal endpoints (a real worker) and shows them.
    page.goto("/status/home/")
    poll_now_and_wait(page, keys, shot, "=== 'healthy'")
    routes = page.locator("table.routes")
    for prefix in HOME_PREFIXES:
        assert prefix in routes.nth(0).inner_text()
    assert page.locator("tr.r-missing").count() == 0
    shot(page, "status-healthy-from-the-lab")

    # The proof of origin: stop the real bgpd on the pfSense end. The model (the sandboxes' own
    # rules) still believes in the session; the answers follow the daemons.
    lab.procs["onprem/bgpd"].send_signal(signal.SIGTERM)
    view = wait_for(
        lambda: next((v for v in world.view() if v.bgp_pfsense_state != "Established"), None),
        30,
        interval=0.2,
        what="the lab's answer to notice that bgpd stopped",
    )
    with world.lock:
        (model,) = [m for m in evaluate(world) if m.azure_key == view.azure_key]
    assert model.bgp_pfsense_state == "Established" and set(model.azure_learned) == HOME_PREFIXES
    assert view.pfsense_learned == () and view.azure_learned == ()
    assert view.ike_up and view.child_up  # charon is untouched
    poll_now_and_wait(page, keys, shot, "!== 'healthy'")
    shot(page, "status-after-the-real-bgpd-stopped")

    # Nothing of the lab survives the sandboxes.
    lab_sandboxes.stop()
    assert lab_trace.prefixes, "the lab-mode sandboxes never built a lab"
    namespaces, processes = lab_trace.leftovers()
    assert namespaces == [] and processes == []
