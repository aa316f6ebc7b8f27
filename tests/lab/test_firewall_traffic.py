"""Traffic pfSense itself sends into Azure in default BGP mode (issue 13, fact 8), on real
strongSwan + FRR: the kernel sources it from the VTI address, which lies inside the VNet, so the
lab's Azure delivers the reply inside the VNet and the ping fails; with the user's fix pushed (an
outbound NAT mapping on the VTI, live only once outbound NAT is hybrid) it is sourced from the LAN
address and comes back through the tunnel. LAN clients work either way."""

from __future__ import annotations

from dataclasses import replace

import pytest

from s2svpn.intent import SiteIntent
from s2svpn.lab import scenario

pytestmark = pytest.mark.lab

PSK = "Lab0Canonical0Psk0abcdefghijklmn"
VTI_IP = "172.16.19.253"


@pytest.mark.parametrize(
    "choice, mode, reaches",
    [
        ("explain", "automatic", False),  # default BGP mode as it is: the reply stays in the VNet
        ("lan_source", "automatic", True),  # the push switches to hybrid: the mapping is live
        ("lan_source", "disabled", False),  # outbound NAT disabled: pf ignores the mapping
    ],
)
def test_the_firewalls_own_ping_to_the_vnet_needs_the_chosen_fix(
    lab_ready, report, choice, mode, reaches
):
    intent = replace(SiteIntent(), self_traffic=choice)
    azure = scenario.azure_end_for(intent, psk=PSK)
    desired = scenario.desired_for(intent, psk=PSK, azure=azure)
    case = scenario.LabCase(
        f"self-traffic {choice}/{mode}",
        intent,
        azure,
        desired,
        outbound_nat_mode=mode,
        self_ping=True,
    )
    out = scenario.run_case(case)
    report(
        f"lab self-traffic {choice} ({mode}): source {out.self_ping_source}, reply "
        f"{'back through the tunnel' if out.self_ping_ok else 'lost in the VNet'} "
        f"({out.timings.get('total', float('nan')):.2f}s)"
    )
    assert out.bgp_pfsense_state == "Established" and out.ping_ok  # LAN clients: unaffected
    assert out.self_ping_source == VTI_IP  # the kernel's choice, as on pfSense
    assert out.self_ping_ok is reaches
