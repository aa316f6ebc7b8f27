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


def test_the_lan_source_fix_shows_the_mode_switch_the_mapping_and_a_fixed_note(db):
    plan = build_plan(_site(db, self_traffic="lan_source"))
    system = _system(plan)
    assert system["Outbound NAT mode"]["change"].startswith("Automatic -> Hybrid")
    assert "only in hybrid or manual mode" in system["Outbound NAT mode"]["why"]
    (mapping,) = [o for o in plan.pfsense if o.kind == "Outbound NAT mapping"]
    assert mapping.name == "s2svpn:home (firewall traffic)"
    assert mapping.values["source"] == "172.16.19.253/32"
    assert mapping.values["destination"] == "172.16.0.0/16"
    assert mapping.values["translation"].startswith("10.0.0.1/32")
    (note,) = [n for n in plan.notes if "inside the VNet" in n]
    assert "sources it from the LAN address 10.0.0.1" in note


def test_apipa_mode_ignores_the_lan_source_choice(db):
    plan = build_plan(_site(db, **APIPA, self_traffic="lan_source"))
    assert not [o for o in plan.pfsense if o.kind == "Outbound NAT mapping"]
    assert "Outbound NAT mode" not in _system(plan)


def test_the_manual_export_tells_how_to_set_the_mapping_and_the_mode(db):
    from s2svpn.manual import config_xml_fragment, gui_instructions

    intent = SiteIntent(self_traffic="lan_source")
    facts = dict(azure_public_ip="198.51.100.20", azure_bgp_ip="172.16.19.254")
    text = gui_instructions(intent, **facts)
    assert "## 4a. Firewall > NAT > Outbound" in text
    assert "choose Hybrid Outbound NAT rule generation" in text
    assert (
        "Source Network or Alias `172.16.19.253` / `32`, Destination Network or Alias "
        "`172.16.0.0` / `16`, Translation Address Network or Alias `10.0.0.1` / `32`" in text
    )
    xml = config_xml_fragment(intent, **facts)
    assert "<mode>hybrid</mode>" in xml and "<target>10.0.0.1</target>" in xml
    assert "<interface>opt1</interface>" in xml
    assert "Firewall > NAT > Outbound" not in gui_instructions(SiteIntent(), **facts)


def test_an_active_active_site_lists_the_mode_once_and_a_mapping_per_tunnel(db):
    plan = build_plan(_site(db, self_traffic="lan_source", active_active=True))
    modes = [o for o in plan.pfsense if o.name == "Outbound NAT mode"]
    mappings = [o for o in plan.pfsense if o.kind == "Outbound NAT mapping"]
    assert len(modes) == 1
    assert [m.name for m in mappings] == [
        "s2svpn:home (firewall traffic)",
        "s2svpn:home#2 (firewall traffic)",
    ]
    assert mappings[0].values["source"] != mappings[1].values["source"]  # each tunnel's own VTI
