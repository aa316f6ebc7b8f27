"""Active-active in the lab: two Azure instances (each its own strongSwan + FRR behind its own
public address), both tunnels and both BGP sessions from s2svpn's own pfSense objects, equal-cost
routes both ways, and a measured failover when the instance carrying the traffic stops."""

from __future__ import annotations

import pytest

from s2svpn import activeactive
from s2svpn.intent import SiteIntent
from s2svpn.lab import activeactive as aa
from s2svpn.lab.harness import wait_for

APIPA = {
    "bgp_mode": "apipa",
    "azure_apipa_ip": "169.254.21.2",
    "onprem_apipa_ip": "169.254.21.1",
    "onprem_bgp_ip": "169.254.21.1",
}


@pytest.mark.parametrize(
    "overrides, azure_bgp",
    [({}, ["172.16.19.228", "172.16.19.229"]), (APIPA, ["169.254.21.2", "169.254.21.6"])],
    ids=["default-bgp", "apipa"],
)
def test_both_instances_establish_and_routes_flow_both_ways(
    lab_ready, report, overrides, azure_bgp
):
    intent = SiteIntent(active_active=True, **overrides)
    with aa.AaLab() as lab:
        tunnels, _ = aa.bring_up(lab, intent)
        assert [t.azure_bgp_ip for t in tunnels] == azure_bgp
        wait_for(lambda: aa.settled(lab, intent, tunnels), 40, interval=0.5, what="both sessions")
        seen = aa.observe(lab, intent, tunnels)
        assert seen.pfsense_sessions == dict.fromkeys(azure_bgp, "Established")
        assert seen.azure_sessions == {"az": "Established", "az2": "Established"}
        # pfSense: the VNet through both tunnels (equal-cost multipath)
        assert seen.pfsense_learned["172.16.0.0/16"] == sorted(azure_bgp)
        # each Azure instance learned the home prefixes over its own session
        for node in ("az", "az2"):
            assert {"10.0.0.0/24", "192.168.2.0/24"} <= set(seen.azure_learned[node])
        assert seen.hold_time_ms == activeactive.HOLD_SECONDS * 1000
        assert aa.ping(lab, intent)
        report(f"lab active-active {overrides.get('bgp_mode', 'azure_default')}: {seen}")


@pytest.mark.parametrize("abrupt", [False, True], ids=["graceful-stop", "abrupt-loss"])
def test_failover_when_the_instance_carrying_traffic_stops(lab_ready, report, abrupt):
    intent = SiteIntent(active_active=True)
    with aa.AaLab() as lab:
        tunnels, _ = aa.bring_up(lab, intent)
        wait_for(lambda: aa.settled(lab, intent, tunnels), 40, interval=0.5, what="both sessions")
        result = aa.failover(
            lab, intent, tunnels, limit=activeactive.HOLD_SECONDS + 30, abrupt=abrupt
        )
        report(f"lab active-active failover: {result}")
        assert result["replies_after"] > 0  # traffic continues over the other tunnel
        assert result["interruption_seconds"] is not None
        # bounded by the hold time s2svpn configures (+ one keepalive's slack for FRR's timer)
        assert result["withdrawn_after_seconds"] <= activeactive.HOLD_SECONDS + 5
        assert aa.ping(lab, intent)
