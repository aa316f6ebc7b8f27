"""The status pages in a real browser (headless Chromium via Playwright), against a site
provisioned into the sandboxes and polled through the real clients. Screenshots go to artifacts/.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from monitor import poller
from monitor.models import Snapshot
from tests.conftest import ARTIFACTS
from tests.monitor.conftest import boxes, dns, home, provisioned, webhook  # noqa: F401  # noqa: F401
from tests.monitor.test_acceptance import _policy_trap

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_page(chromium, live_server, admin_user, client):
    """A page of the session's Chromium (tests/browser/conftest.py) logged in as the admin: a
    second sync_playwright in the same session would fail once another browser test ran."""
    client.force_login(admin_user)
    session = client.cookies["sessionid"].value
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    yield context.new_page()
    context.close()


def test_the_status_and_site_pages_show_verdict_peers_and_routes(
    transactional_db,
    live_server,
    provisioned,  # noqa: F811 - the fixture imported above
    boxes,  # noqa: F811
    browser_page,
    settings,
):
    ARTIFACTS.mkdir(exist_ok=True)
    # Azure's BGP tables on every poll (normally every S2SVPN_BGP_CADENCE, or when the connection
    # status changes): the policy trap below changes routes, not the tunnel
    settings.S2SVPN_BGP_CADENCE = 0
    poller.run_cycle([provisioned.pk])
    assert Snapshot.objects.get(site=provisioned).verdict == "healthy"
    page = browser_page

    page.goto(f"{live_server.url}/status/")
    card = page.locator(f'article[data-site="{provisioned.slug}"]')
    assert card.locator(".verdict").inner_text() == "Healthy"
    assert "Established" in card.locator("table.halves").inner_text()
    assert card.locator("svg.timeline rect.s-healthy").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "status-healthy.png"), full_page=True)

    page.click(f'article[data-site="{provisioned.slug}"] h2 a')
    page.wait_for_url(f"**/status/{provisioned.slug}/")
    text = page.inner_text("#site")
    assert "10.0.0.1 (AS 65010)" in text and "172.16.19.254 (AS 65515)" in text
    routes = page.locator("table.routes")
    assert routes.count() == 2
    assert "10.0.0.0/24" in routes.nth(0).inner_text()
    assert "192.168.2.0/24" in routes.nth(0).inner_text()
    assert "172.16.0.0/16" in routes.nth(1).inner_text()
    assert page.locator("tr.r-missing").count() == 0
    page.screenshot(path=str(ARTIFACTS / "status-site-healthy.png"), full_page=True)

    # The open site page picks up the next poll by itself (htmx, every 10 s), no reload.
    _policy_trap(provisioned, boxes)
    poller.run_cycle([provisioned.pk])
    # (a locator wait: a string predicate would be eval'd in the page, which the CSP forbids)
    expect(page.locator(".verdict.big")).to_have_text("Degraded", timeout=20_000)
    assert "eBGP policy trap" in page.inner_text(".findings")
    assert page.locator("tr.r-missing").count() == 3
    assert page.locator("button", has_text="Re-push pfSense").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "status-site-policy-trap.png"), full_page=True)

    page.goto(f"{live_server.url}/status/")
    assert (
        page.locator(f'article[data-site="{provisioned.slug}"] .verdict').inner_text() == "Degraded"
    )
    page.screenshot(path=str(ARTIFACTS / "status-degraded.png"), full_page=True)
