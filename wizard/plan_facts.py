"""What a review plan is made of: its objects, and the facts provisioning runs learnt (public
IPs, Azure's BGP addresses). Shared by :mod:`wizard.plan` and :mod:`wizard.plan_live`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from s2svpn import activeactive, netplan
from s2svpn.intent import SiteIntent
from wizard.models import RunKind, Site

Action = Literal["create", "reuse", "update"]
# One end's live reading for the review: the actions by (kind, name), and its conflicts.
Live = tuple[dict[tuple[str, str], Action], list[Any]]


@dataclass(frozen=True)
class PlanObject:
    end: Literal["azure", "pfsense"]
    kind: str
    name: str
    values: dict[str, Any]
    action: Action = "create"
    conflicts: tuple[str, ...] = ()  # what on the firewall stands in its way (full messages)


@dataclass(frozen=True)
class Plan:
    objects: list[PlanObject]
    monthly_cost: float | None
    expected_minutes: int
    hourly_cost: float | None = None
    cost_lines: tuple[tuple[str, float], ...] = ()
    cost_note: str = ""
    notes: list[str] = field(default_factory=list)
    conflicts: list[Any] = field(default_factory=list)  # s2svpn.preconditions.Conflict, live only
    adopts: str = ""  # the existing VPN gateway the site adopts (cost = one more tunnel on it)

    def by_end(self, end: str) -> list[PlanObject]:
        return [o for o in self.objects if o.end == end]

    @property
    def azure(self) -> list[PlanObject]:
        return self.by_end("azure")

    @property
    def pfsense(self) -> list[PlanObject]:
        return self.by_end("pfsense")


def normalise_facts(data: dict[str, Any] | None) -> dict[str, Any]:
    """A run's shared data with the first public IP / BGP IP also under singular keys."""
    facts = dict(data or {})
    ips = facts.get("azure_public_ips") or []
    if ips and not facts.get("azure_public_ip"):
        facts["azure_public_ip"] = ips[0]
    bgp = facts.get("azure_bgp_ips") or []
    if bgp and not facts.get("azure_bgp_ip"):
        facts["azure_bgp_ip"] = bgp[0]
    return facts


def known_facts(site: Site) -> dict[str, Any]:
    """Facts provisioning runs of this site learnt (public IPs, Azure BGP IPs), newest last."""
    facts: dict[str, Any] = {}
    if site.pk:
        for run in site.runs.filter(kind=RunKind.PROVISION).order_by("created"):
            facts.update({k: v for k, v in (run.data or {}).items() if v})
    return normalise_facts(facts)


def azure_bgp_ip(intent: SiteIntent, facts: dict[str, Any] | None = None) -> str:
    """Azure's BGP address: learnt from a run, chosen (APIPA), or predicted from the subnet."""
    facts = facts or {}
    if facts.get("azure_bgp_ip"):
        return str(facts["azure_bgp_ip"])
    transit = netplan.transit_for(intent, None)
    if transit is not None:
        return transit.azure_ip
    try:
        return activeactive.predicted_default_bgp_ips(
            intent.gateway_subnet_prefix, intent.active_active
        )[0]
    except netplan.AddressError:
        return ""
