"""Off the canonical path in the browser (issue #15): what a person sees when the firewall and the
site disagree, and when one firewall serves several sites."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.browser.conftest import PASSWORD, Shots, login
from tests.conftest import make_sandbox_site
from tests.offpath.helpers import azure_writes, draft_at_review, firewall_runs_bgp_as
from wizard.models import Run

pytestmark = pytest.mark.browser


def test_a_conflict_is_shown_on_the_review_and_launch_stays_disabled(
    page, keys, owner, fresh_sandboxes
):
    shot = Shots("off-path-conflict")
    site = draft_at_review(make_sandbox_site(fresh_sandboxes, slug="second", onprem_asn=4200000001))
    firewall_runs_bgp_as(site, 65010)
    calls = len(fresh_sandboxes.arm.calls)
    login(page, keys, "owner", PASSWORD)

    page.goto(reverse("wizard:step", args=[site.slug, "review"]))
    frr_conflict = page.locator(".plan-table p.conflict", has_text="AS 65010")
    frr_conflict.wait_for()
    assert (
        "FRR on this pfSense already runs BGP as AS 65010, but the site uses AS 4200000001"
        in frr_conflict.inner_text()
    )
    # next to its object: the conflict row follows the FRR BGP row
    row = page.locator(".plan-table tr", has=page.locator("th", has_text="FRR BGP"))
    assert "conflict" in row.inner_text()
    assert "AS 65010" in page.locator(".problems").inner_text()
    assert page.locator("#launch").is_disabled()
    shot(page, "review-conflict")

    # a launch forced past the disabled button is refused by the server too
    page.evaluate("document.querySelector('#launch').disabled = false")
    page.locator("#launch").click()
    page.wait_for_url(f"**{reverse('wizard:step', args=[site.slug, 'review'])}")
    assert "Fix the problems" in page.content()
    assert not Run.objects.filter(site=site).exists()
    assert azure_writes(fresh_sandboxes, calls) == []
