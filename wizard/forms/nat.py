"""Step 6: the home router in front of pfSense, and what it needs for the chosen mode."""

from __future__ import annotations

from typing import Any

from django import forms

from s2svpn.intent import SiteIntent
from wizard.forms.base import StepForm, answer, store
from wizard.models import Site


class NatForm(StepForm):
    """Step 6: the home router in front of pfSense, and what it needs for the chosen mode."""

    step = "nat"

    behind_nat = forms.BooleanField(
        label="pfSense sits behind a NAT router (e.g. a FRITZ!Box)",
        required=False,
        help_text="Its WAN address is private and the router holds the public IP.",
    )
    ports_forwarded = forms.BooleanField(
        label="The router forwards UDP 500 and 4500 (and ESP) to pfSense",
        required=False,
        help_text="Only needed when Azure must start the tunnel (Default or InitiatorOnly).",
    )

    def initial_for(self, site: Site) -> dict[str, Any]:
        return {k: answer(site, k) for k in ("behind_nat", "ports_forwarded")}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        mode = answer(self.site, "connection_mode")
        if mode == "InitiatorOnly" and data.get("behind_nat") and not data.get("ports_forwarded"):
            self.err(
                "ports_forwarded",
                "InitiatorOnly makes Azure start the tunnel, but the NAT router does not forward "
                "UDP 500/4500 to pfSense, so Azure can never reach it. Forward the ports (and tick "
                "this box), or go back to Connection and choose ResponderOnly.",
            )
        return data

    def apply(self, site: Site) -> None:
        store(
            site,
            behind_nat=bool(self.cleaned_data.get("behind_nat")),
            ports_forwarded=bool(self.cleaned_data.get("ports_forwarded")),
        )


def nat_advice(intent: SiteIntent) -> list[str]:
    """What the home router needs for the chosen connection mode, in plain sentences."""
    if not intent.behind_nat:
        return [
            "pfSense holds the public IP itself: nothing to configure on another router. "
            "Allow IKE (UDP 500/4500) and ESP on pfSense's WAN if Azure should be able to "
            "initiate."
        ]
    if intent.connection_mode == "ResponderOnly":
        advice = [
            "Nothing to forward: pfSense starts the tunnel outbound, and NAT traversal (UDP "
            "4500) carries it through the router; Azure only answers.",
        ]
    else:
        advice = [
            f"{intent.connection_mode} lets Azure start the tunnel, so forward UDP 500 and UDP "
            "4500 (and protocol 50, ESP, if the router can) from the router to pfSense's WAN "
            "address.",
        ]
    advice.append(
        "FRITZ!Box: IPsec passthrough is on by default; if you forward ports, use Internet › "
        "Permit Access › Port Sharing for pfSense's address."
    )
    return advice


def extras(site: Site, form: NatForm) -> dict[str, Any]:
    intent = site.get_intent()
    return {"advice": nat_advice(intent), "intent": intent}
