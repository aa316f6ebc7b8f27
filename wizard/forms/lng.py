"""Step 3: how Azure finds the home end (DDNS name or static IP) and the BGP addressing.

Reference: https://learn.microsoft.com/azure/vpn-gateway/bgp-howto
"""

from __future__ import annotations

import contextlib
from typing import Any

from django import forms
from django.conf import settings
from netaddr import AddrFormatError, IPAddress, IPNetwork

from s2svpn import activeactive, netplan
from s2svpn import asn as asn_rules
from s2svpn.dns import DnsError, DnsResult, resolve_endpoint
from s2svpn.intent import SiteIntent
from wizard.forms.base import StepForm, answer, set_wizard_data, store, wizard_data
from wizard.forms.pfsense import apipa_taken
from wizard.forms.vnet import adopted_gateway
from wizard.models import Site


def _public_ipv4(text: str) -> str:
    raw = (text or "").strip()
    try:
        ip = IPAddress(raw)
    except (AddrFormatError, ValueError):
        raise forms.ValidationError(
            f"{raw!r} is not an IPv4 address; write the router's public address like 203.0.113.2."
        ) from None
    if ip.version != 4 or str(ip) != raw:
        raise forms.ValidationError(
            f"{raw!r} is not written as an IPv4 address; write it like 203.0.113.2."
        )
    if ip.is_loopback() or ip.is_link_local() or ip.is_multicast() or ip.is_reserved():
        raise forms.ValidationError(
            f"{raw} cannot be reached from the internet; enter the NAT router's public IPv4."
        )
    if any(
        ip in IPNetwork(n)
        for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
    ):
        raise forms.ValidationError(
            f"{raw} is a private address Azure cannot reach; enter the NAT router's public IPv4 "
            "(what https://ifconfig.co shows from home)."
        )
    return raw


class LngForm(StepForm):
    """Step 3: how Azure finds the home end (DDNS name or IP) and the BGP addressing."""

    step = "lng"

    endpoint = forms.ChoiceField(
        label="How Azure finds your home",
        choices=(("fqdn", "A DDNS name (dynamic IP)"), ("ip", "A static public IP")),
        widget=forms.RadioSelect,
    )
    onprem_fqdn = forms.CharField(
        label="DDNS name",
        required=False,
        help_text="Must resolve to exactly one IPv4 address: the NAT router's public address.",
        widget=forms.TextInput(
            attrs={"placeholder": "home-s2s.example.net", "spellcheck": "false"}
        ),
    )
    onprem_public_ip = forms.CharField(
        label="Static public IP",
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "203.0.113.2", "spellcheck": "false"}),
    )
    onprem_asn = forms.IntegerField(
        label="On-prem (pfSense) ASN",
        help_text="A private ASN such as 65010; not 65515 (Azure's own).",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    bgp_mode = forms.ChoiceField(
        label="BGP addressing",
        choices=(
            ("azure_default", "Azure's default BGP IP (from the GatewaySubnet)"),
            ("apipa", "APIPA addresses (169.254.21.x, chosen by s2svpn, known up front)"),
        ),
        widget=forms.RadioSelect,
    )
    onprem_bgp_ip = forms.CharField(
        label="On-prem BGP peer IP",
        required=False,
        help_text="pfSense's LAN address (e.g. 10.0.0.1); not inside the VNet. Empty in APIPA "
        "mode = pfSense's side of the /30.",
        widget=forms.TextInput(attrs={"placeholder": "10.0.0.1", "spellcheck": "false"}),
    )

    azure_apipa_ip = forms.CharField(
        label="Azure's APIPA BGP IP",
        required=False,
        help_text="APIPA mode: chosen here and set by s2svpn as the gateway's custom BGP IP "
        "(169.254.21.0-169.254.22.255). Empty = the next free /30 on this firewall.",
        widget=forms.TextInput(attrs={"placeholder": "169.254.21.2", "spellcheck": "false"}),
    )
    onprem_apipa_ip = forms.CharField(
        label="pfSense's APIPA address",
        required=False,
        help_text="APIPA mode: the other host of the same /30, set by s2svpn on pfSense's tunnel "
        "interface and used as the BGP peer in Azure's local network gateway.",
        widget=forms.TextInput(attrs={"placeholder": "169.254.21.1", "spellcheck": "false"}),
    )

    def build_fields(self) -> None:
        # what clean() found out: the planned /30 and, for a DDNS name, what it resolved to
        self.transit: netplan.Transit | None = None
        self.dns_result: DnsResult | None = None
        asn, router_id = firewall_bgp(self.site)
        if asn:
            self.fields["onprem_asn"].help_text = (
                f"FRR on this pfSense runs BGP as AS {asn}"
                + (f" (router id {router_id})" if router_id else "")
                + ": one firewall speaks BGP under one AS, so every site on it uses that AS."
            )

    def initial_for(self, site: Site) -> dict[str, Any]:
        stored = site.intent or {}
        return {
            "endpoint": "ip" if stored.get("onprem_public_ip") else "fqdn",
            "onprem_fqdn": stored.get("onprem_fqdn", ""),
            "onprem_public_ip": stored.get("onprem_public_ip", ""),
            "onprem_asn": stored.get("onprem_asn") or firewall_bgp(site)[0] or 65010,
            "bgp_mode": answer(site, "bgp_mode"),
            "onprem_bgp_ip": stored.get("onprem_bgp_ip", ""),
            **_apipa_initial(site),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        intent = self.site.get_intent()
        if data.get("endpoint") == "fqdn":
            self._check_fqdn(data)
        elif data.get("endpoint") == "ip":
            try:
                data["onprem_public_ip"] = _public_ipv4(data.get("onprem_public_ip", ""))
            except forms.ValidationError as exc:
                self.err("onprem_public_ip", exc.messages[0])
        value = data.get("onprem_asn")
        if value is not None:
            try:
                asn_rules.validate_asn(value, "onprem")
                asn_rules.validate_asn_pair(value, intent.azure_asn)
            except asn_rules.AsnError as exc:
                self.err("onprem_asn", exc.message)
        self.transit = None
        mode = data.get("bgp_mode")
        bgp_ip = (data.get("onprem_bgp_ip") or "").strip()
        public_ip = data.get("onprem_public_ip") if data.get("endpoint") == "ip" else None
        if value is not None and firewall_bgp(self.site)[0] not in (None, value):
            self.notes["onprem_asn"] = (
                f"FRR on this pfSense runs AS {firewall_bgp(self.site)[0]}: with AS {value} the "
                "review shows a conflict and Launch stays disabled until one of them changes."
            )
        if mode == "apipa":
            try:
                self.transit = netplan.transit_for_apipa(
                    (data.get("azure_apipa_ip") or "").strip() or None,
                    (data.get("onprem_apipa_ip") or "").strip() or None,
                    taken=apipa_taken(self.site),
                )
            except netplan.AddressError as exc:
                field = exc.field if exc.field in self.fields else "bgp_mode"
                self.err(field, exc.message)
            else:
                azure_ip, home_ip = self.transit.azure_ip, self.transit.pfsense_ip
                if problem := gateway_apipa_problem(self.site, azure_ip, home_ip):
                    self.err("azure_apipa_ip", problem)
                if not bgp_ip:
                    data["onprem_bgp_ip"] = bgp_ip = self.transit.pfsense_ip
                elif bgp_ip != self.transit.pfsense_ip:
                    self.err(
                        "onprem_bgp_ip",
                        f"In APIPA mode Azure peers with pfSense's APIPA address "
                        f"{self.transit.pfsense_ip}, not {bgp_ip}; leave the field empty or "
                        f"enter {self.transit.pfsense_ip}.",
                    )
        elif mode == "azure_default":
            if not bgp_ip:
                self.err(
                    "onprem_bgp_ip",
                    "Enter the address pfSense speaks BGP from: its LAN address, e.g. 10.0.0.1.",
                )
            else:
                try:
                    data["onprem_bgp_ip"] = netplan.validate_onprem_bgp_ip(
                        bgp_ip, intent.vnet_prefixes, public_ip
                    )
                except netplan.AddressError as exc:
                    self.err("onprem_bgp_ip", exc.message)
                else:
                    if IPAddress(data["onprem_bgp_ip"]) in netplan.LINK_LOCAL:
                        self.err(
                            "onprem_bgp_ip",
                            f"{bgp_ip} is an APIPA (169.254.x.x) address; choose APIPA addressing "
                            "above, or use pfSense's LAN address.",
                        )
            self.transit = default_transit(intent.gateway_subnet_prefix, intent.active_active)
        return data

    def _check_fqdn(self, data: dict[str, Any]) -> None:
        fqdn = (data.get("onprem_fqdn") or "").strip()
        if not fqdn:
            self.err(
                "onprem_fqdn",
                "Enter the DDNS name your router publishes (e.g. home-s2s.example.net), or "
                "choose a static public IP.",
            )
            return
        try:
            result = resolve_endpoint(
                fqdn,
                nameservers=self.site.nameservers(),
                timeout=settings.S2SVPN_DNS_TIMEOUT,
            )
        except DnsError as exc:
            self.err("onprem_fqdn", exc.message)
            return
        data["onprem_fqdn"] = result.fqdn
        self.dns_result = result
        self.notes["onprem_fqdn"] = (
            f"{result.fqdn} resolves to {result.address} (TTL {result.ttl} s) — "
            "Azure will connect to this address."
        )

    def apply(self, site: Site) -> None:
        data = self.cleaned_data
        fqdn = data["onprem_fqdn"] if data["endpoint"] == "fqdn" else ""
        ip = data["onprem_public_ip"] if data["endpoint"] == "ip" else ""
        values: dict[str, Any] = {
            "onprem_fqdn": fqdn,
            "onprem_public_ip": ip,
            "onprem_asn": data["onprem_asn"],
            "bgp_mode": data["bgp_mode"],
            "onprem_bgp_ip": data["onprem_bgp_ip"],
        }
        if data["bgp_mode"] == "apipa" and self.transit:
            values["azure_apipa_ip"] = self.transit.azure_ip
            values["onprem_apipa_ip"] = self.transit.pfsense_ip
            values["azure_apipa_ip2"] = ""
            if site.get_intent().active_active:  # instance 1's address, free on the firewall too
                with contextlib.suppress(netplan.AddressError):
                    values["azure_apipa_ip2"] = activeactive.second_apipa(
                        self.transit.network, apipa_taken(site)
                    ).azure_ip
        store(site, **values)
        if self.dns_result is not None:
            set_wizard_data(
                site, dns={"address": self.dns_result.address, "ttl": self.dns_result.ttl}
            )


def firewall_bgp(site: Site) -> tuple[int | None, str]:
    """(AS, router id) FRR runs on the site's pfSense, as the wizard last read it."""
    snap = wizard_data(site).get("pfsense") or {}
    return snap.get("bgp_asn"), str(snap.get("router_id") or "")


def _apipa_initial(site: Site) -> dict[str, str]:
    stored = site.intent or {}
    if stored.get("azure_apipa_ip") or stored.get("onprem_apipa_ip"):
        return {
            "azure_apipa_ip": stored.get("azure_apipa_ip", ""),
            "onprem_apipa_ip": stored.get("onprem_apipa_ip", ""),
        }
    gateway = adopted_gateway(site)
    for azure_ip in (gateway or {}).get("custom_bgp_ips") or []:
        # an adopted gateway's APIPA addresses are the gateway's: propose one whose home end
        # no other s2svpn home on the gateway peers from (one BGP neighbour per address)
        with contextlib.suppress(netplan.AddressError):
            taken = apipa_taken(site) + homes_on_the_gateway(site)
            mine = netplan.transit_for_apipa(azure_ip, taken=taken)
            return {"azure_apipa_ip": mine.azure_ip, "onprem_apipa_ip": mine.pfsense_ip}
    try:
        free = netplan.transit_for_apipa(taken=apipa_taken(site))
    except netplan.AddressError:
        return {}
    return {"azure_apipa_ip": free.azure_ip, "onprem_apipa_ip": free.pfsense_ip}


def homes_on_the_gateway(site: Site) -> list[str]:
    """The APIPA addresses other s2svpn homes on the gateway this site adopts peer from: Azure
    has one BGP neighbour per address, so two homes cannot both be 169.254.21.1 on one gateway
    (our reading of BGP; not checked against Azure)."""
    intent = site.get_intent()
    out = []
    for other in Site.objects.exclude(pk=site.pk).filter(
        subscription_id=site.subscription_id, resource_group__iexact=site.resource_group
    ):
        theirs = other.get_intent()
        if theirs.gateway_name == intent.gateway_name and theirs.bgp_mode == "apipa":
            out.append(theirs.onprem_apipa_ip)
    return [ip for ip in out if ip]


def gateway_apipa_problem(site: Site, azure_ip: str, pfsense_ip: str = "") -> str:
    """Why ``azure_ip`` cannot be Azure's APIPA address for a site adopting a gateway ("" if it
    can): the custom BGP addresses are the gateway's settings, shared by its connections."""
    gateway = adopted_gateway(site)
    if not gateway or gateway.get("error"):
        return ""
    offered = list(gateway.get("custom_bgp_ips") or [])
    if pfsense_ip and pfsense_ip in homes_on_the_gateway(site):
        return (
            f"Another home on VPN gateway {gateway['name']} already peers from {pfsense_ip}; "
            "the gateway has one BGP neighbour per address: choose another of its APIPA "
            f"addresses ({', '.join(offered) or 'none'}) for this site."
        )
    if azure_ip in offered:
        return ""
    return (
        f"{azure_ip} is not one of the custom APIPA addresses of VPN gateway {gateway['name']}, "
        "which this site adopts ("
        + (f"it has {', '.join(offered)}; choose one of them" if offered else "it has none")
        + "), or use Azure's default BGP address. Adding one to the gateway is done in Azure."
    )


def default_transit(gateway_subnet: str, active_active: bool = False) -> netplan.Transit | None:
    """The transit in default BGP mode; active-active: instance 0's /32 pair (s2svpn.activeactive)."""
    try:
        if active_active:
            aa = SiteIntent(gateway_subnet_prefix=gateway_subnet, active_active=True)
            return activeactive.tunnels(aa, ())[0].transit
        return netplan.transit_for_azure_default(netplan.azure_default_bgp_ip(gateway_subnet))
    except netplan.AddressError:
        return None


def transit_preview(site: Site, mode: str | None = None) -> netplan.Transit | None:
    """The /30 between pfSense's VTI and Azure's BGP address, as planned now."""
    intent = site.get_intent()
    mode = mode or intent.bgp_mode
    if mode == "apipa":
        try:
            return netplan.transit_for_apipa(
                intent.azure_apipa_ip or None, intent.onprem_apipa_ip or None
            )
        except netplan.AddressError:
            return None
    return default_transit(intent.gateway_subnet_prefix, intent.active_active)


def extras(site: Site, form: LngForm) -> dict[str, Any]:
    intent = site.get_intent()
    mode = form["bgp_mode"].value() or intent.bgp_mode
    return {"transit": form.transit or transit_preview(site, mode), "intent": intent, "mode": mode}
