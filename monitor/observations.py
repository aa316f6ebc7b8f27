"""What the two ends' readings say, before any verdict: the prefixes each end learned and
advertises, the BGP peer that is this site's, and the algorithms the established SAs use compared
with the intended policy (strongSwan's vici names, https://docs.strongswan.org/docs/latest/plugins/vici.html).

Pure: plain functions, no Django, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from s2svpn.intent import SiteIntent
from s2svpn.ipsec import to_strongswan
from s2svpn.status import BgpPeer, EndStatus

# ---------------------------------------------------------------------------------------------
# Prefixes


def learned_prefixes(end: EndStatus) -> list[str]:
    """Prefixes this end learned from its BGP peer (Azure also lists its own ``Network`` routes)."""
    out = []
    for route in end.learned_routes:
        origin = (route.origin or "").lower()
        if origin in ("network", "static", "local", "connected"):
            continue
        if route.prefix not in out:
            out.append(route.prefix)
    return out


def advertised_prefixes(end: EndStatus) -> list[str]:
    out = []
    for route in end.advertised_routes:
        if route.prefix not in out:
            out.append(route.prefix)
    return out


@dataclass(frozen=True)
class RouteRow:
    prefix: str
    intended: bool
    advertised: bool  # the other end says it advertises it
    learned: bool  # this end has it
    status: str  # ok | missing | unexpected | extra


def route_table(
    learned: Iterable[str], advertised: Iterable[str], intended: Iterable[str]
) -> list[RouteRow]:
    """One row per prefix: learned by this end vs advertised by the other vs intended.

    ``missing``: intended (or advertised) but not learned; ``unexpected``: learned but neither
    intended nor advertised; ``extra``: learned and advertised but not in the intent.
    """
    learned_set, advertised_set, intended_set = set(learned), set(advertised), set(intended)
    rows = []
    for prefix in sorted(learned_set | advertised_set | intended_set, key=_prefix_key):
        is_learned = prefix in learned_set
        if not is_learned:
            status = "missing"
        elif prefix in intended_set:
            status = "ok"
        elif prefix in advertised_set:
            status = "extra"
        else:
            status = "unexpected"
        rows.append(
            RouteRow(prefix, prefix in intended_set, prefix in advertised_set, is_learned, status)
        )
    return rows


def _prefix_key(prefix: str) -> tuple:
    head, _, length = prefix.partition("/")
    try:
        return (0, tuple(int(p) for p in head.split(".")), int(length or 32))
    except ValueError:
        return (1, prefix, 0)


# ---------------------------------------------------------------------------------------------
# Peers


def azure_peer(end: EndStatus, intent: SiteIntent) -> BgpPeer | None:
    """Azure's BGP session to pfSense (the peer at the on-prem BGP address)."""
    return _peer_for(
        end.bgp_peers, {intent.onprem_bgp_ip, intent.onprem_apipa_ip} - {""}, intent.onprem_asn
    )


def pfsense_peer(
    end: EndStatus, intent: SiteIntent, azure_bgp_ips: Iterable[str] = ()
) -> BgpPeer | None:
    """pfSense's BGP session to Azure (the neighbour at Azure's BGP address or ASN)."""
    addresses = set(azure_bgp_ips) | {intent.azure_apipa_ip} - {""}
    return _peer_for(end.bgp_peers, addresses, intent.azure_asn)


def _peer_for(peers: list[BgpPeer], addresses: set[str], asn: int) -> BgpPeer | None:
    for peer in peers:
        if peer.neighbor in addresses:
            return peer
    for peer in peers:
        if peer.asn == asn:
            return peer
    return peers[0] if len(peers) == 1 else None


# ---------------------------------------------------------------------------------------------
# Negotiated vs intended proposals (strongSwan vici names -> proposal keywords)

_ENC = {
    "AES_CBC": "aes{k}",
    "AES_CTR": "aes{k}ctr",
    "AES_GCM_16": "aes{k}gcm16",
    "AES_GCM_12": "aes{k}gcm12",
    "AES_GCM_8": "aes{k}gcm8",
    "3DES_CBC": "3des",
    "DES_CBC": "des",
    "CHACHA20_POLY1305": "chacha20poly1305",
}
_INTEG = {
    "HMAC_MD5_96": "md5",
    "HMAC_SHA1_96": "sha1",
    "HMAC_SHA2_256_128": "sha256",
    "HMAC_SHA2_384_192": "sha384",
    "HMAC_SHA2_512_256": "sha512",
    "AES_XCBC_96": "aesxcbc",
}
_DH = {
    "MODP_2048_256": "modp2048s256",
    "MODP_2048_224": "modp2048s224",
    "MODP_1024_160": "modp1024s160",
}


def vici_encryption(name: str, keysize: int | None) -> str:
    template = _ENC.get(name.upper())
    if template is None:
        return name.lower().replace("_", "")
    return template.format(k=keysize or "")


def vici_integrity(name: str) -> str:
    if not name:
        return ""
    return _INTEG.get(name.upper(), name.lower().replace("hmac_", "").replace("_", ""))


def vici_prf(name: str) -> str:
    if not name:
        return ""
    return (
        name.upper()
        .removeprefix("PRF_HMAC_")
        .removeprefix("PRF_")
        .lower()
        .replace("sha2_", "sha")
        .replace("_", "")
    )


def vici_group(name: str) -> str:
    if not name:
        return ""
    return _DH.get(name.upper(), name.lower().replace("_", ""))


def _is_group(token: str) -> bool:
    return token.startswith(("modp", "ecp", "curve", "x25519", "x448"))


def _split_ike(text: str) -> dict[str, str]:
    tokens = text.split("-")
    out = {"enc": tokens[0], "integ": "", "prf": "", "dh": ""}
    for token in tokens[1:]:
        if _is_group(token):
            out["dh"] = token
        elif token.startswith("prf"):
            out["prf"] = token.removeprefix("prf")
        else:
            out["integ"] = token
    if not out["prf"]:
        out["prf"] = out["integ"]
    return out


def _split_esp(text: str) -> dict[str, str]:
    tokens = text.split("-")
    out = {"enc": tokens[0], "integ": "", "dh": ""}
    for token in tokens[1:]:
        if _is_group(token):
            out["dh"] = token
        else:
            out["integ"] = token
    return out


def negotiated(end: EndStatus) -> dict[str, str]:
    """The algorithms the established IKE and child SA use, as proposal text (for the page)."""
    for sa in end.sas:
        if sa.state.upper() != "ESTABLISHED":
            continue
        ike = "-".join(
            p
            for p in (
                vici_encryption(sa.encr_alg, sa.encr_keysize),
                vici_integrity(sa.integ_alg),
                f"prf{vici_prf(sa.prf_alg)}" if sa.prf_alg else "",
                vici_group(sa.dh_group),
            )
            if p
        )
        esp = ""
        for child in sa.children:
            esp = "-".join(
                p
                for p in (
                    vici_encryption(child.encr_alg, child.encr_keysize),
                    vici_integrity(child.integ_alg),
                    vici_group(child.dh_group),
                )
                if p
            )
            break
        return {"ike": ike, "esp": esp}
    return {}


def proposal_differences(end: EndStatus, intent: SiteIntent) -> list[str]:
    """Where the SA pfSense negotiated differs from the intended Azure policy ([] = same)."""
    try:
        want_ike, want_esp = to_strongswan(intent.policy)
    except ValueError:
        return []
    ike, esp = _split_ike(want_ike), _split_esp(want_esp)
    diffs: list[str] = []
    for sa in end.sas:
        if sa.state.upper() != "ESTABLISHED":
            continue
        got = {
            "enc": vici_encryption(sa.encr_alg, sa.encr_keysize),
            "integ": vici_integrity(sa.integ_alg),
            "prf": vici_prf(sa.prf_alg),
            "dh": vici_group(sa.dh_group),
        }
        for key, label in (("enc", "encryption"), ("dh", "DH group"), ("prf", "PRF")):
            if got[key] and ike[key] and got[key] != ike[key]:
                diffs.append(f"IKE {label} is {got[key]}, the policy says {ike[key]}")
        if (
            got["integ"]
            and ike["integ"]
            and got["integ"] != ike["integ"]
            and "gcm" not in ike["enc"]
        ):
            diffs.append(f"IKE integrity is {got['integ']}, the policy says {ike['integ']}")
        for child in sa.children[:1]:
            c_enc = vici_encryption(child.encr_alg, child.encr_keysize)
            c_integ = vici_integrity(child.integ_alg)
            c_dh = vici_group(child.dh_group)
            if c_enc and c_enc != esp["enc"]:
                diffs.append(f"ESP encryption is {c_enc}, the policy says {esp['enc']}")
            if c_integ and esp["integ"] and c_integ != esp["integ"]:
                diffs.append(f"ESP integrity is {c_integ}, the policy says {esp['integ']}")
            # The first child SA is keyed from IKE (no PFS group shown); a rekeyed one shows it.
            if c_dh and c_dh != (esp["dh"] or "none"):
                diffs.append(f"PFS group is {c_dh}, the policy says {esp['dh'] or 'none'}")
        break
    return diffs
