"""A fresh sandbox subscription with no VNet (issue #15): the wizard proposes a new VNet and its
resource group, the review plans both, the run creates them and reaches Connected, and teardown
removes exactly what s2svpn created (a resource group that was there before stays)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import PASSWORD, Shots, login, published, save_and_go
from wizard.models import Run, RunKind, RunStatus, Site, SiteStatus

pytestmark = pytest.mark.browser


@pytest.fixture
def empty_sandboxes(tmp_path, settings):
    """The sandboxes started as ``manage.py sandbox --empty``: a subscription without the
    canonical resource group and VNet; only someone else's empty group ``rg-keep`` exists."""
    from s2svpn.sandbox.runtime import start_sandboxes

    boxes = start_sandboxes(tmp_path / "sandboxes", profile="fast", gateway_seconds=3, seed=False)
    boxes.arm.seed_resource_group("rg-keep")
    with published(boxes, settings):
        yield boxes
        boxes.stop()


def test_a_fresh_subscription_gets_a_group_and_vnet_reaches_connected_and_is_torn_down(
    page, keys, owner, empty_sandboxes, celery_worker
):
    shot = Shots("fresh-subscription")
    arm = empty_sandboxes.arm
    assert arm.resource_groups() == ["rg-keep"] and arm.resources() == []
    login(page, keys, "owner", PASSWORD)

    # 0. site: the sandbox
    keys.press_on("#new-site")
    page.wait_for_url("**/new/")
    keys.type_into("#id_name", "Fresh")
    keys.type_into("#id_slug", "fresh")
    keys.press_on("#use-sandbox")
    page.wait_for_url("**/sites/fresh/wizard/site/")
    keys.press_on("button[value=test_azure]")
    page.locator("#test-azure .test-result.ok").wait_for()
    assert "0 virtual network(s): none. The next step offers to create one." in page.inner_text(
        "#test-azure"
    )
    save_and_go(page, keys, "vnet")

    # 1. no VNet in the subscription: a new one is proposed, with its resource group
    assert page.locator("#no-vnets").is_visible()
    assert page.is_checked("input[name=vnet_choice][value=new]")
    assert page.input_value("#id_new_vnet_name") == "vnet-hub"
    assert page.input_value("#id_new_resource_group") == "rg-home-s2s"
    assert "does not exist yet: s2svpn creates it" in page.inner_text("#rg-state")
    assert page.input_value("#id_new_vnet_prefixes") == "10.1.0.0/16"  # not the home LAN
    assert page.input_value("#id_gateway_subnet_prefix") == "10.1.255.224/27"
    shot(page, "vnet-new-proposed")
    save_and_go(page, keys, "gateway")

    # 2.-6. the canonical answers
    save_and_go(page, keys, "lng")
    keys.type_into("#id_onprem_fqdn", "home-s2s.example.net")
    keys.type_into("#id_onprem_bgp_ip", "10.0.0.1")
    page.keyboard.press("Tab")
    save_and_go(page, keys, "connection")
    keys.press_on(".actions button[value=save]")
    page.locator("#psk-value").wait_for()
    keys.press_on("#continue")
    page.wait_for_url("**/wizard/pfsense/")
    keys.type_into("#id_lan_prefixes", "10.0.0.0/24\n192.168.2.0/24")
    save_and_go(page, keys, "nat")
    save_and_go(page, keys, "review")

    # 7. review: the resource group and the VNet are planned
    main = page.inner_text("main")
    assert "Fix these first" not in main
    assert "Resource group" in main and "rg-home-s2s" in main
    assert "Virtual network" in main and "10.1.0.0/16" in main
    shot(page, "review-creates-group-and-vnet")
    site = Site.objects.get(slug="fresh")
    intent = site.get_intent()
    assert intent.create_vnet and intent.vnet_prefixes == ("10.1.0.0/16",)
    keys.press_on("#launch")
    page.wait_for_url(re.compile(r".*/sites/fresh/runs/\d+/$"))
    page.locator("#run-live[data-status=succeeded]").wait_for(timeout=150_000)
    assert page.text_content("#tunnel-state") == "Connected · BGP Established"
    shot(page, "connected")
    run = Run.objects.get(site=site, kind=RunKind.PROVISION)
    said = {s.key: s.message for s in run.steps.all()}
    assert said["az_rg"] == "resource group rg-home-s2s created in westeurope"
    assert said["az_vnet"] == "VNet vnet-hub (10.1.0.0/16) created"
    assert arm.resource_groups() == ["rg-home-s2s", "rg-keep"]
    (vnet,) = arm.resources("virtualNetworks")
    assert vnet["properties"]["addressSpace"]["addressPrefixes"] == ["10.1.0.0/16"]

    # teardown: exactly what s2svpn created goes; the group that was there stays
    keys.press_on("#run-teardown")
    page.wait_for_url("**/teardown/")
    created = page.inner_text("#teardown-created")
    assert "vnet-hub" in created and "rg-home-s2s" in created
    keys.tab_to("#id_confirm")
    page.keyboard.press("Space")
    keys.press_on("button.danger[type=submit]")
    page.wait_for_url(re.compile(r".*/sites/fresh/runs/\d+/$"))
    page.locator("#run-live[data-status=succeeded]").wait_for(timeout=120_000)
    shot(page, "torn-down")
    teardown = Run.objects.get(site=site, kind=RunKind.TEARDOWN)
    assert teardown.status == RunStatus.SUCCEEDED
    said = {s.key: s.message for s in teardown.steps.all()}
    assert said["az_vnet"] == "VNet vnet-hub deleted"
    assert said["az_rg"] == "resource group rg-home-s2s deleted"
    site.refresh_from_db()
    assert site.status == SiteStatus.REMOVED
    assert arm.resource_groups() == ["rg-keep"]
    assert arm.resources() == []
    steps = {s.key: s for s in run.steps.all()}
    print(
        f"\nFIGURES fresh subscription (fast profile, gateway 3 s): launch->connected="
        f"{(steps['verify'].finished - run.created).total_seconds():.1f}s, resource group + VNet "
        f"{(steps['az_vnet'].finished - steps['az_rg'].started).total_seconds():.2f}s, teardown "
        f"{(teardown.finished - teardown.created).total_seconds():.1f}s"
    )
