"""The pfSense end of a site, as data: REST API v2 bodies and FRR package sections.

``desired_pfsense(intent, …)`` compiles a :class:`~s2svpn.intent.SiteIntent` into exactly what
the push writes (and what the manual export tells a human to type): phase 1, phase 2 (VTI), the
``ipsec<reqid>`` interface assignment, the IPsec-tab (``enc0``) pass rule and the FRR BGP sections
of ``installedpackages``. Field names and defaults follow pfSense-pkg-RESTAPI v2
(https://pfrest.org/api-docs/, models ``IPsecPhase1``, ``IPsecPhase2``, ``NetworkInterface``,
``FirewallRule``) and pfSense-pkg-frr's ``frr*.xml`` (see ``shared/reference/pfsense.md`` §4).

The fixed command texts the client sends through ``POST /api/v2/diagnostics/command_prompt``
live here too, so the client and the sandbox agree on them: no user-supplied text is ever part
of a command; data travels only as base64 (``[A-Za-z0-9+/=]``), in chunks because the endpoint's
``command`` field is at most 1024 characters.

Pure module: no Django, no I/O.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any

from s2svpn.errors import InputError
from s2svpn.intent import SiteIntent
from s2svpn.pfsense_compare import FRR_SECTIONS, diff_fields, merge_frr
from s2svpn.pfsense_nat import desired_mappings
from s2svpn.pfsense_system import (
    SYSTEM_KEYS,
    VTI_MSS,
    effective_maxmss,
    interface_body,
    system_changes,
)

__all__ = [
    "FRR_SECTIONS",
    "SYSTEM_KEYS",
    "PfSenseDesired",
    "checkpoint_command",
    "desired_pfsense",
    "diff_fields",
    "discard_checkpoint_command",
    "effective_maxmss",
    "frr_generate_command",
    "frr_read_command",
    "frr_write_commands",
    "interface_body",
    "merge_frr",
    "restore_command",
    "rule_sources",
    "system_changes",
    "system_read_command",
    "system_write_commands",
    "vtysh_command",
]

MSS = 1350
P1_REKEY_FRACTION = 0.9  # pfSense's own default ratio (28800 -> 25920)
P2_REKEY_FRACTION = 0.9
P2_RAND_FRACTION = 0.1
IPSEC_DESCR_MAX = 22  # NETWORK_INTERFACE_DESCR_IPSEC_MAX_LENGTH_EXCEEDED


@dataclass(frozen=True)
class PfSenseDesired:
    """What s2svpn wants on the firewall (bodies without the ids pfSense assigns)."""

    phase1: dict  # POST /api/v2/vpn/ipsec/phase1 body (incl. pre_shared_key, no "apply")
    phase2: dict  # POST /api/v2/vpn/ipsec/phase2 body WITHOUT ikeid (filled at push time)
    interface: dict  # POST /api/v2/interface body WITHOUT "if" (ipsec<reqid>, push time)
    rule: dict  # POST /api/v2/firewall/rule body (pass on enc0)
    frr: dict  # {"frr": {...}, "frrbgp": {...}, "frrbgpadvanced": {...}, "frrbgpneighbors": [...]}
    # One more pass rule per extra source when the sources are not one prefix (a rule's source is
    # a single address/network in the API); same body as ``rule`` apart from source and descr.
    extra_rules: tuple[dict, ...] = ()
    # Facts the push and the sandbox need beside the bodies.
    facts: dict = field(default_factory=dict)
    # System settings the tunnel needs (``SYSTEM_KEYS``; no REST field exists for them): "Allow
    # APIPA" in APIPA mode and IPsec Advanced's maximum MSS; see :func:`system_changes`.
    system: dict = field(default_factory=dict)
    # Outbound NAT mappings on the VTI (the user's fix for firewall-originated traffic, bodies
    # without ``interface``: s2svpn.pfsense_nat); empty unless chosen.
    nat: tuple[dict, ...] = ()

    @property
    def rules(self) -> tuple[dict, ...]:
        return (self.rule, *self.extra_rules)

    def redacted(self) -> dict:
        """Everything, with the PSK replaced: safe to show in a plan or log."""
        phase1 = dict(self.phase1, pre_shared_key="********")
        return {
            "phase1": phase1,
            "phase2": self.phase2,
            "interface": self.interface,
            "rules": list(self.rules),
            "frr": self.frr,
            "system": self.system,
            "nat": list(self.nat),
        }


def _lifetimes(crypto: Any) -> tuple[int, int]:
    ike = int(getattr(crypto, "ike_lifetime", 28800) or 28800)
    child = int(getattr(crypto, "child_lifetime", 27000) or 27000)
    return ike, child


# Phase 1 "My identifier" types s2svpn can push, and whether each needs data. What pfSense sends
# for each is ipsec_find_id() + ipsec_fixup_id() in src/etc/inc/ipsec.inc (RELENG_2_7_2):
# myaddress -> the WAN interface address (behind NAT: the private one), dyn_dns -> "dns:<fqdn>"
# (nothing is resolved), fqdn -> "fqdn:<name>", user_fqdn -> "userfqdn:<mail>", address -> as given.
MYID_TYPES = {"myaddress": False, "address": True, "fqdn": True, "dyn_dns": True, "user_fqdn": True}


def _myid(intent: SiteIntent) -> tuple[str, str | None]:
    """Phase 1 "My identifier": pfSense's default "My IP address" unless the site overrides it.

    The seed tunnel (pfSense behind a FRITZ!Box, identity left at "My IP address", so the private
    WAN address went out as IDi) came up against real Azure: Azure does not require IDi to be the
    local network gateway's address. The per-site override (``ike_myid_type``/``ike_myid_data``)
    exists for setups that need another identity."""
    kind = intent.ike_myid_type or "myaddress"
    if kind not in MYID_TYPES:
        raise InputError(
            f"The phase 1 identifier type {kind!r} is not one s2svpn can push; use one of "
            f"{', '.join(MYID_TYPES)}.",
            "ike_myid_type",
        )
    if not MYID_TYPES[kind]:
        return kind, None
    data = (intent.ike_myid_data or "").strip()
    if not data:
        raise InputError(
            f"The phase 1 identifier type {kind!r} needs a value (ike_myid_data), e.g. the public "
            "IP address for 'address' or a host name for 'fqdn'.",
            "ike_myid_data",
        )
    return kind, data


def frr_description(text: str) -> str:
    """A neighbor description FRR can hold on one line (control characters would split
    frr.conf, so they become spaces)."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return re.sub(r"\s+", " ", cleaned).strip()[:80]


def rule_sources(intent: SiteIntent, azure_bgp_ip: str) -> list[str]:
    """Sources the IPsec-tab rule admits: the VNet prefixes plus Azure's BGP address (unless a
    VNet prefix already covers it), or ``any``."""
    if intent.firewall_scope == "any":
        return ["any"]
    networks = [ipaddress.ip_network(p, strict=False) for p in intent.vnet_prefixes]
    sources = [str(n) for n in ipaddress.collapse_addresses(n for n in networks if n.version == 4)]
    bgp = ipaddress.ip_address(azure_bgp_ip)
    if not any(bgp in net for net in networks):
        sources.append(f"{bgp}/32")
    return sources


def desired_pfsense(
    intent: SiteIntent,
    *,
    azure_public_ip: str,
    azure_bgp_ip: str,
    psk: str,
    bgp_source_interface: str = "lan",
) -> PfSenseDesired:
    """Compile the intent into the pfSense objects s2svpn owns.

    ``bgp_source_interface`` is the pfSense interface id that holds ``intent.onprem_bgp_ip``
    (the LAN in the canonical scenario); the push passes what its preflight found. Raises
    ``ValueError`` with a plain explanation when the intent cannot be expressed on pfSense.
    """
    from s2svpn import activeactive
    from s2svpn.ipsec import to_pfsense  # domain mapping Azure policy -> pfSense proposals

    crypto = to_pfsense(intent.policy)
    # One tunnel per gateway instance; active-standby is instance 0 (s2svpn.activeactive).
    transit = activeactive.transit(intent, intent.instance, azure_bgp_ip)
    if transit is None:
        raise ValueError(
            "The VTI transit network is not known yet: Azure's BGP address is missing. Wait until "
            "the VPN gateway exists (or use APIPA BGP addresses) and plan again."
        )
    _check_vti_descr(intent.vti_descr)
    ike_lifetime, child_lifetime = _lifetimes(crypto)
    myid_type, myid_data = _myid(intent)

    phase1: dict[str, Any] = {
        "descr": intent.descr,
        "disabled": False,
        "iketype": "ikev2",
        "protocol": "inet",
        "interface": intent.wan_interface,
        "remote_gateway": azure_public_ip,
        "authentication_method": "pre_shared_key",
        "myid_type": myid_type,
        "peerid_type": "peeraddress",
        "pre_shared_key": psk,
        "lifetime": ike_lifetime,
        "rekey_time": int(ike_lifetime * P1_REKEY_FRACTION),
        "reauth_time": 0,
        "rand_time": int(ike_lifetime * 0.1),
        "startaction": "start",
        "closeaction": "",
        "nat_traversal": "on",
        "mobike": False,
        "dpd_delay": 10,
        "dpd_maxfail": 5,
        "encryption": [
            {
                "encryption_algorithm_name": name,
                "encryption_algorithm_keylen": int(keylen),
                "hash_algorithm": hash_name,
                "dhgroup": int(dhgroup),
                "prf_algorithm": hash_name,
            }
            for name, keylen, hash_name, dhgroup in crypto.ike_proposals
        ],
    }
    if myid_data is not None:
        phase1["myid_data"] = myid_data

    network = ipaddress.ip_network(transit.network, strict=False)
    phase2 = {
        "descr": intent.descr,
        "disabled": False,
        "mode": "vti",
        "localid_type": "network",
        "localid_address": transit.pfsense_ip,
        "localid_netbits": network.prefixlen,
        "remoteid_type": "address",
        "remoteid_address": transit.azure_ip,
        "protocol": "esp",
        "encryption_algorithm_option": [
            {"name": name, "keylen": int(keylen)} for name, keylen in crypto.esp_encryptions
        ],
        # Required by the API even for AES-GCM (ignored then): reference/pfsense.md gotcha 4.
        "hash_algorithm_option": list(crypto.esp_hashes) or ["hmac_sha256"],
        "pfsgroup": int(crypto.pfs_group),
        "lifetime": child_lifetime,
        "rekey_time": int(child_lifetime * P2_REKEY_FRACTION),
        "rand_time": int(child_lifetime * P2_RAND_FRACTION),
        "keepalive": True,
    }
    # MSS 1390: filter.inc applies the interface field minus 40 (max-mss 1350 on ipsecN), the
    # only clamp that covers LAN <-> VNet traffic; IPsec Advanced's maximum MSS (``system``)
    # covers just <vpn_networks>, i.e. Azure's BGP address (s2svpn.pfsense_system).
    interface = {
        "descr": intent.vti_descr,
        "enable": True,
        "typev4": "none",
        "typev6": "none",
        "mss": VTI_MSS,
    }
    sources = rule_sources(intent, transit.azure_ip if intent.bgp_mode == "apipa" else azure_bgp_ip)
    rules = [
        {
            "type": "pass",
            "interface": ["enc0"],
            "ipprotocol": "inet",
            "protocol": None,
            "source": source,
            "destination": "any",
            "descr": intent.descr if index == 0 else f"{intent.descr} ({index + 1})",
            "log": False,
            "disabled": False,
        }
        for index, source in enumerate(sources)
    ]

    neighbor_ip = transit.azure_ip if intent.bgp_mode == "apipa" else azure_bgp_ip
    via_lan = intent.onprem_bgp_ip and intent.onprem_bgp_ip != transit.pfsense_ip
    neighbor: dict[str, Any] = {
        "peer": neighbor_ip,
        "descr": frr_description(intent.descr),
        "asnum": str(intent.azure_asn),
        "peergroup": "none",
        "password_type": "none",
        "updatesource_type": "ipv4",
        # Source BGP from the on-prem BGP address Azure expects (the LAN IP in the canonical
        # scenario) with multihop; on the /30 itself "default" is right (gotchas 12-13).
        "updatesource": bgp_source_interface if via_lan else "default",
        "defaultoriginate": "no",
        "sendcommunity": "disabled",
        "nexthopself": "disabled",
        "softreconfigurationinbound": "on",
    }
    if via_lan:
        neighbor["ebgpmultihop"] = "2"
    if intent.active_active:
        # Two tunnels: a dead instance's routes must go within the hold time (s2svpn.activeactive).
        neighbor["timers_keepalive"] = str(activeactive.KEEPALIVE_SECONDS)
        neighbor["timers_holdtime"] = str(activeactive.HOLD_SECONDS)
    bgp_router_id = intent.onprem_bgp_ip or transit.pfsense_ip
    frr = {
        "frr": {"enable": "on"},
        "frrbgp": {
            "enable": "on",
            "asnum": str(intent.onprem_asn),
            "routerid": bgp_router_id,
            "row": [
                {"distributeroutevalue": prefix, "distributeroutemap": "none"}
                for prefix in intent.lan_prefixes
            ],
        },
        "frrbgpadvanced": {"disableebgprequirepolicy": "on"},
        "frrbgpneighbors": [neighbor],
    }
    facts = {
        "transit": {
            "network": transit.network,
            "pfsense_ip": transit.pfsense_ip,
            "azure_ip": transit.azure_ip,
        },
        "azure_public_ip": azure_public_ip,
        "azure_bgp_ip": neighbor_ip,
        "bgp_update_source_ip": intent.onprem_bgp_ip if via_lan else transit.pfsense_ip,
        "onprem_asn": intent.onprem_asn,
        "azure_asn": intent.azure_asn,
        "networks": list(intent.lan_prefixes),
    }
    system = {"maxmss": MSS, "no_apipa_block": intent.bgp_mode == "apipa"}
    return PfSenseDesired(
        system=system,
        nat=desired_mappings(intent, transit.pfsense_ip),
        phase1=phase1,
        phase2=phase2,
        interface=interface,
        rule=rules[0],
        frr=frr,
        extra_rules=tuple(rules[1:]),
        facts=facts,
    )


def _check_vti_descr(descr: str) -> None:
    if not descr or len(descr) > IPSEC_DESCR_MAX:
        raise InputError(
            f"The VTI interface name {descr!r} must be 1 to {IPSEC_DESCR_MAX} characters "
            "(pfSense limits names of ipsec interfaces); choose a shorter name such as AZUREVTI.",
            "vti_descr",
        )
    if not re.match(r"^[A-Za-z0-9_]+$", descr) or descr.isdigit() or descr.startswith("pkg_"):
        raise InputError(
            f"The VTI interface name {descr!r} may only use letters, digits and underscores, "
            "must not be a number and must not start with pkg_; choose a name such as AZUREVTI.",
            "vti_descr",
        )


# ---- command texts (fixed; data only as base64) ------------------------------------------------
PHP = "/usr/local/bin/php"
VTYSH = "/usr/local/bin/vtysh"
COMMAND_MAX = 1024  # CommandPrompt.command maximum_length in the contract
STAGE_PREFIX = "/tmp/s2svpn-"
CHECKPOINT_DIR = "/var/db/s2svpn"
_NONCE = re.compile(r"^[0-9a-f]{16}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")

CHECKPOINT_SECTIONS = (
    "ipsec/phase1",
    "ipsec/phase2",
    "interfaces",
    "filter/rule",
    "installedpackages/frr",
    "installedpackages/frrbgp",
    "installedpackages/frrbgpadvanced",
    "installedpackages/frrbgpneighbors",
    "system/no_apipa_block",
    "system/maxmss_enable",
    "system/maxmss",
    "nat/outbound",  # outbound NAT mode + mappings (firewall-originated traffic, pfsense_nat)
)
_SECTION_LIST = "[" + ",".join(f'"{s}"' for s in CHECKPOINT_SECTIONS) + "]"

FRR_WRITE_PHP = (
    "$f=$argv[1];$d=json_decode(base64_decode(file_get_contents($f)),true);@unlink($f);"
    'if(!is_array($d)){echo "s2svpn: unreadable payload";exit(2);}'
    'require_once("config.inc");'
    'foreach(["frr","frrbgp","frrbgpadvanced"] as $k){if(!array_key_exists($k,$d))continue;'
    'if($d[$k]===null){config_del_path("installedpackages/$k");}'
    'else{config_set_path("installedpackages/$k/config/0",$d[$k]);}}'
    'if(array_key_exists("frrbgpneighbors",$d)){if(empty($d["frrbgpneighbors"])){'
    'config_del_path("installedpackages/frrbgpneighbors");}else{'
    'config_set_path("installedpackages/frrbgpneighbors/config",array_values($d["frrbgpneighbors"]));}}'
    'write_config("s2svpn: FRR BGP settings");echo "s2svpn: written";'
)
_SYSTEM_LIST = "[" + ",".join(f'"{k}"' for k in SYSTEM_KEYS) + "]"
# Writes only the keys present in the payload (null = unset); the filter reload that makes them
# live is the push's firewall apply (POST /api/v2/firewall/apply runs filter_configure()).
SYSTEM_WRITE_PHP = (
    "$f=$argv[1];$d=json_decode(base64_decode(file_get_contents($f)),true);@unlink($f);"
    'if(!is_array($d)){echo "s2svpn: unreadable payload";exit(2);}'
    'require_once("config.inc");foreach(' + _SYSTEM_LIST + " as $k){"
    "if(!array_key_exists($k,$d))continue;"
    'if($d[$k]===null){config_del_path("system/$k");}else{config_set_path("system/$k",$d[$k]);}}'
    'write_config("s2svpn: system settings (Allow APIPA, maximum MSS)");echo "s2svpn: written";'
)
SYSTEM_READ_PHP = (
    'require_once("config.inc");$o=[];foreach(' + _SYSTEM_LIST + " as $k){"
    '$o[$k]=config_get_path("system/$k");}echo json_encode($o);'
)
FRR_READ_PHP = (
    'require_once("config.inc");$o=[];foreach(["frr","frrbgp","frrbgpadvanced"] as $k){'
    '$o[$k]=config_get_path("installedpackages/$k/config/0");}'
    '$o["frrbgpneighbors"]=config_get_path("installedpackages/frrbgpneighbors/config",[]);'
    "echo json_encode($o);"
)
FRR_GENERATE_PHP = (
    'require_once("config.inc");require_once("/usr/local/pkg/frr.inc");'
    'frr_generate_config();echo "s2svpn: frr generated";'
)
CHECKPOINT_PHP = (
    'require_once("config.inc");$o=[];foreach(' + _SECTION_LIST + " as $p){"
    "$o[$p]=config_get_path($p);}$j=base64_encode(json_encode($o));"
    "@mkdir(dirname($argv[1]),0700,true);file_put_contents($argv[1],$j);chmod($argv[1],0600);"
    'echo json_encode(["sha256"=>hash("sha256",$j),"bytes"=>strlen($j)]);'
)
RESTORE_PHP = (
    'require_once("config.inc");require_once("ipsec.inc");require_once("filter.inc");'
    '$j=@file_get_contents($argv[1]);if($j===false){echo "s2svpn: checkpoint missing";exit(3);}'
    'if(hash("sha256",$j)!==$argv[2]){echo "s2svpn: checkpoint changed";exit(4);}'
    "$d=json_decode(base64_decode($j),true);foreach(" + _SECTION_LIST + " as $p){"
    "if(!array_key_exists($p,$d))continue;if($d[$p]===null){config_del_path($p);}"
    'else{config_set_path($p,$d[$p]);}}write_config("s2svpn: restored checkpoint");'
    'ipsec_configure();filter_configure();if(file_exists("/usr/local/pkg/frr.inc")){'
    'require_once("/usr/local/pkg/frr.inc");frr_generate_config();}echo "s2svpn: restored";'
)


def _php(code: str, *args: str) -> str:
    assert "'" not in code, "PHP snippets must not contain single quotes"
    return " ".join([PHP, "-r", f"'{code}'", *args])


def stage_path(nonce: str) -> str:
    _check_nonce(nonce)
    return f"{STAGE_PREFIX}{nonce}.b64"


def checkpoint_path(nonce: str) -> str:
    _check_nonce(nonce)
    return f"{CHECKPOINT_DIR}/checkpoint-{nonce}.json"


def _check_nonce(nonce: str) -> None:
    if not _NONCE.match(nonce):
        raise ValueError("a command nonce is 16 lowercase hex characters")


def stage_command(chunk: str, nonce: str) -> str:
    return f"umask 077; printf %s {chunk} >> {stage_path(nonce)}"


def _staged_php(data: dict, nonce: str, code: str) -> list[str]:
    """Commands that hand ``data`` to a fixed PHP snippet: base64 JSON staged in chunks (the
    endpoint's ``command`` is at most 1024 characters), then the snippet reading the file."""
    blob = base64.b64encode(
        json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    ).decode()
    room = COMMAND_MAX - len(stage_command("", nonce))
    chunks = [blob[i : i + room] for i in range(0, len(blob), room)] or [""]
    return [stage_command(chunk, nonce) for chunk in chunks] + [_php(code, stage_path(nonce))]


def frr_write_commands(sections: dict, nonce: str) -> list[str]:
    """Commands that write the FRR sections: base64 JSON staged in chunks, then fixed PHP."""
    return _staged_php(sections, nonce, FRR_WRITE_PHP)


def system_write_commands(values: dict, nonce: str) -> list[str]:
    """Commands that set (or, for None, unset) ``system/<key>`` for keys of ``SYSTEM_KEYS``."""
    unknown = set(values) - set(SYSTEM_KEYS)
    if unknown:
        raise ValueError(f"not a system setting s2svpn writes: {', '.join(sorted(unknown))}")
    return _staged_php(values, nonce, SYSTEM_WRITE_PHP)


def system_read_command() -> str:
    return _php(SYSTEM_READ_PHP)


def frr_read_command() -> str:
    return _php(FRR_READ_PHP)


def frr_generate_command() -> str:
    return _php(FRR_GENERATE_PHP)


def checkpoint_command(nonce: str) -> str:
    return _php(CHECKPOINT_PHP, checkpoint_path(nonce))


def restore_command(nonce: str, sha256: str) -> str:
    if not _SHA.match(sha256):
        raise ValueError("a checkpoint digest is 64 lowercase hex characters")
    return _php(RESTORE_PHP, checkpoint_path(nonce), sha256)


def discard_checkpoint_command(nonce: str) -> str:
    return f"rm -f {checkpoint_path(nonce)}"


VTYSH_QUERIES = {
    "summary": "show bgp ipv4 unicast summary json",
    "neighbor": "show bgp ipv4 unicast neighbors {ip} json",
    "routes": "show bgp ipv4 unicast neighbors {ip} routes json",
    "advertised": "show bgp ipv4 unicast neighbors {ip} advertised-routes json",
}


def vtysh_command(kind: str, ip: str | None = None) -> str:
    """``vtysh -c '<query>'``; the only variable part is an IP address we validated."""
    query = VTYSH_QUERIES[kind]
    if "{ip}" in query:
        query = query.format(ip=str(ipaddress.ip_address(ip or "")))
    return f"{VTYSH} -c '{query}'"
