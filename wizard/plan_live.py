"""What already exists on both ends, read live for the review: create, reuse or update per
object, and what on the firewall conflicts with the site (:mod:`s2svpn.preconditions`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any

from s2svpn import netplan
from s2svpn.intent import SiteIntent
from wizard.models import Site
from wizard.plan_facts import Action, Live, PlanObject, azure_bgp_ip, known_facts

log = logging.getLogger(__name__)

LIVE_TIMEOUT = 6.0  # seconds the review page waits for both ends to say what exists


# ------------------------------------------------------------------ what already exists (live)

PF_KIND = {
    "phase1": "IPsec phase 1",
    "phase2": "IPsec phase 2 (VTI)",
    "interface": "Interface",
    "rule": "Firewall rule",
    "frr": "FRR BGP",
    "system": "System setting",
    "natmode": "System setting",
    "nat": "Outbound NAT mapping",
}
PF_SYSTEM_NAMES = {
    "no_apipa_block": "Allow APIPA",
    "maxmss_enable": "Maximum MSS",
    "maxmss": "Maximum MSS",
}
PF_ACTION: dict[str, Action] = {"create": "create", "update": "update", "unchanged": "reuse"}


def _closing_call(client: Any, fn: Any) -> Any:
    try:
        return fn(client)
    finally:
        close = getattr(client, "close", None)
        if close:
            close()


def _action(existing: Any, same: Callable[[Any], bool]) -> Action:
    """Missing -> create; as the intent wants it -> reuse; else update."""
    if existing is None:
        return "create"
    return "reuse" if same(existing) else "update"


def _azure_actions(site: Site, intent: SiteIntent) -> Live:
    """Read each resource s2svpn would create: missing -> create, same -> reuse, else update;
    and, for a site that adopts an existing gateway, why it cannot (s2svpn.gateway_share)."""
    from wizard import services

    def read(client: Any) -> Live:
        out: dict[tuple[str, str], Action] = {}
        if not intent.owns_gateway:
            return _adopted_actions(client, intent, out)
        if intent.create_vnet:
            out[("Resource group", intent.resource_group)] = _action(
                client.get_resource_group(intent.resource_group), lambda group: True
            )
            out[("Virtual network", intent.vnet_name)] = _action(
                client.find_vnet(intent),
                lambda vnet: set(intent.vnet_prefixes) <= set(vnet.address_prefixes),
            )
        if intent.vnet_added_prefix:
            vnet = client.find_vnet(intent)
            has = vnet is not None and intent.vnet_added_prefix in vnet.address_prefixes
            out[("VNet address space", intent.vnet_added_prefix)] = "reuse" if has else "create"
        out[("GatewaySubnet", netplan.GATEWAY_SUBNET_NAME)] = _action(
            client.get_gateway_subnet(intent),
            lambda subnet: subnet.address_prefix == intent.gateway_subnet_prefix,
        )
        for name in intent.public_ip_names:
            out[("Public IP", name)] = _action(client.get_public_ip(intent, name), lambda pip: True)
        out[("Virtual network gateway", intent.gateway_name)] = _action(
            client.get_gateway(intent),
            lambda gateway: (
                gateway.sku == intent.sku
                and gateway.asn == intent.azure_asn
                and gateway.active_active == intent.active_active
            ),
        )
        _own_actions(client, intent, out)
        return out, []

    return _closing_call(services.azure_client(site), read)


def _own_actions(client: Any, intent: SiteIntent, out: dict[tuple[str, str], Action]) -> None:
    """The local network gateway and the connection: every site's own."""
    out[("Local network gateway", intent.lng_name)] = _action(
        client.get_local_gateway(intent),
        lambda lng: (
            (lng.fqdn or "") == (intent.onprem_fqdn if not intent.onprem_public_ip else "")
            and (lng.gateway_ip or "") == (intent.onprem_public_ip or (lng.gateway_ip or ""))
            and lng.bgp_asn == intent.onprem_asn
            and lng.bgp_peering_address == intent.onprem_bgp_ip
        ),
    )
    out[("Connection", intent.connection_name)] = _action(
        client.get_connection(intent),
        lambda conn: conn.mode == intent.connection_mode and conn.ipsec_policy == intent.policy,
    )


def _adopted_actions(client: Any, intent: SiteIntent, out: dict[tuple[str, str], Action]) -> Live:
    """An adopted gateway (and its GatewaySubnet) is reused as it is, never changed; what in its
    settings stands in the site's way is a conflict shown next to it."""
    from s2svpn import gateway_share
    from s2svpn.preconditions import Conflict

    gateway = client.get_gateway(intent)
    if gateway is None:
        found = [
            Conflict(
                f"VPN gateway {intent.gateway_name}, which this site adopts, was not found in "
                f"resource group {intent.resource_group}; choose the VNet again (VNet step).",
                "vnet_name",
                "gateway",
            )
        ]
    else:
        found = gateway_share.review_conflicts(gateway, intent)
        out[("Virtual network gateway", intent.gateway_name)] = "reuse"
        out[("GatewaySubnet", netplan.GATEWAY_SUBNET_NAME)] = "reuse"
    _own_actions(client, intent, out)
    return out, found


def _pfsense_actions(site: Site, intent: SiteIntent, facts: dict[str, Any]) -> Live:
    """The push's own plan (a fresh read of the firewall): create / update / unchanged, and what
    on the firewall conflicts with the site (s2svpn.preconditions)."""
    from s2svpn import preconditions
    from wizard import services

    def read(client: Any) -> Live:
        found, items = preconditions.inspect(
            client,
            intent,
            azure_bgp_ip=azure_bgp_ip(intent, facts),
            psk=str(site.psk or "********"),
            azure_public_ip=facts.get("azure_public_ip") or None,
        )
        out: dict[tuple[str, str], Action] = {}
        for item in items:
            kind = PF_KIND.get(item.kind, item.kind)
            if item.kind == "system":
                changing = {PF_SYSTEM_NAMES[k] for k in item.diff if k in PF_SYSTEM_NAMES}
                for name in ("Allow APIPA", "Maximum MSS"):
                    out[(kind, name)] = "update" if name in changing else "reuse"
                continue
            out[(kind, _pf_name(item, intent))] = PF_ACTION.get(item.action, "create")
        if any(i.kind == "nat" for i in items):  # no natmode item: the mode already fits
            out.setdefault(("System setting", "Outbound NAT mode"), "reuse")
        return out, found

    return _closing_call(services.pfsense_client(site), read)


def _pf_name(item: Any, intent: SiteIntent) -> str:
    if item.kind in ("phase1", "phase2", "rule", "nat"):
        return item.key
    if item.kind == "natmode":
        return "Outbound NAT mode"
    return intent.vti_descr if item.kind == "interface" else f"AS {intent.onprem_asn}"


def _with_live_actions(
    site: Site, intent: SiteIntent, facts: dict[str, Any], objects: list[PlanObject]
) -> tuple[list[PlanObject], list[str], list[Any]]:
    notes: list[str] = []
    actions: dict[tuple[str, str], Action] = {}
    conflicts: list[Any] = []
    readers = {
        "Azure": lambda: _azure_actions(site, intent),
        "pfSense": lambda: _pfsense_actions(site, intent, facts),
    }
    # Both ends are read at once, and the page never waits longer than LIVE_TIMEOUT for them.
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="plan-live")
    futures = {end: pool.submit(fn) for end, fn in readers.items()}
    wait(futures.values(), timeout=LIVE_TIMEOUT)
    pool.shutdown(wait=False)
    for end, future in futures.items():
        if not future.done():
            reason = f"no answer within {LIVE_TIMEOUT:g} s"
        elif future.exception() is not None:
            exc = future.exception()
            log.warning("reading %s for the review failed", end, exc_info=exc)
            reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        else:
            found_actions, found_conflicts = future.result()
            actions.update(found_actions)
            conflicts += found_conflicts
            continue
        notes.append(
            f"Could not read {end} to see what already exists ({reason}); its actions below "
            "assume nothing exists yet. The run adopts matching objects anyway."
        )
    updated = [
        replace(
            o,
            action=actions.get((o.kind, o.name), o.action),
            conflicts=tuple(c.message for c in conflicts if _concerns(c, o)),
        )
        for o in objects
    ]
    return updated, notes, conflicts


def _concerns(conflict: Any, obj: PlanObject) -> bool:
    """Is the conflict shown next to this object? (pfSense objects by kind; an adopted
    gateway's conflicts next to the VPN gateway)."""
    if obj.end == "azure":
        return conflict.kind == "gateway" and obj.kind == "Virtual network gateway"
    return PF_KIND.get(conflict.kind) == obj.kind


def live_conflicts(site: Site) -> list[Any]:
    """What on the firewall (and, for a site that adopts a gateway, in the gateway's settings)
    conflicts with the site now: a fresh read; [] for an end that cannot be read (the run checks
    again before its first Azure write)."""
    intent = site.get_intent()
    found: list[Any] = []
    try:
        found += _pfsense_actions(site, intent, known_facts(site))[1]
    except Exception:
        log.warning("reading pfSense for conflicts failed", exc_info=True)
    if not intent.owns_gateway:
        try:
            found += _azure_actions(site, intent)[1]
        except Exception:
            log.warning("reading the adopted gateway for conflicts failed", exc_info=True)
    return found
