"""The review plan: every object a provisioning run creates on both ends, with its key values.

``build_plan(site)`` is what the wizard's review page shows before Launch and what a test compares
with the sandboxes after the run. Azure names follow :class:`~s2svpn.intent.SiteIntent`; pfSense
bodies come from :func:`s2svpn.pfsense_plan.desired_pfsense`, the same compiler the push uses, so
the plan cannot drift from what is written. Costs are :mod:`s2svpn.cost` estimates.

References: Azure resources https://learn.microsoft.com/azure/vpn-gateway/tutorial-site-to-site-portal,
pfSense objects https://pfrest.org/api-docs/ and reference/pfsense.md.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from s2svpn import activeactive, cost, netplan
from s2svpn.intent import SiteIntent
from wizard.models import RunKind, RunStatus, Site
from wizard.plan_facts import (  # noqa: F401 - re-exported: the plan's public names
    Action,
    Live,
    Plan,
    PlanObject,
    azure_bgp_ip,
    known_facts,
    normalise_facts,
)
from wizard.plan_live import _with_live_actions, live_conflicts  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

AZURE_PUBLIC_IP_PENDING = "(the gateway's public IP, known once it is created)"
GATEWAY_MINUTES_REAL = 45  # Azure: 20-45+ minutes for the VPN gateway


def _wizard(site: Site) -> dict[str, Any]:
    return dict((site.intent or {}).get("_wizard") or {})


def _adopted(site: Site, intent: SiteIntent) -> dict[str, Any] | None:
    """What the wizard read about the gateway the site adopts (wizard.forms.vnet.gateway_facts)."""
    for vnet in _wizard(site).get("vnets") or []:
        gateway = vnet.get("gateway") or {}
        if vnet.get("name") == site.vnet_name and gateway.get("name") == intent.existing_gateway:
            return gateway
    return None


def _price(site: Site, intent: SiteIntent) -> cost.CostEstimate:
    """A gateway of the site's own, or one more tunnel on the gateway it adopts."""
    if intent.owns_gateway:
        return cost.estimate(intent.sku, 1, active_active=intent.active_active)
    others = [
        name
        for name in (_adopted(site, intent) or {}).get("connections") or []
        if name != intent.connection_name
    ]
    return cost.added_tunnel(intent.sku, len(others))


def _existing_gateway_subnet(site: Site, intent: SiteIntent) -> str | None:
    for vnet in _wizard(site).get("vnets") or []:
        if vnet.get("name") == site.vnet_name:
            for name, prefix in vnet.get("subnets") or []:
                if name == netplan.GATEWAY_SUBNET_NAME:
                    return prefix
    return None


def _provisioned(site: Site) -> bool:
    if not site.pk:
        return False
    return site.runs.filter(kind=RunKind.PROVISION, status=RunStatus.SUCCEEDED).exists()


def _policy_text(intent: SiteIntent) -> str:
    p = intent.policy
    return (
        f"IKE {p.ike_encryption}/{p.ike_integrity}/{p.dh_group}, IPsec {p.ipsec_encryption}/"
        f"{p.ipsec_integrity}/{p.pfs_group}, SA {p.sa_lifetime_seconds} s / "
        f"{p.sa_data_size_kilobytes} KB"
    )


def azure_objects(site: Site, intent: SiteIntent, facts: dict[str, Any]) -> list[PlanObject]:
    again: Action = "reuse" if _provisioned(site) else "create"
    existing = _existing_gateway_subnet(site, intent)
    subnet_action: Action = (
        "reuse" if existing and existing == intent.gateway_subnet_prefix else again
    )
    bgp_ip = azure_bgp_ip(intent, facts)
    objects = [
        *_created_network(site, intent, again),
        PlanObject(
            "azure",
            "GatewaySubnet",
            netplan.GATEWAY_SUBNET_NAME,
            {
                "virtual network": site.vnet_name or intent.vnet_name,
                "prefix": intent.gateway_subnet_prefix,
            },
            subnet_action,
        ),
    ]
    public_ips = facts.get("azure_public_ips") or (
        [facts["azure_public_ip"]] if facts.get("azure_public_ip") else []
    )
    for index, name in enumerate(intent.public_ip_names):
        address = public_ips[index] if index < len(public_ips) else "assigned by Azure"
        objects.append(
            PlanObject(
                "azure",
                "Public IP",
                name,
                {"SKU": "Standard", "allocation": "Static", "address": address},
                again,
            )
        )
    endpoint = (
        {"IP address": intent.onprem_public_ip}
        if intent.onprem_public_ip
        else {"FQDN": intent.onprem_fqdn}
    )
    objects.append(
        PlanObject(
            "azure",
            "Local network gateway",
            intent.lng_name,
            {
                **endpoint,
                "BGP ASN": intent.onprem_asn,
                "BGP peer IP": intent.onprem_bgp_ip,
                "address prefixes": ", ".join(intent.lng_prefixes) or "none (routes come from BGP)",
            },
            again,
        )
    )
    gateway_values: dict[str, Any] = {
        "type": "Vpn, RouteBased",
        "SKU": f"{intent.sku} ({intent.generation})",
        "BGP ASN": intent.azure_asn,
        "BGP IP": (_instance_bgp_ips(intent, facts) if intent.active_active else bgp_ip)
        + (" (APIPA)" if intent.bgp_mode == "apipa" else ""),
        "active-active": "yes" if intent.active_active else "no",
        "public IP(s)": ", ".join(intent.public_ip_names),
    }
    if not intent.owns_gateway:
        subnet, adopted = objects[0], _adopted(site, intent)
        objects[0] = PlanObject(
            subnet.end,
            subnet.kind,
            subnet.name,
            {**subnet.values, "owner": "the adopted gateway"},
            "reuse",
        )
        gateway_values.update(
            {
                "public IP(s)": "the gateway's own (read from Azure; kept at teardown)",
                "adopted": "yes: s2svpn never changes it; this site adds one connection",
                "connections on it now": ", ".join((adopted or {}).get("connections") or [])
                or "none",
            }
        )
    objects.append(
        PlanObject(
            "azure",
            "Virtual network gateway",
            intent.gateway_name,
            gateway_values,
            again if intent.owns_gateway else "reuse",
        )
    )
    objects.append(
        PlanObject(
            "azure",
            "Connection",
            intent.connection_name,
            {
                "type": "IPsec, IKEv2",
                "connection mode": intent.connection_mode,
                "BGP": "enabled",
                "policy": _policy_text(intent),
                "DPD timeout": f"{intent.dpd_timeout_seconds} s",
                "pre-shared key": "set through the sharedkey operation and read back (hidden)",
            },
            again,
        )
    )
    return objects


def _created_network(site: Site, intent: SiteIntent, again: Action) -> list[PlanObject]:
    """The resource group and VNet s2svpn creates, or the address space it adds
    (``wizard.vnet_steps``); each is removed at teardown only if a run created it."""
    out = []
    if intent.create_vnet:
        group = _wizard(site).get("resource_group") or {}
        exists = group.get("name") == intent.resource_group and group.get("exists")
        out.append(
            PlanObject(
                "azure",
                "Resource group",
                intent.resource_group,
                {
                    "region": intent.location,
                    "teardown": "kept (it existed before)"
                    if exists
                    else "deleted, if nothing else is in it",
                },
                "reuse" if exists else again,
            )
        )
        out.append(
            PlanObject(
                "azure",
                "Virtual network",
                intent.vnet_name,
                {
                    "address space": ", ".join(intent.vnet_prefixes),
                    "region": intent.location,
                    "teardown": "deleted",
                },
                again,
            )
        )
    if intent.vnet_added_prefix:
        out.append(
            PlanObject(
                "azure",
                "VNet address space",
                intent.vnet_added_prefix,
                {
                    "virtual network": intent.vnet_name,
                    "why": "the VNet has no free /27 for the GatewaySubnet",
                    "teardown": "removed again",
                },
                again,
            )
        )
    return out


def _tunnels(intent: SiteIntent, facts: dict[str, Any]) -> list:
    """An active-active site's two tunnels (s2svpn.activeactive), from the run's facts or predicted."""

    public_ips = facts.get("azure_public_ips") or []
    try:
        return activeactive.tunnels(intent, public_ips, facts.get("azure_bgp_ips") or [])
    except (ValueError, KeyError):
        return []


def _instance_bgp_ips(intent: SiteIntent, facts: dict[str, Any]) -> str:
    ips = [f"{t.azure_bgp_ip} (instance {t.index})" for t in _tunnels(intent, facts)]
    return ", ".join(ips) or "one per instance, assigned by Azure"


def pfsense_objects(site: Site, intent: SiteIntent, facts: dict[str, Any]) -> list[PlanObject]:
    from s2svpn.pfsense_plan import desired_pfsense

    if intent.active_active and "tunnel" not in facts:
        # One phase 1, VTI, rule set and BGP neighbour per gateway instance.
        return [
            item
            for t in _tunnels(intent, facts)
            for item in pfsense_objects(
                site,
                t.intent,
                {
                    **facts,
                    "azure_public_ip": t.azure_public_ip,
                    "azure_bgp_ip": t.azure_bgp_ip,
                    "tunnel": t.label,
                },
            )
        ]
    again: Action = "reuse" if _provisioned(site) else "create"
    public_ip = facts.get("azure_public_ip") or AZURE_PUBLIC_IP_PENDING
    bgp_ip = azure_bgp_ip(intent, facts)
    objects: list[PlanObject] = []
    pre = _wizard(site).get("pfsense") or {}
    first = not intent.instance
    if first and pre.get("frr_installed") is False and _wizard(site).get("install_frr", True):
        objects.append(
            PlanObject("pfsense", "Package", "pfSense-pkg-frr", {"why": "BGP on pfSense"}, "create")
        )
    try:
        desired = desired_pfsense(
            intent, azure_public_ip=public_ip, azure_bgp_ip=bgp_ip, psk="********"
        )
    except (ValueError, KeyError) as exc:
        return [
            *objects,
            PlanObject("pfsense", "Problem", "pfSense plan", {"error": str(exc)}, "create"),
        ]
    p1, p2 = desired.phase1, desired.phase2
    proposals = ", ".join(
        f"{e['encryption_algorithm_name']}-{e['encryption_algorithm_keylen']}/"
        f"{e['hash_algorithm']}/DH{e['dhgroup']}"
        for e in p1["encryption"]
    )
    objects.append(
        PlanObject(
            "pfsense",
            "IPsec phase 1",
            p1["descr"],
            {
                "IKE": "IKEv2",
                "interface": p1["interface"],
                "remote gateway": p1["remote_gateway"],
                "proposal": proposals,
                "start action": p1["startaction"],
                "NAT-T": p1["nat_traversal"],
                "lifetime": f"{p1['lifetime']} s",
            },
            again,
        )
    )
    esp = (
        ", ".join(f"{o['name']}-{o['keylen']}" for o in p2["encryption_algorithm_option"])
        + f" / {', '.join(p2['hash_algorithm_option'])}"
    )
    objects.append(
        PlanObject(
            "pfsense",
            "IPsec phase 2 (VTI)",
            p2["descr"],
            {
                "mode": "vti",
                "local": f"{p2['localid_address']}/{p2['localid_netbits']}",
                "remote": p2["remoteid_address"],
                "ESP": esp,
                "PFS group": p2["pfsgroup"] or "off",
                "lifetime": f"{p2['lifetime']} s",
            },
            again,
        )
    )
    objects.append(
        PlanObject(
            "pfsense",
            "Interface",
            desired.interface["descr"],
            {
                "port": "ipsec<reqid> (the VTI)",
                "enabled": "yes",
                "MSS": f"{desired.interface['mss']} (pfSense clamps TCP through the VTI to this "
                f"minus 40 = {desired.interface['mss'] - 40}, as Azure recommends; a lower value "
                "already set is kept)",
            },
            again,
        )
    )
    for rule in desired.rules:
        objects.append(
            PlanObject(
                "pfsense",
                "Firewall rule",
                rule["descr"],
                {
                    "tab": "IPsec (enc0)",
                    "action": rule["type"],
                    "source": rule["source"],
                    "destination": rule["destination"],
                },
                again,
            )
        )
    objects += _system_objects(desired.system, "reuse" if again == "reuse" else "update")
    objects += _nat_objects(desired.nat, intent, again)
    bgp = desired.frr["frrbgp"]
    neighbor = desired.frr["frrbgpneighbors"][0]
    objects.append(
        PlanObject(
            "pfsense",
            "FRR BGP",
            f"AS {bgp['asnum']}" + (f" - {facts['tunnel']}" if facts.get("tunnel") else ""),
            {
                "router id": bgp["routerid"],
                "neighbor": f"{neighbor['peer']} remote-as {neighbor['asnum']}",
                "update source": neighbor["updatesource"],
                **(
                    {
                        "timers": f"keepalive {neighbor['timers_keepalive']} s, hold "
                        f"{neighbor['timers_holdtime']} s (failover within the hold time)"
                    }
                    if neighbor.get("timers_holdtime")
                    else {}
                ),
                "networks": ", ".join(r["distributeroutevalue"] for r in bgp["row"]),
                "eBGP policy": "no bgp ebgp-requires-policy (prefixes flow)",
            },
            again,
        )
    )
    return objects


def _system_objects(system: dict[str, Any], action: Action) -> list[PlanObject]:
    """pfSense system settings the tunnel needs (no REST field: set through the command endpoint);
    a live review turns them into "reuse" when the firewall already has them."""
    from s2svpn.pfsense_push import SYSTEM_REASONS

    objects = [
        PlanObject(
            "pfsense",
            "System setting",
            "Maximum MSS",
            {
                "where": "VPN > IPsec > Advanced Settings",
                "value": f"{system['maxmss']} (a lower value already set is kept)",
                "why": SYSTEM_REASONS["maxmss"],
            },
            action,
        )
    ]
    if system.get("no_apipa_block"):
        objects.append(
            PlanObject(
                "pfsense",
                "System setting",
                "Allow APIPA",
                {
                    "where": "System > Advanced > Firewall & NAT",
                    "change": "switch on",
                    "why": SYSTEM_REASONS["no_apipa_block"],
                },
                action,
            )
        )
    return objects


def _nat_objects(mappings: tuple[dict, ...], intent: SiteIntent, again: Action) -> list[PlanObject]:
    """The outbound NAT fix for firewall-originated traffic (s2svpn.pfsense_nat), when chosen."""
    from s2svpn.pfsense_nat import MODE_REASON

    if not mappings:
        return []
    objects = (
        []
        if intent.instance
        else [  # one mode per firewall: listed with the first tunnel
            PlanObject(
                "pfsense",
                "System setting",
                "Outbound NAT mode",
                {
                    "where": "Firewall > NAT > Outbound",
                    "change": "Automatic -> Hybrid (Hybrid or Manual stay as they are)",
                    "why": MODE_REASON,
                },
                "reuse" if again == "reuse" else "update",
            )
        ]
    )
    for m in mappings:
        objects.append(
            PlanObject(
                "pfsense",
                "Outbound NAT mapping",
                m["descr"],
                {
                    "interface": f"{intent.vti_descr} (the VTI)",
                    "source": m["source"],
                    "destination": m["destination"],
                    "translation": f"{m['target']}/{m['target_subnet']} (LAN address)",
                },
                again,
            )
        )
    return objects


SELF_TRAFFIC_NOTE = (
    "Default BGP mode: pfSense's tunnel address {address} lies inside the VNet, so traffic the "
    "firewall itself sends into Azure (DNS to an Azure resolver, NTP, a ping from Diagnostics, "
    "gateway monitoring) gets its reply delivered inside the VNet instead of through the tunnel; "
    "LAN clients are unaffected. To fix it choose APIPA BGP addresses for this site (the tunnel "
    "then uses 169.254.x.x, outside the VNet), or source such traffic from the LAN address "
    "(both offered in the pfSense step)."
)
SELF_TRAFFIC_FIXED = (
    "Default BGP mode: pfSense's tunnel address {address} lies inside the VNet, so traffic the "
    "firewall itself sends into Azure would get its reply inside the VNet; as chosen, an outbound "
    "NAT mapping on the tunnel interface sources it from the LAN address {lan} instead, so the "
    "reply comes back through the tunnel."
)


def expected_minutes(site: Site) -> int:
    """The gateway build dominates: real Azure 20-45+ min, or what the endpoints declared."""
    from wizard.timing import declared_hints

    hints = declared_hints(site)
    adopted = not site.get_intent().owns_gateway  # no gateway build
    if hints is None:
        return 5 if adopted else GATEWAY_MINUTES_REAL
    seconds = (0 if adopted else hints["gateway"]) + 8 * hints["other"] + 10
    return max(1, math.ceil(seconds / 60))


def conversion_notes(site: Site, intent: SiteIntent) -> list[str]:
    """A provisioned site whose gateway changes between active-standby and active-active: the
    conversion is a planned change of its own (a second public IP exists only when it was
    active-active)."""
    from s2svpn.pfsense_tunnels import conversion

    was_active_active = "public_ip_2" in (site.azure_ids or {})
    if not _provisioned(site) or was_active_active == intent.active_active:
        return []
    return [f"Planned change: {conversion(intent)}"]


def build_plan(site: Site, *, live: bool = False) -> Plan:
    """Every object of both ends, what already exists, the monthly cost and the expected time.

    ``live=True`` reads both ends (a few GETs, nothing written) to mark each object create,
    reuse or update; otherwise the actions come from what this site's runs already did.
    """
    intent = site.get_intent()
    facts = known_facts(site)
    objects = azure_objects(site, intent, facts) + pfsense_objects(site, intent, facts)
    live_notes: list[str] = []
    conflicts: list[Any] = []
    if live:
        objects, live_notes, conflicts = _with_live_actions(site, intent, facts, objects)
    try:
        price = _price(site, intent)
    except ValueError as exc:
        monthly = hourly = None
        lines: tuple[tuple[str, float], ...] = ()
        note = str(exc)
    else:
        monthly, hourly, lines = price.monthly_usd, price.hourly_usd, price.lines
        note = f"Estimate ({price.as_of}). {price.source}"
    minutes = expected_minutes(site)
    notes = [
        *conversion_notes(site, intent),
        *live_notes,
        "Azure builds the VPN gateway for 20-45+ minutes; pfSense phase 1 is written as soon as "
        "the public IP exists, phase 2 and BGP as soon as Azure's BGP address is known, and the "
        "connection when the gateway is ready."
        if intent.owns_gateway
        else f"VPN gateway {intent.gateway_name} exists already and is adopted as it is: no "
        "gateway build, no new public IP; the cost is one more tunnel on it. Teardown of this "
        "site keeps it, unless s2svpn built it for a site already torn down and no other "
        "connection uses it any more (the last s2svpn site out removes what s2svpn built).",
    ]
    if intent.bgp_mode == "azure_default":
        try:
            transit = netplan.transit_for(intent, azure_bgp_ip(intent, facts))
        except (netplan.AddressError, ValueError):
            transit = None
        if transit is not None and intent.self_traffic == "lan_source":
            notes.append(
                SELF_TRAFFIC_FIXED.format(address=transit.pfsense_ip, lan=intent.onprem_bgp_ip)
            )
        elif transit is not None:
            notes.append(SELF_TRAFFIC_NOTE.format(address=transit.pfsense_ip))
    if site.sandbox:
        notes.append("Sandbox site: both ends are local stand-ins; nothing is billed.")
    return Plan(
        objects=objects,
        monthly_cost=monthly,
        expected_minutes=minutes,
        hourly_cost=hourly,
        cost_lines=lines,
        cost_note=note,
        notes=notes,
        conflicts=conflicts,
        adopts=intent.existing_gateway,
    )
