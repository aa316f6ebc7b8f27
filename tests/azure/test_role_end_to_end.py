"""With the ARM sandbox enforcing s2svpn's least-privilege role, the product's own provisioning
run, a monitor cycle and a teardown run succeed (the engine's steps, the poller and the real
clients, as the Celery worker runs them), and the role was really enforced all along; the site
step's "Test connection" works under the role and names, in plain words, an action it lacks."""

from __future__ import annotations

import pytest
from django.urls import reverse

from monitor import poller
from monitor.models import Snapshot
from s2svpn.azure_role import REQUIRED_ACTIONS, role_definition
from s2svpn.intent import CANONICAL
from s2svpn.sandbox.arm import SUBSCRIPTION_ID
from s2svpn.sandbox.runtime import start_sandboxes
from tests.conftest import inventory, make_sandbox_site
from tests.domain.dnsserver import LocalDns
from tests.monitor.sandbox_world import run_to_end
from tests.wizard.conftest import step_url
from tests.wizard.test_sandbox import site_form
from wizard.models import RunKind, RunStatus, Site, SiteStatus

FQDN = "home-s2s.example.net"


@pytest.fixture
def enforced(tmp_path, settings):
    boxes = start_sandboxes(
        tmp_path / "sandboxes",
        profile="fast",
        arm_role=role_definition(SUBSCRIPTION_ID, CANONICAL.resource_group),
    )
    dns = LocalDns()
    settings.S2SVPN_DNS_SERVERS = [dns.start({FQDN: [("A", boxes.world.dns[FQDN], 60)]})]
    settings.S2SVPN_POLL_TIMEOUT = 10
    poller.CLIENTS.clear()
    yield boxes
    dns.stop()
    boxes.stop()


def test_provision_monitor_and_teardown_succeed_under_the_least_privilege_role(db, enforced):
    site = make_sandbox_site(enforced)

    run = run_to_end(site)
    assert run.status == RunStatus.SUCCEEDED, run.error
    site.refresh_from_db()
    assert site.status == SiteStatus.ACTIVE

    poller.run_cycle([site.pk])
    snap = Snapshot.objects.get(site=site)
    assert snap.verdict == "healthy", snap.reason

    run = run_to_end(site, RunKind.TEARDOWN)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert set(inventory(enforced).values()) == {0}

    # Enforced, not merely configured: the run's requests were checked against the role's
    # actions, and the role grants nothing outside its resource group.
    granted = {a.lower() for a in enforced.arm.granted}
    assert granted and granted <= {a.lower() for a in REQUIRED_ACTIONS}
    assert not enforced.arm.role.allows(
        "Microsoft.Network/virtualNetworks/read", f"/subscriptions/{SUBSCRIPTION_ID}"
    )


@pytest.fixture
def sandbox_draft(alice, sandboxes, settings):
    """A draft filled by "Use the sandbox"; the session's ARM sandbox stops enforcing after."""
    sandboxes.write_connection_file(settings.S2SVPN_SANDBOX_DIR / "connection.json")
    alice.post(reverse("wizard:new"), {"action": "sandbox", "name": "Roles", "slug": "roles"})
    yield Site.objects.get(slug="roles")
    sandboxes.arm.enforce_role(None)


def _test_azure(alice, site: Site) -> str:
    form = site_form(site, action="test_azure")
    return alice.post(step_url(site, "site"), form, headers={"HX-Request": "true"}).content.decode()


def test_test_connection_works_under_the_role_and_names_a_missing_action(
    alice, sandboxes, sandbox_draft
):
    role = role_definition(sandbox_draft.subscription_id, sandbox_draft.resource_group)
    sandboxes.arm.enforce_role(role)
    html = _test_azure(alice, sandbox_draft)
    assert "Works." in html and "vnet-hub" in html  # the subscription's list, as far as it reaches

    role["Actions"].remove("Microsoft.Network/virtualNetworks/read")
    sandboxes.arm.enforce_role(role)
    html = _test_azure(alice, sandbox_draft)
    assert "Failed." in html and "Works." not in html
    assert "lacks permission &#x27;Microsoft.Network/virtualNetworks/read&#x27;" in html
