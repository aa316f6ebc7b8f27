"""MSS through the VTI (issue 13, fact 6) on real strongSwan + FRR: pfSense clamps the TCP MSS of
what leaves through an assigned interface at that interface's MSS field minus 40 (filter.inc
filter_generate_scrubing(), modelled by an nftables maxseg rule on the lab pfSense's ipsec0); IPsec
Advanced's maximum MSS covers only <vpn_networks> (Azure's BGP /32 for a VTI), so without the
interface MSS a LAN -> VNet SYN leaves the tunnel unclamped."""

from __future__ import annotations

from dataclasses import replace

import pytest

from s2svpn.intent import SiteIntent
from s2svpn.lab import scenario

pytestmark = pytest.mark.lab

PSK = "Lab0Canonical0Psk0abcdefghijklmn"


@pytest.mark.parametrize("interface_mss", [1390, None])
def test_a_lan_syn_leaves_the_tunnel_clamped_at_1350_by_the_vti_mss(
    lab_ready, report, interface_mss
):
    intent = SiteIntent()
    azure = scenario.azure_end_for(intent, psk=PSK)
    desired = scenario.desired_for(intent, psk=PSK, azure=azure)
    assert desired.interface["mss"] == 1390 and desired.system["maxmss"] == 1350
    if interface_mss is None:  # what s2svpn pushed before: IPsec Advanced's maximum MSS only
        desired = replace(desired, interface={**desired.interface, "mss": None})
    case = scenario.LabCase(f"mss {interface_mss}", intent, azure, desired, mss_probe=True)

    out = scenario.run_case(case)

    report(f"lab MSS: interface MSS {interface_mss} -> SYN MSS at Azure {out.syn_mss}")
    assert out.bgp_pfsense_state == "Established" and out.ping_ok
    assert out.syn_mss is not None
    if interface_mss:
        assert out.syn_mss == 1350  # 1390 - 40, lower than what the LAN host offered
    else:
        assert out.syn_mss > 1350
