"""The manual path: the same pfSense objects as the API push, for people without the REST package.

Both outputs are built from :func:`s2svpn.pfsense_plan.desired_pfsense`, so they carry exactly the
values the push would write:

* :func:`gui_instructions` - Markdown steps in the order of the pfSense GUI walkthrough
  (VPN > IPsec > Add P1 / P2, Interfaces > Assignments, Firewall > Rules > IPsec, Services > FRR);
* :func:`config_xml_fragment` - the ``config.xml`` sections (``ipsec``, ``interfaces``, ``filter``,
  ``installedpackages``), element names as in pfSense's ``vpn_ipsec_phase1.php`` /
  ``vpn_ipsec_phase2.php`` and pfSense-pkg-frr's ``frr*.xml`` (reference/pfsense.md §4.7, §5;
  https://docs.netgate.com/pfsense/en/latest/vpn/ipsec/configure-p1.html).

Plain string building, no Django. The PSK is never included: a placeholder stands in for it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from s2svpn.intent import SiteIntent
from s2svpn.pfsense_plan import PfSenseDesired, desired_pfsense

__all__ = ["config_xml_fragment", "gui_instructions"]

_DH_WORDS = {
    1: "1 (768 bit)",
    2: "2 (1024 bit)",
    5: "5 (1536 bit)",
    14: "14 (2048 bit)",
    19: "19 (nist ecp256)",
    20: "20 (nist ecp384)",
    24: "24 (2048(sub 256) bit)",
}
_ENC_WORDS = {
    "aes": "AES",
    "aes128gcm": "AES128-GCM",
    "aes192gcm": "AES192-GCM",
    "aes256gcm": "AES256-GCM",
    "chacha20poly1305": "CHACHA20-POLY1305",
}
_HASH_WORDS = {
    "sha1": "SHA1",
    "sha256": "SHA256",
    "sha384": "SHA384",
    "sha512": "SHA512",
    "hmac_sha1": "SHA1",
    "hmac_sha256": "SHA256",
    "hmac_sha384": "SHA384",
    "hmac_sha512": "SHA512",
    "aesxcbc": "AES-XCBC",
}
_MYID_WORDS = {
    "myaddress": "My IP address",
    "address": "IP address",
    "dyn_dns": "Dynamic DNS",
    "fqdn": "Distinguished name",
    "user_fqdn": "User distinguished name",
}


def _desired(
    intent: SiteIntent, azure_public_ip: str, azure_bgp_ip: str, psk_placeholder: str
) -> PfSenseDesired:
    return desired_pfsense(
        intent, azure_public_ip=azure_public_ip, azure_bgp_ip=azure_bgp_ip, psk=psk_placeholder
    )


def _dh(group: int) -> str:
    return _DH_WORDS.get(group, str(group)) if group else "off"


def gui_instructions(
    intent: SiteIntent,
    *,
    azure_public_ip: str,
    azure_bgp_ip: str,
    psk_placeholder: str = "<your PSK>",
) -> str:
    """Step-by-step pfSense GUI instructions (Markdown) with the exact values of the push."""
    d = _desired(intent, azure_public_ip, azure_bgp_ip, psk_placeholder)
    p1, p2, iface, frr = d.phase1, d.phase2, d.interface, d.frr
    bgp, neighbor = frr["frrbgp"], frr["frrbgpneighbors"][0]
    lines: list[str] = [
        f"# pfSense setup for site `{intent.slug}` (Azure route-based VPN with BGP)",
        "",
        "Every value below is what s2svpn's API push would write. Objects are named "
        f"`{intent.descr}` so s2svpn can find them again. Replace `{psk_placeholder}` with the "
        "pre-shared key shown once in s2svpn (it is not part of this file).",
        "",
        "## 1. VPN > IPsec > Tunnels > Add P1",
        "",
        f"- Description: `{p1['descr']}`",
        "- Disabled: unchecked",
        "- Key Exchange version: IKEv2",
        "- Internet Protocol: IPv4",
        f"- Interface: `{p1['interface'].upper()}` (interface id `{p1['interface']}`)",
        f"- Remote Gateway: `{p1['remote_gateway']}`",
        "- Authentication Method: Mutual PSK",
        f"- My identifier: {_MYID_WORDS.get(p1['myid_type'], p1['myid_type'])}"
        + (f" `{p1['myid_data']}`" if p1.get("myid_data") else ""),
        "- Peer identifier: Peer IP address",
        f"- Pre-Shared Key: `{psk_placeholder}`",
    ]
    for index, item in enumerate(p1["encryption"], 1):
        lines.append(
            f"- Encryption Algorithm (row {index}): Algorithm "
            f"{_ENC_WORDS.get(item['encryption_algorithm_name'], item['encryption_algorithm_name'])}, "
            f"Key length `{item['encryption_algorithm_keylen']}` bits, Hash "
            f"{_HASH_WORDS.get(item['hash_algorithm'], item['hash_algorithm'])}, DH Group "
            f"{_dh(item['dhgroup'])} (`{item['dhgroup']}`), PRF "
            f"{_HASH_WORDS.get(item['prf_algorithm'], item['prf_algorithm'])}"
        )
    lines += [
        f"- Life Time: `{p1['lifetime']}`; Rekey Time: `{p1['rekey_time']}`; Reauth Time: "
        f"`{p1['reauth_time']}`; Rand Time: `{p1['rand_time']}`",
        "- Child SA Start Action: Initiate at start (Use for VTI) (`start`)",
        "- Child SA Close Action: Default",
        "- NAT Traversal: Auto (`on`)",
        "- MOBIKE: Disable",
        f"- Dead Peer Detection: enabled, Delay `{p1['dpd_delay']}`, Max failures "
        f"`{p1['dpd_maxfail']}`",
        "- Save.",
        "",
        "## 2. VPN > IPsec > Tunnels > Show Phase 2 Entries > Add P2",
        "",
        f"- Description: `{p2['descr']}`",
        "- Mode: Routed (VTI) (`vti`)",
        f"- Local Network: Network `{p2['localid_address']}` / `{p2['localid_netbits']}`",
        f"- Remote Network: Address `{p2['remoteid_address']}`",
        "- Protocol: ESP",
    ]
    for item in p2["encryption_algorithm_option"]:
        lines.append(
            f"- Encryption Algorithms: {_ENC_WORDS.get(item['name'], item['name'])} "
            f"(`{item['name']}`), key length `{item['keylen']}`"
        )
    lines += [
        "- Hash Algorithms: "
        + ", ".join(f"{_HASH_WORDS.get(h, h)} (`{h}`)" for h in p2["hash_algorithm_option"])
        + " (required by pfSense, ignored with AES-GCM)",
        f"- PFS key group: {_dh(p2['pfsgroup'])} (`{p2['pfsgroup']}`)",
        f"- Life Time: `{p2['lifetime']}`; Rekey Time: `{p2['rekey_time']}`; Rand Time: "
        f"`{p2['rand_time']}`",
        "- Keep Alive: Enable",
        "- Save, then Apply Changes (this creates the VTI interface).",
        "",
        "## 3. Interfaces > Assignments",
        "",
        "- Available network ports: pick the `ipsecN` port of this phase 2 (`ipsec1` when it is "
        "the firewall's first VTI; N is the phase 2's reqid) and click Add.",
        f"- Open the new interface: Enable checked, Description `{iface['descr']}`, IPv4 "
        "Configuration Type None, IPv6 Configuration Type None, "
        f"MSS `{iface['mss']}` (pfSense clamps TCP to the field minus 40 for IPv4, so "
        f"`{iface['mss']}` gives {iface['mss'] - 40}, Azure's recommended TCP MSS, for LAN <-> "
        "VNet traffic through the VTI). Keep a lower MSS if one is already set.",
        "- Save, then Apply Changes.",
        "",
        *_system_steps(d.system),
        "## 4. Firewall > Rules > IPsec",
        "",
    ]
    for rule in d.rules:
        lines += [
            f"- Add a rule: Action Pass, Interface IPsec (`enc0`), Address Family IPv4, Protocol "
            f"Any, Source `{rule['source']}`, Destination `{rule['destination']}`, Description "
            f"`{rule['descr']}`.",
        ]
    lines += [
        "- Save, then Apply Changes. (With the default IPsec filter mode, VTI and BGP traffic "
        "is filtered on this tab, not on the VTI interface's tab.)",
        "",
        *_nat_steps(d.nat, iface["descr"]),
        "## 5. Services > FRR Global/Zebra and Services > FRR > BGP",
        "",
        "- Install the FRR package first if needed (System > Package Manager > `pfSense-pkg-frr`).",
        "- Services > FRR Global/Zebra: Enable FRR checked, set a Master Password (`on`).",
        f"- Services > FRR > BGP: Enable BGP Routing checked, Local AS `{bgp['asnum']}`, Router "
        f"ID `{bgp['routerid']}`.",
        "- Networks to Distribute: "
        + ", ".join(f"`{row['distributeroutevalue']}`" for row in bgp["row"])
        + " (Route Map: none).",
        "- BGP > Advanced: Disable eBGP Require Policy checked "
        f"(`disableebgprequirepolicy` = `{frr['frrbgpadvanced']['disableebgprequirepolicy']}`): "
        "without it FRR shows Established but exchanges no prefixes.",
        f"- BGP > Neighbors > Add: Name/Address `{neighbor['peer']}`, Description "
        f"`{neighbor['descr']}`, Remote AS `{neighbor['asnum']}`, Update Source "
        f"`{neighbor['updatesource']}`"
        + (f", eBGP Multihop `{neighbor['ebgpmultihop']}`" if neighbor.get("ebgpmultihop") else "")
        + ", Soft reconfiguration inbound checked (`on`).",
        "- Save.",
        "",
        "## 6. Check",
        "",
        "- Status > IPsec: the tunnel is Established with one child SA installed.",
        f"- Status > FRR > BGP: neighbor `{neighbor['peer']}` Established, prefixes received "
        "from Azure and the networks above sent.",
        "",
    ]
    return "\n".join(lines)


def _system_steps(system: dict) -> list[str]:
    lines = [
        "## 3a. VPN > IPsec > Advanced Settings",
        "",
        f"- Enable Maximum MSS: checked, Maximum MSS `{system['maxmss']}` (Azure's recommended TCP "
        "MSS clamp; pfSense applies this value as given, but only to traffic to and from Azure's "
        "BGP address, the phase 2 remote address). Keep a lower value if one is set.",
        "- Save.",
        "",
    ]
    if system.get("no_apipa_block"):
        lines += [
            "## 3b. System > Advanced > Firewall & NAT",
            "",
            "- Allow APIPA: checked. Without it pfSense blocks 169.254.0.0/16 before any rule and "
            "the APIPA BGP session never comes up.",
            "- Save (the filter reloads).",
            "",
        ]
    return lines


def _nat_steps(mappings: tuple[dict, ...], vti: str) -> list[str]:
    """Firewall > NAT > Outbound, when the site sources the firewall's own traffic to Azure from
    its LAN address (s2svpn.pfsense_nat: manual mappings act only in Hybrid or Manual mode, and
    the translation must be the address itself: "Interface Address" would be the VTI's)."""
    if not mappings:
        return []
    lines = [
        "## 4a. Firewall > NAT > Outbound",
        "",
        "- Mode: if it is Automatic, choose Hybrid Outbound NAT rule generation and Save "
        "(pfSense ignores the mapping below in Automatic mode). Leave Hybrid or Manual as it is; "
        "with outbound NAT Disabled the mapping does nothing.",
    ]
    for m in mappings:
        source, destination = m["source"].split("/"), m["destination"].split("/")
        lines.append(
            f"- Add a mapping: Interface `{vti}`, Address Family IPv4, Protocol any, Source "
            f"Network or Alias `{source[0]}` / `{source[1]}`, Destination Network or Alias "
            f"`{destination[0]}` / `{destination[1]}`, Translation Address Network or Alias "
            f"`{m['target']}` / `{m['target_subnet']}` (not Interface Address: that is the "
            f"tunnel's own address), Description `{m['descr']}`."
        )
    lines += [
        "- Save, then Apply Changes. pfSense's own traffic to the VNet (DNS, NTP, ping) now "
        "leaves the tunnel from the LAN address, so the reply comes back through the tunnel.",
        "",
    ]
    return lines


# ---- config.xml ---------------------------------------------------------------------------------
def _text(parent: ET.Element, tag: str, value: Any) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if value is True:
        element.text = ""
    elif value is not None and value is not False:
        element.text = str(value)
    return element


def config_xml_fragment(
    intent: SiteIntent,
    *,
    azure_public_ip: str,
    azure_bgp_ip: str,
    psk_placeholder: str = "<your PSK>",
    ikeid: int = 1,
    reqid: int = 1,
    interface_id: str = "opt1",
) -> str:
    """The same objects as ``config.xml`` sections (merge them under ``<pfsense>``).

    ``ikeid``/``reqid``/``interface_id`` must be free on the target firewall (defaults fit a
    firewall without other IPsec tunnels or optional interfaces).
    """
    d = _desired(intent, azure_public_ip, azure_bgp_ip, psk_placeholder)
    p1, p2, iface, frr = d.phase1, d.phase2, d.interface, d.frr
    root = ET.Element("pfsense")

    interfaces = ET.SubElement(root, "interfaces")
    opt = ET.SubElement(interfaces, interface_id)
    _text(opt, "descr", iface["descr"])
    _text(opt, "if", f"ipsec{reqid}")
    if iface["enable"]:
        _text(opt, "enable", True)
    _text(opt, "spoofmac", "")
    _text(opt, "mss", iface["mss"])  # interfaces.php stores the MSS field as interfaces/<id>/mss
    system = ET.SubElement(root, "system")
    if d.system.get("no_apipa_block"):
        _text(system, "no_apipa_block", "yes")
    _text(system, "maxmss_enable", "yes")
    _text(system, "maxmss", d.system["maxmss"])

    if d.nat:
        outbound = ET.SubElement(ET.SubElement(root, "nat"), "outbound")
        _text(outbound, "mode", "hybrid")  # only if it is automatic now (see the GUI steps)
        for m in d.nat:
            element = ET.SubElement(outbound, "rule")
            _text(element, "interface", interface_id)
            _text(ET.SubElement(element, "source"), "network", m["source"])
            _text(ET.SubElement(element, "destination"), "network", m["destination"])
            _text(element, "target", m["target"])
            _text(element, "target_subnet", m["target_subnet"])
            _text(element, "descr", m["descr"])

    filt = ET.SubElement(root, "filter")
    for rule in d.rules:
        element = ET.SubElement(filt, "rule")
        _text(element, "type", rule["type"])
        _text(element, "interface", ",".join(rule["interface"]))
        _text(element, "ipprotocol", rule["ipprotocol"])
        source = ET.SubElement(element, "source")
        if rule["source"] == "any":
            _text(source, "any", True)
        else:
            _text(source, "network" if "/" not in rule["source"] else "address", rule["source"])
        destination = ET.SubElement(element, "destination")
        _text(destination, "any", True)
        _text(element, "descr", rule["descr"])

    ipsec = ET.SubElement(root, "ipsec")
    phase1 = ET.SubElement(ipsec, "phase1")
    _text(phase1, "ikeid", ikeid)
    _text(phase1, "iketype", p1["iketype"])
    _text(phase1, "interface", p1["interface"])
    _text(phase1, "remote-gateway", p1["remote_gateway"])
    _text(phase1, "protocol", p1["protocol"])
    _text(phase1, "myid_type", p1["myid_type"])
    _text(phase1, "myid_data", p1.get("myid_data", ""))
    _text(phase1, "peerid_type", p1["peerid_type"])
    _text(phase1, "peerid_data", "")
    encryption = ET.SubElement(phase1, "encryption")
    for item in p1["encryption"]:
        entry = ET.SubElement(encryption, "item")
        algorithm = ET.SubElement(entry, "encryption-algorithm")
        _text(algorithm, "name", item["encryption_algorithm_name"])
        _text(algorithm, "keylen", item["encryption_algorithm_keylen"])
        _text(entry, "hash-algorithm", item["hash_algorithm"])
        _text(entry, "prf-algorithm", item["prf_algorithm"])
        _text(entry, "dhgroup", item["dhgroup"])
    for key in ("lifetime", "rekey_time", "reauth_time", "rand_time"):
        _text(phase1, key, p1[key])
    _text(phase1, "pre-shared-key", p1["pre_shared_key"])
    _text(phase1, "authentication_method", p1["authentication_method"])
    _text(phase1, "descr", p1["descr"])
    _text(phase1, "nat_traversal", p1["nat_traversal"])
    _text(phase1, "mobike", "on" if p1["mobike"] else "off")
    _text(phase1, "startaction", p1["startaction"])
    _text(phase1, "closeaction", p1["closeaction"])
    _text(phase1, "dpd_delay", p1["dpd_delay"])
    _text(phase1, "dpd_maxfail", p1["dpd_maxfail"])

    phase2 = ET.SubElement(ipsec, "phase2")
    _text(phase2, "ikeid", ikeid)
    _text(phase2, "mode", p2["mode"])
    _text(phase2, "reqid", reqid)
    local = ET.SubElement(phase2, "localid")
    _text(local, "type", p2["localid_type"])
    _text(local, "address", p2["localid_address"])
    _text(local, "netbits", p2["localid_netbits"])
    remote = ET.SubElement(phase2, "remoteid")
    _text(remote, "type", p2["remoteid_type"])
    _text(remote, "address", p2["remoteid_address"])
    _text(phase2, "protocol", p2["protocol"])
    for item in p2["encryption_algorithm_option"]:
        option = ET.SubElement(phase2, "encryption-algorithm-option")
        _text(option, "name", item["name"])
        _text(option, "keylen", item["keylen"])
    for hash_name in p2["hash_algorithm_option"]:
        _text(phase2, "hash-algorithm-option", hash_name)
    for key in ("pfsgroup", "lifetime", "rekey_time", "rand_time"):
        _text(phase2, key, p2[key])
    _text(phase2, "keepalive", "enabled" if p2["keepalive"] else "disabled")
    _text(phase2, "descr", p2["descr"])

    packages = ET.SubElement(root, "installedpackages")
    for section in ("frr", "frrbgp", "frrbgpadvanced"):
        config = ET.SubElement(ET.SubElement(packages, section), "config")
        values = dict(frr[section])
        if section == "frr":
            values.setdefault("password", "<choose an FRR master password>")
        for key, value in values.items():
            if key == "row":
                for row in value:
                    row_element = ET.SubElement(config, "row")
                    for row_key, row_value in row.items():
                        _text(row_element, row_key, row_value)
            else:
                _text(config, key, value)
    neighbors = ET.SubElement(packages, "frrbgpneighbors")
    for neighbor in frr["frrbgpneighbors"]:
        config = ET.SubElement(neighbors, "config")
        for key, value in neighbor.items():
            _text(config, key, value)

    ET.indent(root, space="\t")
    body = ET.tostring(root, encoding="unicode")
    header = (
        '<?xml version="1.0"?>\n'
        f"<!-- s2svpn site {_xml_comment(intent.slug)}: merge these sections into config.xml "
        "(Diagnostics > Backup & Restore); the pre-shared key is a placeholder. -->\n"
    )
    return header + body + "\n"


def _xml_comment(text: str) -> str:
    return text.replace("--", "- -")
