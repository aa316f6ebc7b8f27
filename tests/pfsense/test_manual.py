"""The manual export holds the same values as the API push (issue 4 acceptance)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from s2svpn.manual import config_xml_fragment, gui_instructions
from tests.pfsense.conftest import AZURE_BGP_IP, AZURE_PUBLIC_IP, PSK
from tests.pfsense.test_push import run_push


@pytest.fixture
def pushed(client, sandbox, intent):
    run_push(client, intent)
    config = sandbox.config
    packages = config["installedpackages"]
    return {
        "p1": config["ipsec"]["phase1"][0],
        "p2": config["ipsec"]["phase2"][0],
        "iface": next(o for o in config["interfaces"].values() if o["if"].startswith("ipsec")),
        "rule": next(r for r in config["filter"]["rule"] if r["descr"] == intent.descr),
        "frr": {k: packages[k]["config"] for k in packages},
    }


def export_xml(intent):
    text = config_xml_fragment(intent, azure_public_ip=AZURE_PUBLIC_IP, azure_bgp_ip=AZURE_BGP_IP)
    return text, ET.fromstring(text.split("\n", 2)[2])


def test_the_gui_steps_come_in_the_walkthrough_order(intent):
    text = gui_instructions(intent, azure_public_ip=AZURE_PUBLIC_IP, azure_bgp_ip=AZURE_BGP_IP)
    order = [
        "VPN > IPsec > Tunnels > Add P1",
        "Add P2",
        "Interfaces > Assignments",
        "Firewall > Rules > IPsec",
        "Services > FRR",
    ]
    positions = [text.index(heading) for heading in order]
    assert positions == sorted(positions)


def test_the_gui_instructions_hold_every_value_the_push_wrote(pushed, intent):
    text = gui_instructions(intent, azure_public_ip=AZURE_PUBLIC_IP, azure_bgp_ip=AZURE_BGP_IP)
    p1, p2, iface, rule, frr = (pushed[k] for k in ("p1", "p2", "iface", "rule", "frr"))
    (enc,) = p1["encryption"]
    (esp,) = p2["encryption_algorithm_option"]
    bgp, (neighbor,) = frr["frrbgp"][0], frr["frrbgpneighbors"]
    expected = [
        p1["descr"],
        p1["remote_gateway"],
        p1["lifetime"],
        p1["rekey_time"],
        p1["rand_time"],
        p1["dpd_delay"],
        p1["dpd_maxfail"],
        enc["encryption_algorithm_keylen"],
        enc["dhgroup"],
        p1["startaction"],
        p1["nat_traversal"],
        p2["localid_address"],
        p2["localid_netbits"],
        p2["remoteid_address"],
        esp["name"],
        esp["keylen"],
        p2["hash_algorithm_option"][0],
        p2["pfsgroup"],
        p2["lifetime"],
        p2["rekey_time"],
        p2["rand_time"],
        iface["descr"],
        iface["mss"],  # the VTI's MSS field 1390 (pfSense clamps at it minus 40: LAN <-> VNet)
        1350,  # Maximum MSS in IPsec Advanced, applied as given (Azure's BGP address only)
        rule["source"],
        rule["destination"],
        rule["descr"],
        rule["interface"][0],
        bgp["asnum"],
        bgp["routerid"],
        *(row["distributeroutevalue"] for row in bgp["row"]),
        frr["frrbgpadvanced"][0]["disableebgprequirepolicy"],
        neighbor["peer"],
        neighbor["asnum"],
        neighbor["updatesource"],
        neighbor["ebgpmultihop"],
        neighbor["softreconfigurationinbound"],
    ]
    missing = [value for value in expected if f"`{value}`" not in text and f"({value})" not in text]
    assert not missing
    assert "- My identifier: My IP address" in text  # the seed's identity
    assert "Allow APIPA" not in text  # default BGP mode: no link-local addresses
    assert PSK not in text and "<your PSK>" in text


def test_the_config_xml_fragment_holds_the_objects_the_push_wrote(pushed, intent):
    text, root = export_xml(intent)
    p1, p2, iface, rule, frr = (pushed[k] for k in ("p1", "p2", "iface", "rule", "frr"))

    x1 = root.find("ipsec/phase1")
    assert x1.findtext("remote-gateway") == p1["remote_gateway"]
    for key in (
        "iketype",
        "protocol",
        "interface",
        "myid_type",
        "peerid_type",
        "startaction",
        "nat_traversal",
        "authentication_method",
        "descr",
    ):
        assert x1.findtext(key) == str(p1[key]), key
    assert x1.findtext("myid_data") == p1.get("myid_data", "")  # My IP address: no data
    for key in ("lifetime", "rekey_time", "reauth_time", "rand_time", "dpd_delay", "dpd_maxfail"):
        assert int(x1.findtext(key)) == p1[key], key
    item = x1.find("encryption/item")
    (enc,) = p1["encryption"]
    assert item.findtext("encryption-algorithm/name") == enc["encryption_algorithm_name"]
    assert int(item.findtext("encryption-algorithm/keylen")) == enc["encryption_algorithm_keylen"]
    assert item.findtext("hash-algorithm") == enc["hash_algorithm"]
    assert int(item.findtext("dhgroup")) == enc["dhgroup"]
    assert x1.findtext("pre-shared-key") == "<your PSK>" and PSK not in text

    x2 = root.find("ipsec/phase2")
    assert x2.findtext("mode") == p2["mode"]
    assert x2.findtext("localid/address") == p2["localid_address"]
    assert int(x2.findtext("localid/netbits")) == p2["localid_netbits"]
    assert x2.findtext("remoteid/address") == p2["remoteid_address"]
    assert (
        x2.findtext("encryption-algorithm-option/name")
        == p2["encryption_algorithm_option"][0]["name"]
    )
    assert [e.text for e in x2.findall("hash-algorithm-option")] == p2["hash_algorithm_option"]
    for key in ("pfsgroup", "lifetime", "rekey_time", "rand_time"):
        assert int(x2.findtext(key)) == p2[key], key
    assert x2.findtext("keepalive") == "enabled"

    xi = root.find("interfaces/opt1")
    assert (xi.findtext("descr"), xi.findtext("if"), xi.findtext("mss")) == (
        iface["descr"],
        iface["if"],
        "1390",
    )
    assert (root.findtext("system/maxmss_enable"), root.findtext("system/maxmss")) == (
        "yes",
        "1350",
    )
    xr = root.find("filter/rule")
    assert (xr.findtext("type"), xr.findtext("interface"), xr.findtext("source/address")) == (
        rule["type"],
        rule["interface"][0],
        rule["source"],
    )

    def section(name):
        config = root.find(f"installedpackages/{name}/config")
        return {c.tag: (c.text or "") for c in config if c.tag != "row"}

    pushed_bgp = {k: v for k, v in frr["frrbgp"][0].items() if k != "row"}
    assert section("frrbgp") == pushed_bgp
    rows = root.findall("installedpackages/frrbgp/config/row/distributeroutevalue")
    assert [r.text for r in rows] == [r["distributeroutevalue"] for r in frr["frrbgp"][0]["row"]]
    assert section("frrbgpadvanced") == frr["frrbgpadvanced"][0]
    assert section("frrbgpneighbors") == frr["frrbgpneighbors"][0]
    assert section("frr")["enable"] == frr["frr"][0]["enable"]


def test_apipa_instructions_switch_on_allow_apipa():
    from s2svpn.intent import SiteIntent

    apipa = SiteIntent(
        bgp_mode="apipa",
        azure_apipa_ip="169.254.21.2",
        onprem_apipa_ip="169.254.21.1",
        onprem_bgp_ip="169.254.21.1",
    )
    text = gui_instructions(apipa, azure_public_ip=AZURE_PUBLIC_IP, azure_bgp_ip="169.254.21.2")
    assert "System > Advanced > Firewall & NAT" in text and "- Allow APIPA: checked." in text
    root = ET.fromstring(
        config_xml_fragment(apipa, azure_public_ip=AZURE_PUBLIC_IP, azure_bgp_ip="169.254.21.2")
    )
    assert root.find("system/no_apipa_block") is not None
