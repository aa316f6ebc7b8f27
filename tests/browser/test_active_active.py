"""The wizard's active-active path in a real browser: both tunnels come up against the sandboxes,
the status page shows both, and stopping one instance in the sandbox shows Degraded with one
alert that names it."""

from __future__ import annotations

import re

import pytest

from tests.activeactive.test_provisioning import poll
from tests.browser.conftest import PASSWORD, Shots, login
from tests.browser.test_wizard import home_dns, sandboxes_20s  # noqa: F401
from tests.monitor.conftest import webhook  # noqa: F401
from wizard.models import Run, RunStatus, Site
from wizard.services import azure_client

pytestmark = pytest.mark.browser


def _save(page, next_step: str) -> None:
    page.click(".actions button[value=save]")
    page.wait_for_url(f"**/wizard/{next_step}/")


def test_the_active_active_path_reaches_connected_and_one_stopped_instance_is_degraded(
    page,
    keys,
    owner,
    home_dns,  # noqa: F811
    sandboxes_20s,  # noqa: F811
    celery_worker,
    webhook,  # noqa: F811
):
    shot = Shots("active-active")
    login(page, keys, "owner", PASSWORD)
    page.click("#new-site")
    page.wait_for_url("**/new/")
    page.fill("#id_name", "Home AA")
    page.fill("#id_slug", "home")
    page.click("#use-sandbox")
    page.wait_for_url("**/sites/home/wizard/site/")
    _save(page, "vnet")
    _save(page, "gateway")
    page.check("#id_active_active")
    shot(page, "gateway-active-active")
    _save(page, "lng")
    page.fill("#id_onprem_fqdn", "home-s2s.example.net")
    page.fill("#id_onprem_bgp_ip", "10.0.0.1")
    _save(page, "connection")
    page.click(".actions button[value=save]")
    page.locator("#continue").click()
    page.wait_for_url("**/wizard/pfsense/")
    page.fill("#id_lan_prefixes", "10.0.0.0/24\n192.168.2.0/24")
    _save(page, "nat")
    _save(page, "review")

    # the review shows both tunnels and the Azure address each BGP session uses
    main = page.inner_text("main")
    assert "Fix these first" not in main
    assert "s2svpn:home#2" in main
    assert "172.16.19.228 remote-as 65515" in main and "172.16.19.229 remote-as 65515" in main
    assert "s2svpn-home-pip2" in main  # the second public IP (its cost: tests/activeactive)
    shot(page, "review-two-tunnels")
    page.click("#launch")
    page.wait_for_url(re.compile(r".*/sites/home/runs/\d+/$"))
    page.locator("#run-live[data-status=succeeded]").wait_for(timeout=120_000)
    assert page.text_content("#tunnel-state") == "Connected · BGP Established"
    shot(page, "connected")
    site = Site.objects.get(slug="home")
    assert Run.objects.get(site=site).status == RunStatus.SUCCEEDED

    site.apprise_urls = webhook.url
    site.save()
    assert poll(site, until="healthy").verdict == "healthy"
    page.goto(f"/status/{site.slug}/")
    rows = page.locator("table.instances tr[data-instance]")
    assert rows.count() == 4  # both instances on each end
    text = page.inner_text("#site")
    assert "172.16.19.228" in text and "172.16.19.229" in text
    shot(page, "status-both-tunnels")

    gateway = azure_client(site).get_gateway(site.get_intent())
    stopped = gateway.instances[1].tunnel_ips[0]
    sandboxes_20s.world.stopped_instances.add(stopped)
    assert poll(site, until="degraded").verdict == "degraded"
    page.goto(f"/status/{site.slug}/")
    assert page.text_content(".verdict.big") == "Degraded"
    assert f"instance 1 (public IP {stopped}" in page.inner_text(".reason")
    shot(page, "status-one-instance-stopped")
    assert len(webhook.titles) == 1
