"""Firewall-originated traffic in default BGP mode: the outbound NAT fix the user can choose.

In default BGP mode pfSense's VTI address (e.g. 172.16.19.253) lies inside the VNet. Traffic the
firewall itself sends into Azure (DNS to an Azure resolver, NTP, a Diagnostics ping, gateway
monitoring) leaves through the VTI with that address as its source, so Azure delivers the reply
inside the VNet instead of through the tunnel. LAN clients are unaffected. With
``SiteIntent.self_traffic == "lan_source"`` s2svpn adds one outbound NAT mapping per VNet prefix
on the VTI interface: source = the VTI address (/32), destination = the prefix, translation =
pfSense's LAN address (``intent.onprem_bgp_ip``, the local network gateway's BGP address, which
Azure always routes through the tunnel).

pfSense's rules (pfsense/pfsense RELENG_2_7_2, ``src/etc/inc/filter.inc``):

* ``filter_nat_rules_generate()`` emits the manual mappings (``nat/outbound/rule``) only when
  ``nat/outbound/mode`` is ``hybrid`` or ``advanced``; in ``automatic`` (or unset) they have no
  effect, in ``disabled`` nothing is translated. So an ``automatic`` firewall is switched to
  ``hybrid`` (its automatic rules keep working, ``filter_nat_rules_outbound_automatic()`` skips
  ``ipsec*`` interfaces anyway); ``disabled`` is left alone and reported as a conflict.
* ``filter_nat_rules_generate_if()`` translates to the target as given only when it is an IP
  address, subnet or alias; any other value (an interface-address choice) becomes the address
  of the mapping's *own* interface - the VTI's. The LAN address is therefore written as an
  address with ``target_subnet`` 32.

REST (pfrest/pfSense-pkg-RESTAPI ``Models/OutboundNATMode.inc``, ``Models/OutboundNATMapping.inc``):
``source``/``destination`` accept a subnet but no bare address (``allow_ipaddr: false``). In
config.xml the translation is ``target`` + ``target_subnet`` since pfSense 2.7.1 (pfrest issue
#422), which the manual export's config.xml section follows. Both endpoints exist
in every v2 release (checked at pfrest tags v2.0.0 … v2.10.0; see s2svpn.pfsense_versions). Each
mapping is found again by its description (:func:`mapping_descr`). Teardown switches the mode
back only when s2svpn switched it, no other s2svpn mapping is left, and no mapping appeared since
s2svpn switched (switching back would silently disable it). Pure functions plus steps that take
a :class:`~s2svpn.clients.pfsense.PfSenseClient`; no Django.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from s2svpn.errors import InputError
from s2svpn.intent import SiteIntent

__all__ = [
    "MANUAL_MODES",
    "desired_mappings",
    "mapping_descr",
    "mode_after",
    "mode_problem",
    "plan",
    "teardown",
    "write",
]

MANUAL_MODES = ("hybrid", "advanced")
_TAG = "(firewall traffic"


def mapping_descr(descr: str, index: int = 0) -> str:
    """The stable key of a site's mapping: ``s2svpn:home (firewall traffic)``, ``… 2)``, …"""
    return f"{descr} {_TAG})" if index == 0 else f"{descr} {_TAG} {index + 1})"


def _is_ours(mapping: dict, descr: str | None = None) -> bool:
    text = str(mapping.get("descr") or "")
    if descr is not None:
        return text.startswith(f"{descr} {_TAG}")
    return text.startswith("s2svpn:") and _TAG in text


def desired_mappings(intent: SiteIntent, vti_ip: str) -> tuple[dict, ...]:
    """The mapping bodies (without ``interface``: the VTI's id is known at push time), or none
    when the site did not choose the fix or runs APIPA mode (its tunnel address is outside the
    VNet, nothing to fix)."""
    if intent.bgp_mode != "azure_default" or intent.self_traffic != "lan_source":
        return ()
    lan_ip = (intent.onprem_bgp_ip or "").strip()
    if not lan_ip or lan_ip == vti_ip:
        raise InputError(
            "Sourcing the firewall's own traffic from the LAN address needs the LAN address as "
            "the on-prem BGP peer IP (e.g. 10.0.0.1); enter it, or choose APIPA mode instead.",
            "self_traffic",
        )
    networks = [ipaddress.ip_network(p, strict=False) for p in intent.vnet_prefixes]
    prefixes = [str(n) for n in ipaddress.collapse_addresses(n for n in networks if n.version == 4)]
    return tuple(
        {
            "protocol": None,
            "source": f"{vti_ip}/32",
            "destination": prefix,
            "target": lan_ip,
            "target_subnet": 32,
            "nonat": False,
            "disabled": False,
            "descr": mapping_descr(intent.descr, index),
        }
        for index, prefix in enumerate(prefixes)
    )


def mode_problem(mode: str | None) -> str:
    """Why the chosen fix cannot work with this outbound NAT mode ('' when it can)."""
    if mode == "disabled":
        return (
            "Outbound NAT is disabled on this firewall (Firewall > NAT > Outbound), so pfSense "
            "would ignore the mapping that sources its own traffic to Azure from the LAN address. "
            "Switch outbound NAT to Hybrid there, or choose 'leave as is' or APIPA mode."
        )
    return ""


def mode_after(mode: str | None, mappings: tuple[dict, ...]) -> str:
    """The outbound NAT mode once s2svpn's push is done: automatic (or unset) becomes hybrid when
    the site has mappings; every other mode is kept (the lab models pf with this too)."""
    mode = mode or "automatic"
    return "hybrid" if mappings and mode == "automatic" else mode


MODE_REASON = (
    "Outbound NAT mode: automatic -> hybrid (Firewall > NAT > Outbound). pfSense applies manual "
    "mappings only in hybrid or manual mode; hybrid keeps every automatic rule."
)


def _mode(client: Any) -> str:
    return str((client.nat_mode() or {}).get("mode") or "automatic")


def plan(client: Any, mappings: tuple[dict, ...], iface: str | None) -> list[dict]:
    """Plan items (``kind``, ``key``, ``action``, ``diff``) for the mode and each mapping."""
    if not mappings:
        return []
    mode = _mode(client)
    problem = mode_problem(mode)
    if problem:
        raise InputError(problem, "self_traffic")
    items = []
    if mode not in MANUAL_MODES:
        items.append(
            {
                "kind": "natmode",
                "key": "outbound NAT mode",
                "action": "update",
                "diff": {"mode": [mode, "hybrid"], "why": [MODE_REASON]},
            }
        )
    for body in mappings:
        want = {**body, "interface": iface} if iface else dict(body)
        found = client.find_nat_mapping(body["descr"])
        if found is None:
            items.append({"kind": "nat", "key": body["descr"], "action": "create", "diff": want})
            continue
        diff = client.diff_nat_mapping(want, found) if iface else {}
        action = "update" if diff else "unchanged"
        items.append({"kind": "nat", "key": body["descr"], "action": action, "diff": diff})
    return items


def write(client: Any, descr: str, mappings: tuple[dict, ...], iface: str, state: dict):
    """Switch the mode to hybrid when needed and ensure each mapping (no apply: the push's
    firewall apply makes them live). Yields ``(kind, key, action, before)`` for the push record.
    Mappings of an earlier push that are no longer wanted go."""
    wanted = {body["descr"] for body in mappings}
    if mappings:
        mode = _mode(client)
        problem = mode_problem(mode)
        if problem:
            raise InputError(problem, "self_traffic")
        if mode_after(mode, mappings) != mode:
            others = [str(m.get("descr") or "") for m in client.nat_mappings()]
            owned = state.setdefault("nat_owned", {})
            owned.setdefault("mode", mode)
            owned.setdefault("mappings_then", others)
            client.set_nat_mode(mode_after(mode, mappings))
            yield ("natmode", "outbound NAT mode", "update", {"mode": mode})
    for body in mappings:
        before = client.find_nat_mapping(body["descr"])
        _, action = client.ensure_nat_mapping({**body, "interface": iface})
        yield ("nat", body["descr"], action, _before(before, body))
    for mapping in client.nat_mappings():
        if _is_ours(mapping, descr) and mapping.get("descr") not in wanted:
            if client.delete_nat_mapping(str(mapping["descr"])):
                yield ("nat", str(mapping["descr"]), "delete", {})
    if not mappings and _give_mode_back(client, state):  # the user chose another fix since
        yield ("natmode", "outbound NAT mode", "update", {})


def _before(found: dict | None, body: dict) -> dict:
    return {k: found.get(k) for k in body if k in found} if found else {}


def teardown(client: Any, intent: SiteIntent, state: dict) -> list[str]:
    """Remove this site's mappings; give the mode back when s2svpn switched it and nothing else
    now depends on hybrid mode. Applies the firewall when something changed."""
    removed = []
    for mapping in list(client.nat_mappings()):
        descr = str(mapping.get("descr") or "")
        if _is_ours(mapping, intent.descr) and client.delete_nat_mapping(descr):
            removed.append(f"outbound NAT mapping {descr}")
    given_back = _give_mode_back(client, state)
    if given_back:
        removed.append(f"outbound NAT mode (back to {given_back})")
    if removed:
        client.apply_firewall()
    return removed


def _give_mode_back(client: Any, state: dict) -> str:
    """Switch the outbound NAT mode back to what it was when s2svpn switched it, if no other
    s2svpn mapping is left and no mapping appeared since (switching back would silently disable
    it); returns the mode given back, or ''."""
    owned = state.get("nat_owned") or {}
    if not owned.get("mode"):
        return ""
    left = [str(m.get("descr") or "") for m in client.nat_mappings()]
    others_ours = [d for d in left if d.startswith("s2svpn:") and _TAG in d]
    new_since = set(left) - set(owned.get("mappings_then") or [])
    if others_ours or new_since or _mode(client) != "hybrid":
        return ""
    client.set_nat_mode(owned["mode"])
    state.pop("nat_owned", None)
    return str(owned["mode"])
