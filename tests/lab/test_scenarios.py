"""The canonical scenario and its APIPA variant, from s2svpn's own rendered configurations, on
real strongSwan + FRR through a real NAT (shared/reference/lab/README.md)."""

from __future__ import annotations

import pytest

from s2svpn.intent import SiteIntent
from s2svpn.lab import scenario
from s2svpn.lab.harness import NAT_PUBLIC_IP, PFSENSE_WAN_IP

pytestmark = pytest.mark.lab

PSK = "Lab0Canonical0Psk0abcdefghijklmn"
APIPA = SiteIntent(
    bgp_mode="apipa",
    azure_apipa_ip="169.254.21.2",
    onprem_apipa_ip="169.254.21.1",
    onprem_bgp_ip="169.254.21.1",
)


def run(intent: SiteIntent, report) -> scenario.LabOutcome:
    azure = scenario.azure_end_for(intent, psk=PSK)
    desired = scenario.desired_for(intent, psk=PSK, azure=azure)
    outcome = scenario.run_case(scenario.LabCase(intent.bgp_mode, intent, azure, desired))
    report(
        f"lab {intent.bgp_mode}: daemons {outcome.timings['daemons']:.2f}s, IKE+child "
        f"{outcome.timings['ike']:.2f}s, start -> BGP Established with routes "
        f"{outcome.timings.get('bgp', float('nan')):.2f}s (lab dir {outcome.base})"
    )
    return outcome


@pytest.fixture(scope="module", params=["canonical", "apipa"])
def site(request, lab_ready, report) -> tuple[SiteIntent, scenario.LabOutcome]:
    intent = SiteIntent() if request.param == "canonical" else APIPA
    return intent, run(intent, report)


def test_ike_is_established_through_the_home_nat(site):
    _, out = site
    assert out.ike_up, out.errors
    assert out.ike["remote-host"] == NAT_PUBLIC_IP  # Azure sees the router, not pfSense
    assert out.ike["remote-port"] != "500"  # floated to NAT-T
    assert out.nat_detected
    # the seed's identity: "My IP address", i.e. pfSense's private WAN address behind the NAT
    assert out.ike["remote-id"] == PFSENSE_WAN_IP
    assert (out.ike["encr-alg"], out.ike["encr-keysize"]) == ("AES_CBC", "256")
    assert out.ike["integ-alg"] == "HMAC_SHA2_256_128"
    assert out.ike["dh-group"] == "MODP_2048"


def test_the_child_sa_carries_the_policy_algorithms(site):
    _, out = site
    assert out.child_up
    assert out.child["encr-alg"] == "AES_GCM_16" and out.child["encr-keysize"] == "256"
    assert out.child["encap"] == "yes"
    assert out.child["local-ts"] == ["0.0.0.0/0"] and out.child["remote-ts"] == ["0.0.0.0/0"]
    # seconds left of Azure's QM lifetime (27,000 s; it counts down from installation)
    assert 26900 <= int(out.child["life-time"]) <= 27000


def test_bgp_is_established_and_both_ends_learn_the_other_side(site):
    _intent, out = site
    assert out.bgp_pfsense_state == "Established"
    assert out.bgp_azure_state == "Established"
    assert not out.policy_blocked
    assert set(out.azure_learned) == {"10.0.0.0/24", "192.168.2.0/24"}
    assert out.pfsense_learned == ("172.16.0.0/16",)


def test_the_lan_reaches_a_vnet_address_through_the_tunnel(site):
    _, out = site
    assert out.ping_ok
