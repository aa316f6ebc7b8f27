"""What on the firewall stands in the way of a site, found by reading it (nothing is written).

The review shows each conflict next to the object it concerns and keeps Launch disabled; a
provisioning run checks the same before its first billable Azure write, so a pfSense problem
never leaves a half-built (and billed) VPN gateway behind. A conflict's ``message`` is written
for the person using the app; ``field`` is the :class:`~s2svpn.intent.SiteIntent` field that
resolves it (the wizard links to the step that holds it); ``kind`` is the pfSense object it
belongs to (``phase1``, ``phase2``, ``interface``, ``rule``, ``nat``, ``frr``, or "" for the firewall as a
whole).

Pure: takes a pfSense client (``preflight``, the finders the push plan uses), no Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from s2svpn import pfsense_push
from s2svpn.errors import InputError
from s2svpn.intent import SiteIntent

# The SiteIntent field a conflict is resolved by -> the pfSense object it is shown next to.
FIELD_KIND = {
    "onprem_asn": "frr",
    "onprem_router_id": "frr",
    "onprem_bgp_ip": "frr",
    "vti_descr": "interface",
    "azure_apipa_ip": "interface",
    "onprem_apipa_ip": "interface",
    "wan_interface": "phase1",
    "self_traffic": "nat",  # outbound NAT disabled: the chosen fix cannot work (pfsense_nat)
}
# Stand-in for Azure's public IP before it exists (TEST-NET-1: never a real peer).
PENDING_PUBLIC_IP = "192.0.2.1"


@dataclass(frozen=True)
class Conflict:
    message: str
    field: str = ""
    kind: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"message": self.message, "field": self.field, "kind": self.kind}


def conflict(message: str, field: str = "") -> Conflict:
    return Conflict(message, field, FIELD_KIND.get(field, ""))


def _preflight_field(message: str, intent: SiteIntent) -> str:
    """Which answer a preflight problem is about (the client words them; see its preflight)."""
    if f"'{intent.wan_interface}'" in message:
        return "wan_interface"
    if intent.onprem_bgp_ip and intent.onprem_bgp_ip in message:
        return "onprem_bgp_ip"
    return ""


def _tunnels_in_the_way(interfaces: dict, intent: SiteIntent) -> list[Conflict]:
    """Another tunnel interface already has this site's VTI name or APIPA address."""
    found = []
    for key, iface in interfaces.items():
        if not str(iface.get("if") or "").startswith("ipsec"):
            continue
        if str(iface.get("descr") or "").upper() == intent.vti_descr.upper():
            found.append(
                conflict(
                    f"The tunnel interface name {intent.vti_descr} is already used on this "
                    f"firewall ({key}, another tunnel); choose another name for this site.",
                    "vti_descr",
                )
            )
        if intent.bgp_mode == "apipa" and iface.get("ipaddr") == intent.onprem_apipa_ip:
            found.append(
                conflict(
                    f"pfSense's APIPA address {intent.onprem_apipa_ip} is already on tunnel "
                    f"interface {key} of this firewall; choose another /30 for this site.",
                    "onprem_apipa_ip",
                )
            )
    return found


def inspect(
    client: Any,
    intent: SiteIntent,
    *,
    azure_bgp_ip: str,
    psk: str,
    azure_public_ip: str | None = None,
) -> tuple[list[Conflict], list[pfsense_push.PlanItem]]:
    """Every conflict between the site and the firewall as it is now, and the push's plan
    (create / update / unchanged per object; empty when a conflict stops it). Read-only.

    ``azure_public_ip`` is None before Azure's public IP exists (a phase 1 to it cannot exist
    yet). Raises :class:`~s2svpn.clients.errors.ClientError` only when the firewall cannot be
    read at all."""
    found: list[Conflict] = []
    items: list[pfsense_push.PlanItem] = []
    pre = client.preflight(intent, azure_public_ip=azure_public_ip)
    for problem in pre.problems:
        found.append(conflict(problem, _preflight_field(problem, intent)))
    if pre.existing_phase1 is None:  # nothing of this site's is on the firewall yet
        found += _tunnels_in_the_way(pre.interfaces, intent)
    try:
        state = {"preflight": pre.to_dict()}
        desired = pfsense_push.build_desired(
            intent,
            state,
            azure_public_ip=azure_public_ip or PENDING_PUBLIC_IP,
            azure_bgp_ip=azure_bgp_ip,
            psk=psk,
        )
        items = pfsense_push.plan(client, desired, state)  # system settings as preflight read them
    except InputError as exc:
        found.append(conflict(exc.message, exc.field))
    return found, items


def check(client: Any, intent: SiteIntent, **facts: Any) -> list[Conflict]:
    """The conflicts alone (see :func:`inspect`)."""
    return inspect(client, intent, **facts)[0]


def summary(conflicts: list[Conflict]) -> str:
    """One message naming every conflict (a failed step's error)."""
    return "pfSense is not ready for this site, so nothing was created in Azure: " + " ".join(
        c.message for c in conflicts
    )
