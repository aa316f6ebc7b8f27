"""Comparing what pfSense holds with what a site wants: field diffs and the merge of s2svpn's FRR
sections into the user's (their other neighbours, networks and password kept). Pure module."""

from __future__ import annotations

import json
from typing import Any

from s2svpn.errors import InputError

FRR_SECTIONS = ("frr", "frrbgp", "frrbgpadvanced", "frrbgpneighbors")


def _normalise(value: Any) -> Any:
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if k not in ("id", "parent_id")}
    return value


def diff_fields(desired: dict, actual: dict, *, ignore: tuple[str, ...] = ()) -> dict:
    """``{field: [actual, desired]}`` for every desired field that differs (``ignore`` skipped).

    Only the keys s2svpn sets are compared, so fields the user changed elsewhere do not count.
    """
    changes: dict[str, list] = {}
    for key, want in desired.items():
        if key in ignore:
            continue
        have = actual.get(key)
        if _normalise(want) != _normalise(have):
            changes[key] = [have, want]
    return changes


def merge_frr(current: dict, desired: dict, *, password: str = "") -> tuple[dict, dict]:
    """Merge s2svpn's FRR settings into what the firewall has; return ``(sections, diff)``.

    s2svpn owns its neighbor (matched by peer address), its network rows and the three
    switches it needs (FRR enabled, BGP enabled, ``disableebgprequirepolicy``); everything
    else (other neighbors, other networks, the master password, logging, …) is kept. A missing
    master password (the package requires one) is set to ``password``. Raises ``InputError`` (a ``ValueError``, field ``onprem_asn``)
    when the firewall already runs BGP under another local ASN.
    """
    current = json.loads(json.dumps(current or {}))
    out: dict[str, Any] = {}
    diff: dict[str, list] = {}

    frr = dict(current.get("frr") or {})
    want = dict(desired["frr"])
    if not frr.get("password") and password:
        want["password"] = password
    out["frr"] = {**frr, **want}

    bgp = dict(current.get("frrbgp") or {})
    want_bgp = desired["frrbgp"]
    if bgp.get("asnum") and str(bgp["asnum"]) != str(want_bgp["asnum"]):
        raise InputError(
            f"FRR on this pfSense already runs BGP as AS {bgp['asnum']}, but the site uses AS "
            f"{want_bgp['asnum']}. Change the site's on-prem ASN to {bgp['asnum']} or change "
            "FRR's local AS on the firewall first.",
            "onprem_asn",
        )
    rows = list(bgp.get("row") or [])
    if isinstance(rows, dict):
        rows = [rows]
    have_prefixes = {row.get("distributeroutevalue") for row in rows if isinstance(row, dict)}
    rows += [row for row in want_bgp["row"] if row["distributeroutevalue"] not in have_prefixes]
    merged_bgp = {**bgp, "enable": want_bgp["enable"], "asnum": want_bgp["asnum"], "row": rows}
    if not bgp.get("routerid"):
        merged_bgp["routerid"] = want_bgp["routerid"]
    out["frrbgp"] = merged_bgp

    out["frrbgpadvanced"] = {**(current.get("frrbgpadvanced") or {}), **desired["frrbgpadvanced"]}

    neighbors = [n for n in (current.get("frrbgpneighbors") or []) if isinstance(n, dict)]
    # s2svpn's own neighbour at an old Azure address (an active-standby gateway converted to
    # active-active moves its BGP address) is replaced, not kept beside the new one.
    wanted_peers = {(n.get("descr"), n.get("peer")) for n in desired["frrbgpneighbors"]}
    ours = {descr for descr, _ in wanted_peers}
    neighbors = [
        n
        for n in neighbors
        if n.get("descr") not in ours or (n.get("descr"), n.get("peer")) in wanted_peers
    ]
    for wanted in desired["frrbgpneighbors"]:
        for index, have in enumerate(neighbors):
            if have.get("peer") == wanted["peer"]:
                neighbors[index] = {**have, **wanted}
                break
        else:
            neighbors.append(dict(wanted))
    out["frrbgpneighbors"] = neighbors

    for section in FRR_SECTIONS:
        before, after = current.get(section), out[section]
        if _normalise(before or ({} if section != "frrbgpneighbors" else [])) != _normalise(after):
            diff[section] = [_redact_frr(before), _redact_frr(after)]
    return out, diff


def _redact_frr(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("********" if k == "password" and v else _redact_frr(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_frr(v) for v in value]
    return value
