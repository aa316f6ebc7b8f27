"""The review plan of an active-active site: both tunnels, and which Azure address each BGP
session uses; the cost has the second public IP."""

from __future__ import annotations

from s2svpn import activeactive
from s2svpn.intent import SiteIntent
from wizard.models import Site
from wizard.plan import build_plan


def _site(db, **intent) -> Site:
    return Site.objects.create(
        name="Home", slug="home", intent={**SiteIntent().to_dict(), **intent, "slug": "home"}
    )


def _values(plan, kind: str) -> list[tuple[str, dict]]:
    return [(o.name, o.values) for o in plan.objects if o.kind == kind]


def test_the_plan_shows_both_tunnels_and_each_sessions_azure_address(db):
    plan = build_plan(_site(db, active_active=True))
    phase1s = _values(plan, "IPsec phase 1")
    assert [name for name, _ in phase1s] == ["s2svpn:home", "s2svpn:home#2"]
    vtis = dict(_values(plan, "IPsec phase 2 (VTI)"))
    assert vtis["s2svpn:home"]["remote"] == "172.16.19.228"
    assert vtis["s2svpn:home"]["local"] == "172.16.19.254/32"
    assert vtis["s2svpn:home#2"]["remote"] == "172.16.19.229"
    neighbors = [v["neighbor"] for _, v in _values(plan, "FRR BGP")]
    assert neighbors == ["172.16.19.228 remote-as 65515", "172.16.19.229 remote-as 65515"]
    assert {v["timers"] for _, v in _values(plan, "FRR BGP")} == {
        "keepalive 10 s, hold 30 s (failover within the hold time)"
    }
    (gateway,) = [v for _, v in _values(plan, "Virtual network gateway")]
    assert gateway["BGP IP"] == "172.16.19.228 (instance 0), 172.16.19.229 (instance 1)"
    assert [name for name, _ in _values(plan, "Public IP")] == [
        "s2svpn-home-pip1",
        "s2svpn-home-pip2",
    ]
    assert ("2 Standard public IP(s) (x $0.005/h)", 7.3) in plan.cost_lines


def test_in_apipa_mode_each_instance_has_its_own_custom_address(db):
    plan = build_plan(
        _site(
            db,
            active_active=True,
            bgp_mode="apipa",
            azure_apipa_ip="169.254.21.2",
            onprem_apipa_ip="169.254.21.1",
            onprem_bgp_ip="169.254.21.1",
        )
    )
    neighbors = [v["neighbor"] for _, v in _values(plan, "FRR BGP")]
    assert neighbors == ["169.254.21.2 remote-as 65515", "169.254.21.6 remote-as 65515"]


def test_the_transit_pairs_hold_the_addresses_azure_really_assigns():
    # Instance 0's default address (network + 4) is the network address of its /30: a /30
    # design cannot hold it; the /32 point-to-point pairs can.
    intent = SiteIntent(active_active=True)
    pairs = [
        (t.transit.pfsense_ip, t.transit.azure_ip, t.transit.network)
        for t in activeactive.tunnels(intent, ("x", "y"))
    ]
    assert pairs == [
        ("172.16.19.254", "172.16.19.228", "172.16.19.254/32"),
        ("172.16.19.253", "172.16.19.229", "172.16.19.253/32"),
    ]


def test_converting_a_provisioned_site_is_a_planned_change_in_the_review(db):
    from wizard.models import Run, RunKind, RunStatus

    site = _site(db, active_active=True)
    site.azure_ids = {"public_ip_1": "/subscriptions/x/publicIPAddresses/s2svpn-home-pip1"}
    site.save()
    assert not [n for n in build_plan(site).notes if n.startswith("Planned change")]
    Run.objects.create(site=site, kind=RunKind.PROVISION, status=RunStatus.SUCCEEDED, active=False)
    (note,) = [n for n in build_plan(site).notes if n.startswith("Planned change")]
    assert "converting the gateway to active-active" in note and "30-45 minutes" in note


def test_two_active_active_sites_on_one_firewall_get_distinct_addresses_and_vti_names(db):
    from wizard.forms.lng import apipa_taken
    from wizard.forms.pfsense import free_vti_name, vti_names_taken

    first = _site(db, active_active=True, **APIPA_FIRST)
    first.pfsense_url = "https://fw.example.net"
    first.save()
    second = Site.objects.create(
        name="Office", slug="office", pfsense_url="https://fw.example.net", intent={}
    )
    taken = apipa_taken(second)
    assert {"169.254.21.1", "169.254.21.2", "169.254.21.6"} <= set(taken)
    assert activeactive.second_apipa("169.254.21.8/30", taken).azure_ip == "169.254.21.14"
    assert vti_names_taken(second) == {"AZUREVTI", "AZUREVTI2"}
    assert free_vti_name(vti_names_taken(second)) == "AZUREVTI3"


APIPA_FIRST = {
    "bgp_mode": "apipa",
    "azure_apipa_ip": "169.254.21.2",
    "onprem_apipa_ip": "169.254.21.1",
    "onprem_bgp_ip": "169.254.21.1",
}
