"""The lab's renderers, as plain text (no root needed): pfSense's swanctl.conf / frr.conf from
s2svpn's desired state and from the shared pfSense fixtures, and the Azure end from an AzureEnd."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from s2svpn.intent import CANONICAL
from s2svpn.lab import render, scenario

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SYNTH = SHARED / "fixtures" / "pfsense" / "synthesized"
PSK = "Render0Psk0abcdefghijklmnopqrstu"
DNS = {"home-s2s.example.net": "203.0.113.2"}


def canonical():
    azure = scenario.azure_end_for(CANONICAL, psk=PSK)
    return azure, scenario.desired_for(CANONICAL, psk=PSK, azure=azure)


def lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()}


def test_pfsense_swanctl_renders_phase1_and_the_vti_child_like_ipsec_inc():
    _, desired = canonical()
    text = render.pfsense_swanctl(
        desired.phase1, desired.phase2, wan_address="192.168.178.10", dns=DNS
    )
    got = lines(text)
    for line in (
        "con1 {",
        "version = 2",
        "proposals = aes256-sha256-modp2048",
        "esp_proposals = aes256gcm128-modp2048",
        "dpd_delay = 10s",
        "rekey_time = 25920s",
        "local_addrs = 192.168.178.10",
        "remote_addrs = 198.51.100.10",
        "id = 192.168.178.10",  # "My IP address": the private WAN address (ipsec_find_id)
        "id-0 = %any",  # ipsec_setup_secrets(): %any as its own id for a non-mobile phase 1
        "id-1 = 198.51.100.10",
        "policies = no",
        "reqid = 5001",
        "start_action = start",
        "dpd_action = restart",
        "local_ts = 172.16.19.253,0.0.0.0/0,::/0",
        "remote_ts = 172.16.19.254,0.0.0.0/0,::/0",
        "life_time = 27000s",
    ):
        assert line in got, line


def test_the_libipsec_adaptation_only_keeps_the_policies():
    _, desired = canonical()
    text = render.pfsense_swanctl(desired.phase1, desired.phase2, wan_address="192.168.178.10")
    adapted = render.for_libipsec(text)
    assert "policies = no" in text and "        policies = no\n" not in adapted
    assert len(adapted.splitlines()) == len(text.splitlines())


def test_a_start_action_of_trap_or_empty_still_starts_a_vti():
    _, desired = canonical()
    for action in ("trap", ""):
        p1 = dict(desired.phase1, startaction=action)
        assert "start_action = start" in lines(
            render.pfsense_swanctl(p1, desired.phase2, wan_address="192.168.178.10")
        )


def test_pfsense_frr_starts_with_traditional_defaults_and_sources_bgp_from_the_lan():
    _, desired = canonical()
    text = render.pfsense_frr(desired.frr, interface_ips={"lan": "10.0.0.1"})
    assert text.splitlines()[0] == "frr defaults traditional"
    got = lines(text)
    for line in (
        "router bgp 65010",
        "no bgp ebgp-requires-policy",
        "neighbor 172.16.19.254 remote-as 65515",
        "neighbor 172.16.19.254 update-source 10.0.0.1",
        "neighbor 172.16.19.254 ebgp-multihop 2",
        "network 10.0.0.0/24",
        "network 192.168.2.0/24",
    ):
        assert line in got, line


def test_without_the_switch_the_ebgp_policy_trap_is_rendered():
    _, desired = canonical()
    frr = dict(desired.frr, frrbgpadvanced={})
    assert "no bgp ebgp-requires-policy" not in render.pfsense_frr(frr, interface_ips={})


def test_an_update_source_interface_without_address_drops_the_line_like_pfsense():
    _, desired = canonical()
    text = render.pfsense_frr(desired.frr, interface_ips={})
    assert "update-source" not in text


def _sections_from_config_xml(path: Path) -> dict:
    root = ET.parse(path).getroot()
    packages = root.find("installedpackages")
    out: dict = {}
    for section in packages:
        configs = []
        for config in section.findall("config"):
            entry: dict = {}
            rows = []
            for child in config:
                if child.tag == "row":
                    rows.append({c.tag: (c.text or "") for c in child})
                else:
                    entry[child.tag] = child.text or ""
            if rows:
                entry["row"] = rows
            configs.append(entry)
        out[section.tag] = (
            configs if section.tag in ("frrbgpneighbors", "frrglobalroutemaps") else configs[0]
        )
    return out


def test_the_shared_config_fragment_renders_the_directives_of_the_expected_frr_conf():
    sections = _sections_from_config_xml(SYNTH / "config" / "azure_vti_bgp_config_fragment.xml")
    text = render.pfsense_frr(sections, interface_ips={"opt2": "172.16.19.253"})
    expected = (SYNTH / "frr" / "azure_expected_frr.conf").read_text()
    wanted = [
        line.strip()
        for line in expected.splitlines()
        if line.strip().startswith(
            (
                "router bgp",
                "neighbor",
                "no neighbor",
                "network",
                "bgp ",
                "no bgp",
                "route-map",
                "frr defaults",
            )
        )
    ]
    got = lines(text)
    missing = [line for line in wanted if line not in got]
    assert missing == []


def test_the_shared_phase_bodies_render_pfsense_proposals():
    p1 = json.loads((SYNTH / "restapi" / "vpn_ipsec_phase1_post_request.json").read_text())
    p2 = json.loads((SYNTH / "restapi" / "vpn_ipsec_phase2_post_request.json").read_text())
    got = lines(render.pfsense_swanctl(p1, p2, wan_address="203.0.113.10"))
    assert "proposals = aes256-sha256-modp2048" in got
    assert "esp_proposals = aes256gcm128-modp2048" in got
    assert "id = 203.0.113.10" in got  # myaddress
    assert "remote_addrs = 198.51.100.20" in got


def test_azure_is_responder_only_with_exactly_the_custom_policy():
    azure, _ = canonical()
    got = lines(render.azure_swanctl(azure, peer_address="203.0.113.2"))
    for line in (
        "proposals = aes256-sha256-modp2048",
        "esp_proposals = aes256gcm16-modp2048",
        "start_action = none",
        "life_time = 27000s",
        "remote_addrs = 203.0.113.2",
        "id = %any",  # Azure accepts whatever IDi the peer sends
        "local_ts = 0.0.0.0/0",
    ):
        assert line in got, line


def test_azure_without_a_policy_offers_its_defaults_and_initiates_in_default_mode():
    import dataclasses

    azure, _ = canonical()
    azure = dataclasses.replace(azure, policy=None, connection_mode="Default")
    text = render.azure_swanctl(azure, peer_address="203.0.113.2")
    assert "aes256-sha1-modp1024" in text and "start_action = start" in text


def test_azure_frr_speaks_asn_65515_from_its_bgp_ip_to_the_lng_peer():
    azure, _ = canonical()
    got = lines(render.azure_frr(azure))
    for line in (
        "router bgp 65515",
        "bgp router-id 172.16.19.254",
        "neighbor 10.0.0.1 remote-as 65010",
        "neighbor 10.0.0.1 update-source 172.16.19.254",
        "network 172.16.0.0/16",
        "timers bgp 60 180",
    ):
        assert line in got, line
    assert "neighbor 10.0.0.1 passive" in render.azure_frr(azure, passive=True)


IDENTITIES = {
    # myid_type, myid_data -> what ipsec_find_id() + ipsec_fixup_id() put in swanctl.conf
    ("myaddress", ""): "192.168.178.10",
    ("address", "203.0.113.2"): "203.0.113.2",
    ("fqdn", "home-s2s.example.net"): "fqdn:home-s2s.example.net",
    ("dyn_dns", "home-s2s.example.net"): "dns:home-s2s.example.net",
    ("user_fqdn", "admin@example.net"): "userfqdn:admin@example.net",
}


def test_every_identity_type_s2svpn_can_push_renders_as_ipsec_find_id_sends_it():
    """src/etc/inc/ipsec.inc ipsec_find_id()/ipsec_fixup_id() (RELENG_2_7_2): dyn_dns is an FQDN
    identity with the name as written (no lookup), myaddress the interface's own address."""
    import dataclasses

    from s2svpn.pfsense_plan import MYID_TYPES

    assert {kind for kind, _ in IDENTITIES} == set(MYID_TYPES)
    for (kind, data), expected in IDENTITIES.items():
        intent = dataclasses.replace(CANONICAL, ike_myid_type=kind, ike_myid_data=data)
        azure = scenario.azure_end_for(intent, psk=PSK)
        desired = scenario.desired_for(intent, psk=PSK, azure=azure)
        text = render.pfsense_swanctl(
            desired.phase1, desired.phase2, wan_address="192.168.178.10", dns=DNS
        )
        got = lines(text)
        assert f"id = {expected}" in got, (kind, text)
        assert "id-0 = %any" in got and "id-1 = 198.51.100.10" in got


def test_the_psk_is_quoted_safely():
    assert render._quote('a"b\\c') == '"a\\"b\\\\c"'
