"""Step 5: pfSense's WAN interface, the LAN prefixes to advertise, firewall scope, FRR package."""

from __future__ import annotations

import re
from contextlib import closing, suppress
from typing import TYPE_CHECKING, Any

from django import forms
from netaddr import IPAddress, IPNetwork

from s2svpn import activeactive, netplan
from s2svpn.clients.errors import ClientError
from wizard.forms.base import StepForm, answer, set_wizard_data, split_prefixes, store, wizard_data
from wizard.models import Site, SiteStatus

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
    self_traffic = forms.ChoiceField(
        label="pfSense's own traffic to Azure",
        choices=(
            ("explain", "Leave it as it is (LAN clients are unaffected)"),
            (
                "lan_source",
                "Source it from the LAN address (an outbound NAT mapping on the tunnel "
                "interface; outbound NAT switches from Automatic to Hybrid if needed)",
            ),
            (
                "apipa",
                "Switch this site to APIPA BGP addresses (the tunnel then uses 169.254.x.x, "
                "outside the VNet; changes the on-prem BGP peer IP)",
            ),
        ),
        widget=forms.RadioSelect,
        required=False,
        help_text="In default BGP mode pfSense's tunnel address lies inside the VNet, so the "
        "replies to what the firewall itself sends into Azure (DNS to an Azure resolver, NTP, a "
        "Diagnostics ping, gateway monitoring) are delivered inside the VNet, not through the "
        "tunnel.",
    )
    install_frr = forms.BooleanField(
        label="Install the FRR package if it is missing",
        required=False,
        help_text="BGP on pfSense needs pfSense-pkg-frr; s2svpn installs it during the run.",
    )

    def build_fields(self) -> None:
        snap = wizard_data(self.site).get("pfsense") or {}
        # never offer a tunnel interface (s2svpn's own VTIs, another site's) as the WAN
        interfaces = snap.get("wan_choices", snap.get("interfaces")) or []
        if interfaces:
            self.fields["wan_interface"] = forms.ChoiceField(
                label="WAN interface",
                choices=[(i, i) for i in interfaces],
                help_text=self.fields["wan_interface"].help_text,
            )
        if self.site.get_intent().bgp_mode == "apipa":
            del self.fields["self_traffic"]  # the tunnel address is outside the VNet already
        taken = vti_names_taken(self.site)
        if taken:
            self.fields[
                "vti_descr"
            ].help_text += f" Already used on this firewall: {', '.join(sorted(taken))}."

    def initial_for(self, site: Site) -> dict[str, Any]:
        stored = site.intent or {}
        return {
            "wan_interface": answer(site, "wan_interface"),
            "lan_prefixes": "\n".join(stored.get("lan_prefixes") or []),
            "firewall_scope": answer(site, "firewall_scope"),
            "vti_descr": stored.get("vti_descr") or free_vti_name(vti_names_taken(site)),
            "install_frr": wizard_data(site).get("install_frr", True),
            "self_traffic": answer(site, "self_traffic"),
        }

    def clean_vti_descr(self) -> str:
        value = self.cleaned_data["vti_descr"].strip()
        if not re.fullmatch(r"[A-Za-z0-9_]{1,22}", value):
            raise forms.ValidationError(
                f"{value!r} cannot name a pfSense interface; use up to 22 letters, digits or "
                "underscores, e.g. AZUREVTI."
            )
        taken = vti_names_taken(self.site)
        if value.upper() in {name.upper() for name in taken}:
            raise forms.ValidationError(
                f"{value} already names a tunnel interface on this firewall (another site's); "
                f"each site needs its own, e.g. {free_vti_name(taken)}."
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
        self.apipa = None
        if data.get("self_traffic") == "apipa":
            try:
                self.apipa = netplan.transit_for_apipa(taken=apipa_taken(self.site))
            except netplan.AddressError as exc:
                self.err("self_traffic", exc.message)
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
            self_traffic="lan_source" if data.get("self_traffic") == "lan_source" else "explain",
        )
        if self.apipa is not None:
            switch_to_apipa(site, self.apipa)
        set_wizard_data(site, install_frr=bool(data.get("install_frr")))


def switch_to_apipa(site: Site, transit: netplan.Transit) -> None:
    """The APIPA fix chosen in this step: the LNG step's APIPA answers, with a free /30."""
    values = {
        "bgp_mode": "apipa",
        "azure_apipa_ip": transit.azure_ip,
        "onprem_apipa_ip": transit.pfsense_ip,
        "onprem_bgp_ip": transit.pfsense_ip,
        "azure_apipa_ip2": "",
    }
    if site.get_intent().active_active:  # instance 1's address, free on the firewall too
        with suppress(netplan.AddressError):
            values["azure_apipa_ip2"] = activeactive.second_apipa(
                transit.network, apipa_taken(site)
            ).azure_ip
    store(site, **values)


def _is_tunnel(interface: dict[str, Any]) -> bool:
    return str(interface.get("if") or "").startswith("ipsec")


def preflight_snapshot(pre: Preflight, frr: dict[str, Any] | None = None) -> dict[str, Any]:
    """The facts of a pfSense preflight the wizard keeps (JSON only): also the tunnel interfaces
    already on the firewall (names, addresses) and the BGP identity FRR runs (``frr``: the FRR
    sections, when they could be read)."""
    bgp = (frr or {}).get("frrbgp") or {}
    tunnels = [i for i in pre.interfaces.values() if _is_tunnel(i)]
    return {
        "pfsense_version": pre.pfsense_version,
        "api_version": pre.restapi_version,
        "frr_installed": pre.frr_installed,
        "wan_interface": pre.wan_interface,
        "interfaces": list(pre.interfaces),
        "wan_choices": [k for k, i in pre.interfaces.items() if not _is_tunnel(i)],
        "vtis": {str(i.get("descr") or ""): str(i.get("ipaddr") or "") for i in tunnels},
        "bgp_asn": int(bgp["asnum"]) if str(bgp.get("asnum") or "").isdigit() else None,
        "router_id": str(bgp.get("routerid") or ""),
    }


def vti_names_taken(site: Site) -> set[str]:
    """Tunnel interface names on the site's firewall that belong to something else: what the
    firewall reported, and what other sites on the same firewall chose."""
    snap = wizard_data(site).get("pfsense") or {}
    from s2svpn.activeactive import vti_names

    own = (site.pfsense_ids or {}).get("descr") == site.get_intent().descr
    mine = set(vti_names(site.get_intent())) if own else set()
    names = {n for n in (snap.get("vtis") or {}) if n} - mine
    for other in same_firewall(site):
        names.update(vti_names(other.get_intent()))  # both tunnels of an active-active site
    return names


def same_firewall(site: Site) -> list[Site]:
    """The other sites that use this site's pfSense (by URL), removed ones excluded."""
    from wizard.models import SiteStatus

    url = site.pfsense_url.rstrip("/").lower()
    if not url:
        return []
    others = Site.objects.exclude(status=SiteStatus.REMOVED).exclude(pk=site.pk)
    return [o for o in others if o.pfsense_url.rstrip("/").lower() == url]


def free_vti_name(taken: set[str], base: str = "AZUREVTI") -> str:
    """AZUREVTI, else AZUREVTI2, AZUREVTI3, ... (the first not in ``taken``)."""
    upper = {name.upper() for name in taken}
    n = 1
    while (name := base if n == 1 else f"{base}{n}").upper() in upper:
        n += 1
    return name


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


def firewall_facts(client: Any, intent: Any) -> dict[str, Any]:
    """Preflight and FRR's BGP identity, read once (nothing written), as the wizard keeps them."""
    pre = client.preflight(intent)
    try:
        frr = client.read_frr_sections() if pre.frr_installed else None
    except ClientError:
        frr = None  # FRR unreadable: nothing to propose from it
    return preflight_snapshot(pre, frr)


def read_preflight(site: Site) -> dict[str, Any]:
    """Ask the firewall what it offers (read only) and keep it with the draft."""
    from wizard import services

    with closing(services.pfsense_client(site)) as client:
        snap = firewall_facts(client, site.get_intent())
    set_wizard_data(site, pfsense=snap)
    return snap


def extras(site: Site, form: PfSenseForm) -> dict[str, Any]:
    return {"preflight": wizard_data(site).get("pfsense") or {}}


def apipa_taken(site: Site) -> list[str]:
    """APIPA addresses other sites use on the same firewall (their choices, and the tunnel
    interfaces' addresses the firewall reported), so each site gets its own /30."""
    taken = []
    for other in same_firewall(site):
        intent = other.get_intent()
        if intent.bgp_mode == "apipa":
            # both instances' addresses of an active-active site (s2svpn.activeactive)
            taken += [intent.onprem_apipa_ip, *activeactive.apipa_azure_ips(intent)]
            taken = [ip for ip in taken if ip]
    vtis = (wizard_data(site).get("pfsense") or {}).get("vtis") or {}
    own = site.get_intent().onprem_apipa_ip if site.status != SiteStatus.DRAFT else ""
    taken += [ip for ip in vtis.values() if ip and ip != own and ip.startswith("169.254.")]
    return taken
