"""No Content-Security-Policy violation in a real browser on the wizard, the run progress and the
status pages, while htmx swaps content (live validation, Test connection, polling)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.browser.conftest import PASSWORD, login
from tests.conftest import make_sandbox_site
from wizard.models import RunKind, SiteStatus
from wizard.runs import start_run

pytestmark = pytest.mark.browser

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture
def operator_user(django_user_model):
    user = django_user_model.objects.create_user("olga", "olga@example.net", PASSWORD)
    user.groups.add(Group.objects.get(name="Operator"))
    return user


def test_the_wizard_progress_and_status_pages_report_no_csp_violation(
    live_server, keys, page, operator_user, sandboxes, transactional_db
):
    site = make_sandbox_site(sandboxes)
    Site = type(site)
    Site.objects.filter(pk=site.pk).update(status=SiteStatus.ACTIVE, wizard_step="review")
    run = start_run(site, RunKind.PUSH)
    console: list[str] = []
    page.on(
        "console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None
    )
    page.context.add_init_script(WATCH)
    login(page, keys, "olga", PASSWORD)

    visited = []

    def visit(path: str) -> None:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        visited.append((path, page.evaluate("() => window.__csp")))

    visit(reverse("wizard:step", args=[site.slug, "site"]))
    # htmx: Test connection (with its request indicator) and a live validation of one field
    page.click("button[value=test_azure]")
    page.locator("#test-azure .test-result").wait_for()
    page.fill("#id_resource_group", "not valid.")
    page.locator("#id_location").focus()
    page.locator("#fb-resource_group").wait_for()
    visited.append(("site step after htmx", page.evaluate("() => window.__csp")))
    for step in ("vnet", "gateway", "lng", "connection", "pfsense", "nat", "review"):
        visit(reverse("wizard:step", args=[site.slug, step]))
    visit(reverse("wizard:run", args=[site.slug, run.pk]))
    page.wait_for_timeout(2500)  # two of the progress page's htmx polls
    visited.append(("run page after polling", page.evaluate("() => window.__csp")))
    visit(reverse("monitor:status"))
    visit(reverse("monitor:site", args=[site.slug]))
    visit(reverse("wizard:sites"))
    assert [v for v in visited if v[1]] == [] and console == []


def test_the_admin_pages_report_no_csp_violation(live_server, keys, page, admin_user, sandboxes):
    site = make_sandbox_site(sandboxes)
    page.context.add_init_script(WATCH)
    login(page, keys, "alice", "s3cret-pass!")
    found = {}
    for path in (
        "/admin/",
        "/admin/wizard/site/",
        f"/admin/wizard/site/{site.pk}/change/",
        "/admin/wizard/site/add/",
        "/admin/auth/user/add/",
        f"/admin/auth/user/{admin_user.pk}/change/",
        "/admin/audit/auditevent/",
        "/admin/axes/accessattempt/",
    ):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        found[path] = page.evaluate("() => window.__csp")
    assert {path: v for path, v in found.items() if v} == {}
