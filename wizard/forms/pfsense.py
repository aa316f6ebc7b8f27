"""Step 5: pfSense's WAN interface, the LAN prefixes to advertise, firewall scope, FRR package."""

from __future__ import annotations

import re
from contextlib import closing
from typing import TYPE_CHECKING, Any

from django import forms
from netaddr import IPAddress, IPNetwork

from s2svpn import netplan
from wizard.forms.base import StepForm, answer, set_wizard_data, split_prefixes, store, wizard_data
from wizard.models import Site

if TYPE_CHECKING:
    from s2svpn.clients.pfsense import Preflight


class PfSenseForm(StepForm):
    """Step 5: WAN interface, LAN prefixes to advertise, firewall scope, FRR package."""

    step = "pfsense"

    wan_interface = forms.CharField(
        label="WAN interface",
        help_text="The pfSense interface id that faces the NAT router (usually wan).",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    lan_prefixes = forms.CharField(
        label="LAN prefixes to advertise to Azure",
        required=False,
        help_text="One per line, e.g. 10.0.0.0/24; none may overlap the VNet.",
        widget=forms.Textarea(
            attrs={"rows": 3, "spellcheck": "false", "placeholder": "10.0.0.0/24"}
        ),
    )
    firewall_scope = forms.ChoiceField(
        label="IPsec firewall rule",
        choices=(
            ("vnet", "Allow traffic from the VNet and Azure's BGP address only (recommended)"),
            ("any", "Allow any source over the tunnel"),
        ),
        widget=forms.RadioSelect,
    )
    vti_descr = forms.CharField(
        label="Name of the tunnel interface",
        max_length=22,
        help_text="Shown in Interfaces › Assignments; at most 22 letters, digits or underscores.",
    )
    install_frr = forms.BooleanField(
        label="Install the FRR package if it is missing",
        required=False,
        help_text="BGP on pfSense needs pfSense-pkg-frr; s2svpn installs it during the run.",
    )

    def build_fields(self) -> None:
        interfaces = (wizard_data(self.site).get("pfsense") or {}).get("interfaces") or []
        if interfaces:
            self.fields["wan_interface"] = forms.ChoiceField(
                label="WAN interface",
                choices=[(i, i) for i in interfaces],
                help_text=self.fields["wan_interface"].help_text,
            )

    def initial_for(self, site: Site) -> dict[str, Any]:
        stored = site.intent or {}
        return {
            "wan_interface": answer(site, "wan_interface"),
            "lan_prefixes": "\n".join(stored.get("lan_prefixes") or []),
            "firewall_scope": answer(site, "firewall_scope"),
            "vti_descr": answer(site, "vti_descr"),
            "install_frr": wizard_data(site).get("install_frr", True),
        }

    def clean_vti_descr(self) -> str:
        value = self.cleaned_data["vti_descr"].strip()
        if not re.fullmatch(r"[A-Za-z0-9_]{1,22}", value):
            raise forms.ValidationError(
                f"{value!r} cannot name a pfSense interface; use up to 22 letters, digits or "
                "underscores, e.g. AZUREVTI."
            )
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        raw = data.get("lan_prefixes")
        if "lan_prefixes" not in self.errors:
            prefixes = split_prefixes(raw or "")
            intent = self.site.get_intent()
            if not prefixes:
                self.err(
                    "lan_prefixes",
                    "pfSense would advertise nothing, so Azure learns no route home; add the home "
                    "networks, e.g. 10.0.0.0/24.",
                )
            else:
                try:
                    data["lan_prefixes"] = netplan.validate_advertised_prefixes(
                        prefixes, intent.vnet_prefixes
                    )
                except netplan.AddressError as exc:
                    self.err("lan_prefixes", exc.message)
                else:
                    bgp = intent.onprem_bgp_ip
                    if (
                        intent.bgp_mode == "azure_default"
                        and bgp
                        and not any(IPAddress(bgp) in IPNetwork(p) for p in data["lan_prefixes"])
                    ):
                        self.notes["lan_prefixes"] = (
                            f"Note: the BGP peer address {bgp} is in none of these prefixes; Azure "
                            "reaches it through the tunnel only if pfSense holds it."
                        )
        pre = wizard_data(self.site).get("pfsense") or {}
        if pre.get("frr_installed") is False and not data.get("install_frr"):
            self.err(
                "install_frr",
                "The FRR package is not installed on pfSense and BGP cannot run without it; tick "
                "this box or install it under System › Package Manager first.",
            )
        return data

    def apply(self, site: Site) -> None:
        data = self.cleaned_data
        store(
            site,
            wan_interface=data["wan_interface"],
            lan_prefixes=data["lan_prefixes"],
            firewall_scope=data["firewall_scope"],
            vti_descr=data["vti_descr"],
        )
        set_wizard_data(site, install_frr=bool(data.get("install_frr")))


def preflight_snapshot(pre: Preflight) -> dict[str, Any]:
    """The facts of a pfSense preflight the wizard keeps (JSON only)."""
    return {
        "pfsense_version": pre.pfsense_version,
        "api_version": pre.restapi_version,
        "frr_installed": pre.frr_installed,
        "wan_interface": pre.wan_interface,
        "interfaces": list(pre.interfaces),
    }


def describe_preflight(snap: dict[str, Any]) -> str:
    parts = ["Connected to pfSense"]
    if snap["pfsense_version"]:
        parts.append(f"version {snap['pfsense_version']}")
    if snap["api_version"]:
        parts.append(f"REST API {snap['api_version']}")
    text = ", ".join(parts) + "."
    if snap["frr_installed"]:
        text += " The FRR package is installed."
    else:
        text += " The FRR package is not installed yet (the wizard can install it)."
    if snap["wan_interface"]:
        text += f" WAN interface: {snap['wan_interface']}."
    return text


def read_preflight(site: Site) -> dict[str, Any]:
    """Ask the firewall what it offers (read only) and keep it with the draft."""
    from wizard import services

    with closing(services.pfsense_client(site)) as client:
        snap = preflight_snapshot(client.preflight(site.get_intent()))
    set_wizard_data(site, pfsense=snap)
    return snap


def extras(site: Site, form: PfSenseForm) -> dict[str, Any]:
    return {"preflight": wizard_data(site).get("pfsense") or {}}
