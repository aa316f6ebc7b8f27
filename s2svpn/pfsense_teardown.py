"""Teardown on pfSense: remove exactly what s2svpn created for one site, give back what it changed.

Order (reference/pfsense.md §4.8): IPsec-tab rules, outbound NAT mappings (and the outbound NAT
mode when s2svpn switched it: :mod:`s2svpn.pfsense_nat`), FRR, the VTI interface, phase 2, phase 1, then
the system settings. With the push's ``state`` the FRR settings s2svpn added (networks, switches it
turned on, the sections it created) and the system settings it changed are given back too; without
it only objects carrying the site's description and its BGP neighbour are removed.

FRR: pfSense-pkg-frr stops its daemons only from ``frr_generate_config()`` (``frr.inc``:
``frr_generate_config_rcfile()`` rewrites ``frr.sh`` and restarts it; with the master switch off no
daemon config is written, so nothing starts again). With the ``installedpackages/frr`` section gone
that function returns early and the daemons keep running. So when s2svpn created FRR's
configuration it switches ``enable`` off, regenerates (the package's own stop), and only then
removes the sections; a user's FRR that existed before keeps running with s2svpn's neighbour,
networks and switches removed.

No Django; one push or teardown per firewall at a time is the caller's lock.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from s2svpn import pfsense_nat
from s2svpn import pfsense_plan as plans
from s2svpn.clients.errors import ClientError
from s2svpn.intent import SiteIntent

__all__ = ["teardown"]

_APIPA = ipaddress.ip_network("169.254.0.0/16")


def teardown(client: Any, intent: SiteIntent, state: dict | None = None) -> list[str]:
    """Remove what s2svpn created for this site; returns what went."""
    state = state or {}
    removed: list[str] = []
    descr = intent.descr
    others = _other_sites(client, descr)
    for rule in list(client.rules()):
        if rule.get("descr") == descr or str(rule.get("descr", "")).startswith(f"{descr} ("):
            if client.delete_rule(rule["descr"]):
                removed.append(f"rule {rule['descr']}")
    if removed:
        client.apply_firewall()
    removed += pfsense_nat.teardown(client, intent, state)  # applies the firewall itself

    try:
        current = client.read_frr_sections()
    except ClientError:
        current = None  # nothing is written without a fresh read
    if current is not None:
        removed += _frr_teardown(client, current, intent, state.get("frr_owned"))

    p1 = client.find_phase1(descr=descr)
    ikeid = (p1 or {}).get("ikeid", state.get("ikeid"))
    p2 = client.find_phase2(descr, ikeid) if ikeid is not None else None
    port = f"ipsec{p2['reqid']}" if p2 else state.get("port")
    if port and client.delete_interface(port):
        removed.append(f"interface {port}")
        client.apply_interfaces()
    if client.delete_phase2(descr, ikeid):
        removed.append("phase 2")
    if client.delete_phase1(descr):
        removed.append("phase 1")
    if "phase 1" in removed or "phase 2" in removed:
        client.apply_ipsec()

    restore = _system_to_restore(state.get("system_owned") or {}, others)
    if restore:
        client.write_system(restore)
        client.apply_firewall()
        removed.append("system settings (" + ", ".join(sorted(restore)) + ")")
    return removed


def _other_sites(client: Any, descr: str) -> list[dict]:
    """Other s2svpn sites on this firewall: ``{"descr", "apipa"}`` per phase 1 s2svpn owns."""
    try:
        phase2s = client.phase2s()
        out = []
        for p1 in client.phase1s():
            name = str(p1.get("descr") or "")
            if not name.startswith("s2svpn:") or name == descr:
                continue
            remotes = [
                str(p2.get("remoteid_address") or "")
                for p2 in phase2s
                if p2.get("ikeid") == p1.get("ikeid")
            ]
            out.append({"descr": name, "apipa": any(_is_apipa(r) for r in remotes)})
        return out
    except ClientError:
        return [{"descr": "(unknown)", "apipa": True}]  # unsure: leave shared settings alone


def _is_apipa(address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in _APIPA
    except ValueError:
        return False


def _system_to_restore(owned: dict, others: list[dict]) -> dict:
    """System settings to give back: Allow APIPA only if no other s2svpn site uses APIPA, the MSS
    clamp only if no other s2svpn site is on the firewall (they share it)."""
    out: dict = {}
    if "no_apipa_block" in owned and not any(o["apipa"] for o in others):
        out["no_apipa_block"] = owned["no_apipa_block"]
    if not others:
        for key in ("maxmss_enable", "maxmss"):
            if key in owned:
                out[key] = owned[key]
    return out


def _frr_teardown(client: Any, current: dict, intent: SiteIntent, owned: dict | None) -> list[str]:
    updated = _frr_without_ours(current, intent, owned)
    if updated == current:
        return []
    if "frr" in ((owned or {}).get("created") or []) and updated.get("frr") is None:
        # s2svpn created FRR's configuration: stop the daemons the package's way first
        stopping = dict(current.get("frr") or {})
        stopping.pop("enable", None)
        client.write_frr({"frr": stopping})
        client.frr_generate_config()
        client.write_frr(updated)
        return ["frr settings", "FRR stopped"]
    client.write_frr(updated)
    client.frr_generate_config()
    return ["frr settings"]


def _frr_without_ours(current: dict, intent: SiteIntent, owned: dict | None) -> dict:
    out = copy.deepcopy(current)
    label = plans.frr_description(intent.descr)
    peers = set((owned or {}).get("neighbors") or [])
    out["frrbgpneighbors"] = [
        n
        for n in out.get("frrbgpneighbors") or []
        if n.get("descr") != label and n.get("peer") not in peers
    ]
    if not owned:
        return out
    # another s2svpn site still peers through this FRR: keep the sections it runs on
    shared = any(str(n.get("descr") or "").startswith("s2svpn:") for n in out["frrbgpneighbors"])
    for section in ("frr", "frrbgp", "frrbgpadvanced"):
        if section in owned.get("created", []) and not shared:
            out[section] = None
            continue
        if out.get(section) is None:
            continue
        for key in owned.get("added", {}).get(section, []):
            if not shared:
                out[section].pop(key, None)
        for key, value in owned.get("changed", {}).get(section, {}).items():
            if not shared:
                out[section][key] = value
    if out.get("frrbgp") is not None:
        rows = set(owned.get("rows") or [])
        kept = [
            r for r in out["frrbgp"].get("row") or [] if r.get("distributeroutevalue") not in rows
        ]
        if kept or "row" not in owned.get("added", {}).get("frrbgp", []):
            out["frrbgp"]["row"] = kept
        else:
            out["frrbgp"].pop("row", None)
    return out
