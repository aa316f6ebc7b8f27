"""The review shows what issue 13 changes on pfSense before anything is written: the system
settings with their reason, and the firewall-originated traffic note in default BGP mode."""

from __future__ import annotations

from s2svpn.intent import SiteIntent
from wizard.models import Site
from wizard.plan import build_plan

APIPA = dict(
    bgp_mode="apipa",
    azure_apipa_ip="169.254.21.2",
    onprem_apipa_ip="169.254.21.1",
    onprem_bgp_ip="169.254.21.1",
)


def _site(db, **intent) -> Site:
    return Site.objects.create(
        name="Home", slug="home", intent={**SiteIntent().to_dict(), **intent, "slug": "home"}
    )


def _system(plan) -> dict[str, dict]:
    return {o.name: o.values for o in plan.pfsense if o.kind == "System setting"}


def test_apipa_mode_plans_allow_apipa_with_its_reason(db):
    plan = build_plan(_site(db, **APIPA))
    system = _system(plan)
    assert system["Allow APIPA"]["change"] == "switch on"
    assert "169.254.0.0/16" in system["Allow APIPA"]["why"]
    assert system["Maximum MSS"]["value"].startswith("1350")
    assert not any("inside the VNet" in note for note in plan.notes)


def test_default_mode_explains_firewall_originated_traffic_and_needs_no_allow_apipa(db):
    plan = build_plan(_site(db))
    assert set(_system(plan)) == {"Maximum MSS"}
    (note,) = [n for n in plan.notes if "inside the VNet" in n]
    assert "172.16.19.253" in note and "APIPA" in note
    interface = next(o for o in plan.pfsense if o.kind == "Interface")
    assert "MSS clamp" not in interface.values  # the clamp lives in IPsec Advanced now
