"""One Azure VPN gateway, several homes: what a site that adopts an existing gateway must agree
with, and who else still uses a gateway at teardown.

A route-based VPN gateway carries many site-to-site connections (up to the SKU's tunnel count,
https://learn.microsoft.com/azure/vpn-gateway/about-gateway-skus); each home adds only its local
network gateway and connection. The gateway's BGP settings (ASN, active-active, custom APIPA
addresses) are the gateway's, not the site's: an adopting site follows them, and s2svpn never
changes a gateway it adopted (a PUT would touch every other connection on it).

Pure: our dataclasses in, plain words out; no Django, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from s2svpn.intent import SiteIntent


def adoption_conflicts(gateway: Any, intent: SiteIntent) -> list[str]:
    """Why ``intent`` cannot join ``gateway`` (a :class:`s2svpn.clients.azure.Gateway`) as it
    is, one full sentence each with its fix; empty when it can."""
    return [message for _field, message in adoption_problems(gateway, intent)]


def review_conflicts(gateway: Any, intent: SiteIntent) -> list[Any]:
    """The same, as :class:`s2svpn.preconditions.Conflict` for the review: kind ``gateway``
    (shown next to the VPN gateway), ``field`` the answer that resolves it."""
    from s2svpn.preconditions import Conflict

    return [Conflict(m, field, "gateway") for field, m in adoption_problems(gateway, intent)]


def adoption_problems(gateway: Any, intent: SiteIntent) -> list[tuple[str, str]]:
    """(the SiteIntent field that resolves it, the full message) per conflict."""
    name = gateway.name
    out: list[tuple[str, str]] = []
    if gateway.gateway_type and gateway.gateway_type != "Vpn":
        out.append(
            (
                "vnet_name",
                (
                    f"{name} is a {gateway.gateway_type} gateway, not a VPN gateway; choose a VNet whose "
                    "gateway is a VPN gateway, or one without a gateway."
                ),
            )
        )
    if gateway.vpn_type and gateway.vpn_type != "RouteBased":
        out.append(
            (
                "vnet_name",
                (
                    f"{name} is {gateway.vpn_type}; BGP over IPsec needs a RouteBased gateway. Choose "
                    "another VNet."
                ),
            )
        )
    if gateway.provisioning_state == "Failed":
        out.append(
            (
                "vnet_name",
                (
                    f"{name} is in provisioning state Failed; repair it in the Azure portal (Reset or "
                    "re-save the gateway) before adding this site."
                ),
            )
        )
    if not gateway.enable_bgp:
        out.append(
            (
                "vnet_name",
                (
                    f"{name} has BGP switched off; s2svpn's sites exchange routes over BGP. Switch BGP on "
                    "for the gateway in Azure (this changes the gateway for its other connections too), "
                    "or choose another VNet."
                ),
            )
        )
    elif gateway.asn is not None and gateway.asn != intent.azure_asn:
        out.append(
            (
                "azure_asn",
                (
                    f"{name} runs BGP as AS {gateway.asn}, but this site says Azure is AS "
                    f"{intent.azure_asn}; the ASN belongs to the gateway: use {gateway.asn} (Gateway step)."
                ),
            )
        )
    if gateway.active_active != intent.active_active:
        have = "active-active" if gateway.active_active else "active-standby"
        want = "active-active" if intent.active_active else "active-standby"
        out.append(
            (
                "active_active",
                (
                    f"{name} is {have}, but this site is set up {want}; the gateway decides: set "
                    f"active-active to {'on' if gateway.active_active else 'off'} (Gateway step)."
                ),
            )
        )
    if intent.bgp_mode == "apipa" and intent.azure_apipa_ip:
        offered = list(gateway.custom_bgp_ips)
        if intent.azure_apipa_ip not in offered:
            choose = (
                f"choose one of {', '.join(offered)}"
                if offered
                else "the gateway has no custom APIPA addresses"
            )
            out.append(
                (
                    "azure_apipa_ip",
                    (
                        f"Azure's APIPA BGP address {intent.azure_apipa_ip} is not configured on {name} "
                        f"({choose}); add it to the gateway's custom BGP IP addresses in Azure, or use "
                        "Azure's default BGP address for this site."
                    ),
                )
            )
    if gateway.asn is not None and intent.onprem_asn == gateway.asn:
        out.append(
            (
                "onprem_asn",
                (
                    f"pfSense uses AS {intent.onprem_asn}, the same as {name}; the session is eBGP, so "
                    "the home end needs another ASN."
                ),
            )
        )
    return out


def other_connections(connections: Iterable[Any], intent: SiteIntent) -> list[str]:
    """Names of the gateway's connections that are not this site's (and not being deleted)."""
    return sorted(
        c.name
        for c in connections
        if c.name.lower() != intent.connection_name.lower() and c.provisioning_state != "Deleting"
    )


def kept_message(kind: str, gateway: str, users: list[str]) -> str:
    """The run log's words for a resource teardown keeps because the gateway is still in use."""
    shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
    if kind == "VPN gateway":
        return f"VPN gateway {gateway} kept: still used by connection {shown}"
    return f"{kind} kept: VPN gateway {gateway} still uses it (connection {shown})"
