"""Adversarial values through every path that creates or edits a site (the wizard's site step and
step forms, "Use the sandbox", the admin's add and change), then every page: never a 500, never
a stored slug outside the pattern, never unescaped markup. The database refuses what bypasses
the forms."""

from __future__ import annotations

import re

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict
from django.urls import get_resolver

from tests.foundation.test_roles import fill, walk
from tests.wizard.conftest import step_url
from wizard.models import Site
from wizard.validators import SLUG_PATTERN

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
NASTY = [
    "x;$(reboot)",
    "../../etc/passwd",
    SCRIPT,
    "{{ 7*7 }}{% debug %}",
    "' OR 1=1 --",
    "Ünïcödé-名前-🙂",
    "line\nbreak\r\n",
    "nul\x00byte",
    "a" * 500,
    "",
    " ",
    "-leading-hyphen",
    "UPPER_case",
]
STEP_FIELDS = {
    "vnet": ["vnet_name", "gateway_subnet_prefix"],
    "gateway": ["sku", "generation", "azure_asn"],
    "lng": [
        "endpoint",
        "onprem_fqdn",
        "onprem_public_ip",
        "onprem_asn",
        "bgp_mode",
        "onprem_bgp_ip",
    ],
    "connection": ["psk_choice", "psk", "connection_mode", "preset", "dpd_timeout_seconds"],
    "pfsense": ["wan_interface", "lan_prefixes", "firewall_scope", "vti_descr"],
    "nat": ["behind_nat", "ports_forwarded"],
}
SITE_FIELDS = [
    "name",
    "slug",
    "tenant_id",
    "client_id",
    "subscription_id",
    "resource_group",
    "location",
    "arm_base_url",
    "pfsense_url",
    "pfsense_fingerprint",
    "pfsense_ca_bundle",
    "dns_servers",
]


def every_page_answers(client, html_checks=True):
    """GET every non-admin URL for every stored site, and the admin's pages of each site."""
    sites = list(Site.objects.all())
    routes = [(r, n) for r, n in walk(get_resolver().url_patterns) if not n.startswith("admin:")]
    run_ids = {s.pk: str(s.runs.first().pk) if s.runs.exists() else "1" for s in sites}
    for site in sites:
        assert re.match(SLUG_PATTERN, site.slug) and len(site.slug) <= 40, site.slug
        assert len(site.name) <= 80
        values = {"slug": site.slug, "run_id": run_ids[site.pk]}
        urls = [fill(route, values) for route, name in routes if name not in ("logout", "healthz")]
        for step in ("site", "vnet", "gateway", "lng", "connection", "pfsense", "nat", "review"):
            urls.append(step_url(site, step))
        urls += [f"/admin/wizard/site/{site.pk}/change/", "/admin/wizard/site/", "/admin/"]
        for url in urls:
            response = client.get(url)
            assert response.status_code < 500, (url, response.status_code)
            if html_checks and response.get("Content-Type", "").startswith("text/html"):
                assert SCRIPT not in response.content.decode(), url


def test_adversarial_values_through_every_write_path_never_break_a_page(
    alice, draft, sandboxes, quick_live_plan
):
    # the wizard's site step, new and edit
    for value in NASTY:
        for field in SITE_FIELDS:
            data = {
                "name": "Home",
                "slug": "adv",
                "pfsense_url": "https://127.0.0.1:9",
                field: value,
            }
            alice.post("/new/", {**data, "action": "save"})
            alice.post(step_url(draft, "site"), {**data, "slug": draft.slug, "action": "save"})
            alice.post("/new/validate/", {**data, "_field": field})
    # every later step's form
    for step, fields in STEP_FIELDS.items():
        for value in NASTY:
            data = {field: value for field in fields}
            alice.post(step_url(draft, step), data)
            alice.post(f"{step_url(draft, step)}validate/", {**data, "_field": fields[0]})
    # the sandbox shortcut, with a name and slug typed
    for value in NASTY:
        alice.post("/new/", {"action": "sandbox", "name": value, "slug": value})
    # the admin: add and change
    base = {k: v for k, v in model_to_dict(draft).items() if v is not None}
    base.update(intent="{}", pfsense_ids="{}", psk="", client_secret="", pfsense_api_key="")
    for value in NASTY:
        for field in ("name", "slug", "resource_group", "location", "vnet_name", "tenant_id"):
            alice.post("/admin/wizard/site/add/", {**base, "slug": "adm", field: value})
            alice.post(f"/admin/wizard/site/{draft.pk}/change/", {**base, field: value})
    assert Site.objects.exists()
    every_page_answers(alice)


def test_the_sandbox_shortcut_refuses_a_shell_like_slug_with_a_message(alice, sandboxes):
    response = alice.post(
        "/new/", {"action": "sandbox", "name": "x", "slug": "x;$(reboot)"}, follow=True
    )
    page = response.content.decode()
    assert (
        "Cannot use the sandbox" in page and "lower-case letters, digits and single hyphens" in page
    )
    assert not Site.objects.exists()
    long_name = alice.post(
        "/new/", {"action": "sandbox", "name": "n" * 81, "slug": "ok"}, follow=True
    )
    assert "at most 80 characters" in long_name.content.decode()
    assert not Site.objects.exists()


@pytest.mark.parametrize(
    "values",
    [{"slug": "x;$(reboot)"}, {"slug": "Upper"}, {"slug": "s" * 41}, {"name": "n" * 81}],
)
def test_the_database_refuses_what_bypasses_the_forms(values):
    with pytest.raises(IntegrityError), transaction.atomic():
        Site.objects.create(**{"name": "Home", "slug": "home", **values})
