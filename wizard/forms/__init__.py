"""The wizard's steps: one module per step form, and the table the views walk.

Every check is the domain core's, so the wizard, the sandboxes and the runs never disagree about
what can work. A row of :data:`STEPS` says everything a view needs about a step: its form, its
page template, what else the page shows (``extras``), what it reads from the real ends before it
is shown (``outside``) and which partial the live validation adds (``live_partial``). The site and
review steps have their own views (connection tests, the sandbox shortcut, the plan).

References: GatewaySubnet and SKUs https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings,
BGP https://learn.microsoft.com/azure/vpn-gateway/bgp-howto, IPsec policy
https://learn.microsoft.com/azure/vpn-gateway/ipsec-ike-policy-howto, pfSense REST API v2
https://pfrest.org/api-docs/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wizard.forms import connection, gateway, lng, nat, pfsense, vnet
from wizard.forms.base import (
    FIELD_STEP,
    StepForm,
    mark_invalid,
    normalise_fingerprint,
    pretty_fingerprint,
    set_wizard_data,
    wizard_data,
)
from wizard.forms.pfsense import (
    describe_preflight,
    firewall_facts,
    preflight_snapshot,
    read_preflight,
)
from wizard.forms.site import SiteForm, new_slug, sandbox_subscription
from wizard.models import Site


def no_extras(site: Site, form: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class OutsideRead:
    """What a step reads from a real end before it is shown, kept under ``wizard_data[key]``."""

    key: str
    end: str  # named in the message when the end does not answer
    read: Callable[[Site], Any]


@dataclass(frozen=True)
class StepInfo:
    key: str
    title: str
    short: str
    form: type[StepForm] | type[SiteForm] | None
    template: str
    extras: Callable[[Site, Any], dict[str, Any]] = no_extras
    outside: OutsideRead | None = None
    live_partial: str = ""


STEPS: tuple[StepInfo, ...] = (
    StepInfo("site", "Site and credentials", "Site", SiteForm, "wizard/step_site.html"),
    StepInfo(
        "vnet",
        "Virtual network and GatewaySubnet",
        "VNet",
        vnet.VnetForm,
        "wizard/step_vnet.html",
        vnet.extras,
        OutsideRead("vnets", "Azure", vnet.read_vnets),
    ),
    StepInfo(
        "gateway",
        "VPN gateway",
        "Gateway",
        gateway.GatewayForm,
        "wizard/step_gateway.html",
        gateway.extras,
    ),
    StepInfo(
        "lng",
        "Local network gateway",
        "Home end",
        lng.LngForm,
        "wizard/step_lng.html",
        lng.extras,
        # the firewall's BGP identity and tunnel interfaces: the ASN and APIPA /30 proposed
        OutsideRead("pfsense", "pfSense", read_preflight),
        live_partial="wizard/partials/transit.html",
    ),
    StepInfo(
        "connection",
        "Connection",
        "Connection",
        connection.ConnectionForm,
        "wizard/step_connection.html",
        connection.extras,
    ),
    StepInfo(
        "pfsense",
        "pfSense",
        "pfSense",
        pfsense.PfSenseForm,
        "wizard/step_pfsense.html",
        pfsense.extras,
        OutsideRead("pfsense", "pfSense", read_preflight),
    ),
    StepInfo("nat", "NAT router", "NAT router", nat.NatForm, "wizard/step_nat.html", nat.extras),
    StepInfo("review", "Review and launch", "Review", None, "wizard/step_review.html"),
)
STEP_KEYS = tuple(s.key for s in STEPS)
STEP = {s.key: s for s in STEPS}

__all__ = [
    "FIELD_STEP",
    "STEP",
    "STEPS",
    "STEP_KEYS",
    "OutsideRead",
    "SiteForm",
    "StepForm",
    "StepInfo",
    "describe_preflight",
    "firewall_facts",
    "mark_invalid",
    "new_slug",
    "normalise_fingerprint",
    "preflight_snapshot",
    "pretty_fingerprint",
    "sandbox_subscription",
    "set_wizard_data",
    "wizard_data",
]
