"""The pure rules: verdicts and findings from the two halves, the intent and the DNS facts."""

from __future__ import annotations

from dataclasses import replace

from monitor.diagnosis import DnsFacts, assess, diagnose
from monitor.observations import negotiated, proposal_differences, route_table
from s2svpn.intent import CANONICAL, IpsecPolicy
from s2svpn.status import BgpPeer, BgpState, EndStatus, TunnelState
from tests.monitor.cast import (
    AZURE_BGP_IP,
    canonical_sa,
    healthy_azure,
    healthy_pfsense,
    policy_trapped,
    tunnel_down,
)

FQDN = "home-s2s.example.net"
DNS_OK = DnsFacts(
    fqdn=FQDN, address="203.0.113.2", previous="203.0.113.2", tunnel_address="203.0.113.2"
)


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def test_the_canonical_site_is_healthy_with_no_findings():
    result = assess(healthy_azure(), healthy_pfsense(), CANONICAL, DNS_OK)
    assert result.verdict == "healthy"
    assert "all 3 intended prefixes present" in result.reason
    assert result.findings == ()
    assert result.states == {
        "tunnel_azure": "up",
        "tunnel_pfsense": "up",
        "bgp_azure": "established",
        "bgp_pfsense": "established",
        "ddns": "203.0.113.2",
        "verdict": "healthy",
    }


def test_a_half_that_cannot_be_read_is_unknown_never_down():
    pfsense = EndStatus(error="pfSense did not answer within 20 s")
    result = assess(healthy_azure(), pfsense, CANONICAL, DNS_OK)
    assert result.verdict == "unknown"
    assert result.states["tunnel_pfsense"] == "unknown"
    assert result.states["bgp_pfsense"] == "unknown"
    assert "pfSense could not be read (pfSense did not answer within 20 s)" in result.reason
    assert codes(result.findings) == ["pfsense_unreadable"]


def test_a_known_down_end_makes_the_site_down_even_if_the_other_is_unknown():
    azure, _ = tunnel_down()
    result = assess(azure, EndStatus(error="timeout"), CANONICAL, DNS_OK)
    assert result.verdict == "down"
    assert result.reason.startswith("Azure reports the connection down")


def test_the_ebgp_policy_trap_is_degraded_with_its_fix_and_a_repush():
    azure, pfsense = policy_trapped()
    result = assess(azure, pfsense, CANONICAL, DNS_OK)
    assert result.verdict == "degraded"
    assert "Established but blocked by policy" in result.reason
    assert "Azure has not learned 10.0.0.0/24, 192.168.2.0/24" in result.reason
    trap = result.findings[0]
    assert trap.code == "ebgp_policy"
    assert "no bgp ebgp-requires-policy" in trap.fix
    assert trap.action == "repush"


def test_established_with_zero_prefixes_both_ways_is_also_the_policy_trap():
    pfsense = healthy_pfsense(
        bgp_peers=[BgpPeer(AZURE_BGP_IP, 65515, BgpState.ESTABLISHED, "10.0.0.1", 0, 0)],
        learned_routes=[],
    )
    assert "ebgp_policy" in codes(diagnose(healthy_azure(), pfsense, CANONICAL))


def test_frr_not_running_is_named_and_offers_a_repush():
    pfsense = healthy_pfsense(
        bgp_peers=[BgpPeer(AZURE_BGP_IP, 65515, BgpState.NOT_RUNNING)], learned_routes=[]
    )
    azure = healthy_azure(
        bgp_peers=[BgpPeer("10.0.0.1", 65010, BgpState.CONNECT)],
        learned_routes=[],
    )
    result = assess(azure, pfsense, CANONICAL, DNS_OK)
    assert result.verdict == "degraded"
    assert result.states["bgp_pfsense"] == "not_running"
    assert codes(result.findings)[0] == "frr_not_running"


def test_frr_not_running_without_any_peer_listed_still_reads_not_running():
    pfsense = healthy_pfsense(bgp_peers=[], learned_routes=[], details={"frr_running": False})
    result = assess(healthy_azure(), pfsense, CANONICAL, DNS_OK)
    assert result.states["bgp_pfsense"] == "not_running"
    assert "FRR is not running on pfSense" in result.reason


def test_the_rest_package_gone_is_its_own_finding_not_a_generic_error():
    pfsense = EndStatus(
        error="pfSense answers 404 for /api/v2/status/ipsec/sas: the REST API package is not installed",
        details={"code": "rest_api_missing"},
    )
    result = assess(healthy_azure(), pfsense, CANONICAL, DNS_OK)
    assert result.verdict == "unknown"
    assert codes(result.findings) == ["rest_api_missing"]
    assert "Reinstall the REST API package" in result.findings[0].fix


def test_tunnel_down_and_the_fqdn_moved_points_at_azures_dns_cache_with_a_reset_button():
    azure, pfsense = tunnel_down()
    dns = DnsFacts(
        fqdn=FQDN, address="198.51.100.7", previous="203.0.113.2", tunnel_address="203.0.113.2"
    )
    findings = diagnose(azure, pfsense, CANONICAL, dns)
    cache = next(f for f in findings if f.code == "dns_cache")
    assert "now resolves to 198.51.100.7, but the tunnel last ran to 203.0.113.2" in cache.cause
    assert cache.action == "reset_gateway"


def test_an_up_tunnel_whose_fqdn_points_elsewhere_is_ddns_drift_and_degraded():
    dns = DnsFacts(
        fqdn=FQDN, address="198.51.100.7", previous="203.0.113.2", tunnel_address="203.0.113.2"
    )
    result = assess(healthy_azure(), healthy_pfsense(), CANONICAL, dns)
    assert result.verdict == "degraded"
    assert codes(result.findings) == ["ddns_drift"]
    assert result.states["ddns"] == "198.51.100.7"


def test_an_unresolvable_fqdn_is_reported():
    dns = DnsFacts(fqdn=FQDN, error="home-s2s.example.net does not exist (NXDOMAIN).")
    assert "dns_unresolvable" in codes(diagnose(*tunnel_down(), CANONICAL, dns))


def test_initiator_only_behind_nat_without_forwarding_is_the_nat():
    intent = replace(CANONICAL, connection_mode="InitiatorOnly")
    azure, pfsense = tunnel_down()
    nat = next(f for f in diagnose(azure, pfsense, intent) if f.code == "nat")
    assert "does not forward UDP 500/4500" in nat.cause
    forwarded = replace(intent, ports_forwarded=True)
    assert "nat" not in codes(diagnose(azure, pfsense, forwarded))


def test_authentication_failures_read_as_a_psk_mismatch():
    azure, pfsense = tunnel_down()
    pfsense = replace(pfsense, details={"ike_error": "received AUTHENTICATION_FAILED notify error"})
    finding = next(f for f in diagnose(azure, pfsense, CANONICAL) if f.code == "psk_mismatch")
    assert "Set the same pre-shared key on both ends" in finding.fix


def test_apipa_blocked_on_pfsense_is_reported_in_apipa_mode_only():
    pfsense = healthy_pfsense(details={"allow_apipa": False})
    apipa = replace(
        CANONICAL, bgp_mode="apipa", azure_apipa_ip="169.254.21.1", onprem_apipa_ip="169.254.21.2"
    )
    assert "apipa_blocked" in codes(diagnose(healthy_azure(), pfsense, apipa))
    assert "apipa_blocked" not in codes(diagnose(healthy_azure(), pfsense, CANONICAL))


def test_the_canonical_negotiated_algorithms_read_as_proposals():
    assert negotiated(healthy_pfsense()) == {
        "ike": "aes256-sha256-prfsha256-modp2048",
        "esp": "aes256gcm16",
    }
    assert proposal_differences(healthy_pfsense(), CANONICAL) == []


def test_a_proposal_other_than_the_policy_is_a_rekey_warning():
    sa = canonical_sa(encr_alg="AES_CBC", encr_keysize=128, dh_group="ECP_256")
    pfsense = healthy_pfsense(sas=[sa])
    diffs = proposal_differences(pfsense, CANONICAL)
    assert "IKE encryption is aes128, the policy says aes256" in diffs
    assert "IKE DH group is ecp256, the policy says modp2048" in diffs
    finding = next(
        f for f in diagnose(healthy_azure(), pfsense, CANONICAL) if f.code == "proposal_mismatch"
    )
    assert finding.severity == "warning"
    assert "bite at rekey" in finding.title


def test_a_rekeyed_child_without_the_intended_pfs_group_is_a_mismatch():
    child = replace(canonical_sa().children[0], dh_group="MODP_1024")
    pfsense = healthy_pfsense(sas=[canonical_sa(children=(child,))])
    assert "PFS group is modp1024, the policy says modp2048" in proposal_differences(
        pfsense, CANONICAL
    )
    no_pfs = replace(CANONICAL, policy=IpsecPolicy(pfs_group="None"))
    child = replace(child, dh_group="")
    assert (
        proposal_differences(healthy_pfsense(sas=[canonical_sa(children=(child,))]), no_pfs) == []
    )


def test_route_table_marks_missing_unexpected_and_extra_prefixes():
    rows = route_table(
        learned=["10.0.0.0/24", "10.9.0.0/16"],
        advertised=["10.0.0.0/24", "192.168.2.0/24", "10.8.0.0/16"],
        intended=["10.0.0.0/24", "192.168.2.0/24"],
    )
    status = {r.prefix: r.status for r in rows}
    assert status == {
        "10.0.0.0/24": "ok",
        "10.8.0.0/16": "missing",
        "10.9.0.0/16": "unexpected",
        "192.168.2.0/24": "missing",
    }
    assert [r.prefix for r in rows] == [
        "10.0.0.0/24",
        "10.8.0.0/16",
        "10.9.0.0/16",
        "192.168.2.0/24",
    ]


def test_azure_own_network_routes_do_not_count_as_learned():
    azure = healthy_azure(learned_routes=healthy_azure().learned_routes[:1])
    result = assess(azure, healthy_pfsense(), CANONICAL, DNS_OK)
    assert result.verdict == "degraded"
    assert "Azure has not learned 10.0.0.0/24, 192.168.2.0/24" in result.reason


def test_the_verdict_is_down_when_pfsense_alone_reports_it():
    pfsense = healthy_pfsense(tunnel=TunnelState.DOWN, sas=[], bgp_peers=[])
    assert assess(healthy_azure(), pfsense, CANONICAL, DNS_OK).verdict == "down"


def test_an_end_holding_another_key_than_the_site_is_named_in_the_psk_finding():
    azure, pfsense = tunnel_down()
    pfsense = replace(pfsense, details={"psk_matches_site": False})
    azure = replace(azure, details={"psk_matches_site": True})
    finding = next(f for f in diagnose(azure, pfsense, CANONICAL) if f.code == "psk_mismatch")
    assert finding.cause.startswith(
        "The pre-shared key on the pfSense phase 1 is not the site's key"
    )
    healthy_keys = replace(pfsense, details={"psk_matches_site": True})
    assert "psk_mismatch" not in codes(diagnose(azure, healthy_keys, CANONICAL))


def test_an_apipa_session_stuck_behind_an_up_tunnel_asks_about_allow_apipa():
    apipa = replace(
        CANONICAL, bgp_mode="apipa", azure_apipa_ip="169.254.21.1", onprem_apipa_ip="169.254.21.2"
    )
    pfsense = healthy_pfsense(
        bgp_peers=[BgpPeer("169.254.21.1", 65515, BgpState.ACTIVE)], learned_routes=[]
    )
    finding = next(
        f for f in diagnose(healthy_azure(), pfsense, apipa) if f.code == "apipa_blocked"
    )
    assert finding.severity == "warning"
    assert "Allow APIPA traffic" in finding.fix


def test_no_azure_bgp_read_yet_is_pending_not_degraded():
    """Cold start at Azure's pace: the tunnel is up and pfSense's session is Established with the
    VNet learned, but Azure's BGP tables have not been read yet (monitor.azure_half marks it)."""
    azure = healthy_azure(
        bgp_peers=[],
        learned_routes=[],
        advertised_routes=[],
        details={"connection_status": "Connected", "bgp_not_read": True},
    )
    result = assess(azure, healthy_pfsense(), CANONICAL, DNS_OK)
    assert result.verdict == "healthy", result.reason
    assert result.states["bgp_azure"] == "pending"
    assert "Azure's BGP tables are not read yet" in result.reason
    assert result.findings == ()
    # pfSense's own problems still count while Azure's side is pending
    trapped = assess(azure, policy_trapped()[1], CANONICAL, DNS_OK)
    assert trapped.verdict == "degraded", trapped.reason
    # and without the mark an empty Azure BGP table is still "no session"
    bare = replace(azure, details={"connection_status": "Connected"})
    assert assess(bare, healthy_pfsense(), CANONICAL, DNS_OK).verdict == "degraded"
