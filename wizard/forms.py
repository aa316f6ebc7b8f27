"""One form per wizard step. Every check is the domain core's, so the wizard, the sandboxes and
the runs never disagree about what can work.

Answers are kept server-side: connection facts on the :class:`~wizard.models.Site` fields, the
tunnel answers in ``site.intent`` (a :class:`~s2svpn.intent.SiteIntent` dict). What the wizard
learnt from the outside world (the VNets of the subscription, the firewall's preflight) is kept
under ``site.intent["_wizard"]``, which ``SiteIntent.from_dict`` ignores. Secrets are write-only
(:mod:`wizard.forms_fields`) and the PSK is never rendered back.

References: GatewaySubnet and SKUs https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings,
BGP https://learn.microsoft.com/azure/vpn-gateway/bgp-howto, IPsec policy
https://learn.microsoft.com/azure/vpn-gateway/ipsec-ike-policy-howto, pfSense REST API v2
https://pfrest.org/api-docs/.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from django import forms
from django.conf import settings
from netaddr import AddrFormatError, IPAddress, IPNetwork

from s2svpn import asn as asn_rules
from s2svpn import cost, ipsec, netplan, skus
from s2svpn.dns import DnsError, DnsResult, resolve_endpoint
from s2svpn.intent import IpsecPolicy, SiteIntent
from s2svpn.psk import PskError, validate_psk
from wizard.forms_fields import KeepSecretsMixin, SecretFormField
from wizard.models import AzureAuth, Site, SiteStatus


@dataclass(frozen=True)
class StepInfo:
    key: str
    title: str
    short: str


STEPS: tuple[StepInfo, ...] = (
    StepInfo("site", "Site and credentials", "Site"),
    StepInfo("vnet", "Virtual network and GatewaySubnet", "VNet"),
    StepInfo("gateway", "VPN gateway", "Gateway"),
    StepInfo("lng", "Local network gateway", "Home end"),
    StepInfo("connection", "Connection", "Connection"),
    StepInfo("pfsense", "pfSense", "pfSense"),
    StepInfo("nat", "NAT router", "NAT router"),
    StepInfo("review", "Review and launch", "Review"),
)
STEP_KEYS = tuple(s.key for s in STEPS)

# Which step asks for each SiteIntent field (to send the user back to fix a problem).
FIELD_STEP = {
    "vnet_name": "vnet",
    "vnet_prefixes": "vnet",
    "gateway_subnet_prefix": "vnet",
    "gateway_subnet_name": "vnet",
    "sku": "gateway",
    "generation": "gateway",
    "azure_asn": "gateway",
    "active_active": "gateway",
    "onprem_fqdn": "lng",
    "onprem_public_ip": "lng",
    "onprem_asn": "lng",
    "onprem_bgp_ip": "lng",
    "bgp_mode": "lng",
    "azure_apipa_ip": "lng",
    "onprem_apipa_ip": "lng",
    "lng_prefixes": "lng",
    "psk": "connection",
    "connection_mode": "connection",
    "dpd_timeout_seconds": "connection",
    "policy": "connection",
    "wan_interface": "pfsense",
    "lan_prefixes": "pfsense",
    "firewall_scope": "pfsense",
    "vti_descr": "pfsense",
    "behind_nat": "nat",
    "ports_forwarded": "nat",
}

CONNECTION_MODES = (
    (
        "ResponderOnly",
        "ResponderOnly (recommended behind NAT): Azure only answers, pfSense starts the tunnel "
        "outbound through the NAT router, so no port forward is needed.",
    ),
    (
        "Default",
        "Default: either end may start the tunnel; Azure's attempts only reach pfSense if UDP 500 "
        "and 4500 are forwarded to it.",
    ),
    (
        "InitiatorOnly",
        "InitiatorOnly: only Azure starts the tunnel, so pfSense must be reachable from the "
        "internet on UDP 500 and 4500 (port forward or no NAT).",
    ),
)

TEXT_TRIGGER = "input changed delay:600ms, change"


# --------------------------------------------------------------------------- helpers


def wizard_data(site: Site) -> dict[str, Any]:
    """What the wizard learnt from the outside world (VNets, preflight, DNS), kept with the draft."""
    return dict((site.intent or {}).get("_wizard") or {})


def set_wizard_data(site: Site, **values: Any) -> None:
    intent = dict(site.intent or {})
    intent["_wizard"] = {**(intent.get("_wizard") or {}), **values}
    site.intent = intent


def answer(site: Site, key: str) -> Any:
    """A stored answer, or the canonical default of SiteIntent."""
    return getattr(site.get_intent(), key)


def store(site: Site, **values: Any) -> None:
    intent = dict(site.intent or {})
    for key, value in values.items():
        intent[key] = list(value) if isinstance(value, tuple) else value
    site.intent = intent


def split_prefixes(text: str) -> list[str]:
    return [p for p in re.split(r"[\s,;]+", text or "") if p]


def _domain_message(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc)


def normalise_fingerprint(text: str) -> str:
    """``AB:CD:…`` or ``abcd…`` (64 hex digits) -> lower-case hex without separators."""
    return re.sub(r"[\s:]", "", text or "").lower()


def pretty_fingerprint(fp: str) -> str:
    fp = normalise_fingerprint(fp)
    return ":".join(fp[i : i + 2] for i in range(0, len(fp), 2)).upper()


class StepForm(forms.Form):
    """Base of the step forms: knows its site, wires htmx live validation, writes its answers."""

    step = ""

    def __init__(self, *args: Any, site: Site, validate_url: str = "", **kwargs: Any) -> None:
        self.site = site
        self.notes: dict[str, str] = {}
        if "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(site)
        super().__init__(*args, **kwargs)
        wire_live_validation(self, validate_url)

    def initial_for(self, site: Site) -> dict[str, Any]:
        return {}

    def apply(self, site: Site) -> None:
        """Write the cleaned answers into the (unsaved) site."""

    def err(self, field: str, message: str) -> None:
        if field not in self.fields:
            field = None  # type: ignore[assignment]
        self.add_error(field, message)


def wire_live_validation(form: forms.BaseForm, validate_url: str) -> None:
    """Each input posts the form to the validate endpoint, which answers the field's message."""
    for name, field in form.fields.items():
        attrs = field.widget.attrs
        attrs["aria-describedby"] = f"help-{name} fb-{name}"
        label = str(field.label or name).rstrip(".")
        if isinstance(field, forms.ChoiceField):
            field.error_messages["required"] = f"Nothing is chosen for {label}; pick one option."
            field.error_messages["invalid_choice"] = (
                f"%(value)s is not one of the offered choices for {label}; pick one of the list."
            )
        else:
            field.error_messages["required"] = f"{label} is empty; fill it in to continue."
        if isinstance(field, forms.IntegerField):
            field.error_messages["invalid"] = f"{label} must be a whole number; type digits only."
        if not validate_url or getattr(field, "no_live", False):
            continue
        text_like = isinstance(
            field.widget, forms.TextInput | forms.Textarea | forms.NumberInput | forms.PasswordInput
        )
        attrs.update(
            {
                "hx-post": validate_url,
                "hx-trigger": TEXT_TRIGGER if text_like else "change",
                "hx-target": f"#fb-{name}",
                "hx-swap": "outerHTML",
                "hx-include": "closest form",
            }
        )


def mark_invalid(form: forms.BaseForm) -> None:
    """Flag the fields with errors for assistive technology; the first one gets the focus."""
    if not form.is_bound:
        return
    first = True
    for name in form.fields:
        if name in form.errors:
            form.fields[name].widget.attrs["aria-invalid"] = "true"
            if first:
                form.fields[name].widget.attrs["autofocus"] = True
                first = False


# --------------------------------------------------------------------------- step 0: site


GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}$")
REGION = re.compile(r"^[a-z][a-z0-9]{2,39}$")


class SiteForm(KeepSecretsMixin, forms.ModelForm):
    """Step 0: the site's name and how to reach both ends (secrets write-only)."""

    step = "site"

    client_secret = SecretFormField(label="Client secret")
    pfsense_api_key = SecretFormField(label="pfSense API key")
    pfsense_tls = forms.ChoiceField(
        label="How to trust the firewall's certificate",
        choices=(
            ("ca", "A CA certificate I paste (PEM)"),
            ("fingerprint", "Pin the certificate's SHA-256 fingerprint"),
        ),
        widget=forms.RadioSelect,
        initial="fingerprint",
        help_text="TLS verification is never turned off; pick how pfSense's certificate is checked.",
    )

    class Meta:
        model = Site
        fields = (
            "name",
            "slug",
            "azure_auth",
            "tenant_id",
            "client_id",
            "client_secret",
            "subscription_id",
            "resource_group",
            "location",
            "arm_base_url",
            "arm_ca_bundle",
            "pfsense_url",
            "pfsense_api_key",
            "pfsense_tls",
            "pfsense_ca_bundle",
            "pfsense_fingerprint",
        )
        widgets = {
            "azure_auth": forms.RadioSelect,
            "arm_ca_bundle": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
            "pfsense_ca_bundle": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        }
        labels = {
            "azure_auth": "How s2svpn signs in to Azure",
            "tenant_id": "Tenant ID",
            "client_id": "Client ID",
            "subscription_id": "Subscription ID",
            "location": "Region",
            "arm_base_url": "ARM endpoint",
            "arm_ca_bundle": "ARM CA bundle (PEM)",
            "pfsense_url": "pfSense URL",
            "pfsense_ca_bundle": "pfSense CA certificate (PEM)",
            "pfsense_fingerprint": "pfSense certificate SHA-256 fingerprint",
        }
        help_texts = {
            "name": "Shown in the site list, e.g. Home lab.",
            "slug": "Lower-case letters, digits and hyphens; part of every Azure resource name "
            "(s2svpn-<slug>-vpngw).",
            "tenant_id": "Directory (tenant) ID of the app registration, a GUID.",
            "client_id": "Application (client) ID of the service principal, a GUID.",
            "subscription_id": "The subscription that holds the virtual network, a GUID.",
            "resource_group": "Where the VPN gateway, public IP, local network gateway and "
            "connection are created (usually the VNet's group).",
            "location": "Azure region of the VNet, written like westeurope.",
            "pfsense_url": "Base URL of the pfSense web GUI with the REST API v2 package, "
            "e.g. https://192.168.1.1.",
            "pfsense_fingerprint": "64 hexadecimal digits (colons optional). Use Fetch "
            "fingerprint and compare it with System › Certificates on the firewall.",
            "pfsense_ca_bundle": "The CA that signed the firewall's web GUI certificate.",
        }

    def __init__(self, *args: Any, validate_url: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: dict[str, str] = {}
        for name in ("name", "slug", "subscription_id", "resource_group", "location"):
            self.fields[name].required = True
        self.fields["pfsense_url"].required = True
        self.fields["azure_auth"].choices = [
            c for c in AzureAuth.choices if c[0] != AzureAuth.SANDBOX or self.instance.sandbox
        ]
        if self.instance.pk:
            self.initial.setdefault(
                "pfsense_tls", "ca" if self.instance.pfsense_ca_bundle else "fingerprint"
            )
            if self.instance.pfsense_fingerprint:
                self.initial["pfsense_fingerprint"] = pretty_fingerprint(
                    self.instance.pfsense_fingerprint
                )
        self.fields["slug"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})
        if self.instance.pk and self.instance.status != SiteStatus.DRAFT:
            # Azure resource names derive from the slug: renaming would orphan what exists.
            self.fields["slug"].disabled = True
            self.fields[
                "slug"
            ].help_text = (
                "Fixed once the site has been provisioned: the Azure resource names derive from it."
            )
        wire_live_validation(self, validate_url)
        for name in ("pfsense_api_key", "client_secret"):
            # a secret's validity is only known by Test connection; do not post it on each key
            for attr in ("hx-post", "hx-trigger", "hx-target", "hx-swap", "hx-include"):
                self.fields[name].widget.attrs.pop(attr, None)
        for field in self.fields.values():
            if "hx-post" in field.widget.attrs:
                # live checks of other fields never send the secrets along
                field.widget.attrs["hx-params"] = "not client_secret,pfsense_api_key"

    def stored_secret(self, name: str) -> str:
        if self.cleaned_data.get(name):
            return self.cleaned_data[name]
        return str(getattr(self.instance, name, "") or "") if self.instance.pk else ""

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug != slug.lower() or "_" in slug:
            raise forms.ValidationError(
                f"{slug!r} has upper-case letters or underscores; Azure resource names here use "
                f"lower case and hyphens: write {slug.lower().replace('_', '-')!r}."
            )
        if len(f"s2svpn-{slug}-vpngw") > 80:
            raise forms.ValidationError("The slug is too long for Azure names; keep it under 60.")
        return slug

    def clean_subscription_id(self) -> str:
        value = self.cleaned_data["subscription_id"].strip()
        if not GUID.match(value) and self.cleaned_data.get("azure_auth") != AzureAuth.SANDBOX:
            raise forms.ValidationError(
                f"{value!r} is not a subscription ID; copy the GUID (like "
                "00000000-0000-0000-0000-000000000000) from Subscriptions in the Azure portal."
            )
        return value

    def clean_resource_group(self) -> str:
        value = self.cleaned_data["resource_group"].strip()
        if not RESOURCE_GROUP.match(value) or value.endswith("."):
            raise forms.ValidationError(
                f"{value!r} is not a valid resource group name: use 1-90 letters, digits, "
                "hyphens, underscores, periods or parentheses, not ending in a period."
            )
        return value

    def clean_location(self) -> str:
        value = self.cleaned_data["location"].strip()
        compact = value.lower().replace(" ", "")
        if not REGION.match(compact):
            raise forms.ValidationError(
                f"{value!r} is not an Azure region name; write it like westeurope (lower case, "
                "no spaces, as `az account list-locations` shows)."
            )
        return compact

    def clean_pfsense_url(self) -> str:
        value = self.cleaned_data["pfsense_url"].strip().rstrip("/")
        if not value.lower().startswith("https://"):
            raise forms.ValidationError(
                "The pfSense URL must start with https:// so the API key never travels in clear "
                "text; enable HTTPS for the web GUI (System › Advanced › Admin Access)."
            )
        return value

    def clean_pfsense_fingerprint(self) -> str:
        raw = self.cleaned_data.get("pfsense_fingerprint", "")
        if not raw:
            return ""
        fp = normalise_fingerprint(raw)
        if not re.fullmatch(r"[0-9a-f]{64}", fp):
            raise forms.ValidationError(
                "A SHA-256 fingerprint is 64 hexadecimal digits (32 pairs, colons optional); "
                f"this has {len(fp)} characters. Use Fetch fingerprint or copy it again."
            )
        return fp

    def clean_pfsense_ca_bundle(self) -> str:
        pem = (self.cleaned_data.get("pfsense_ca_bundle") or "").strip()
        if not pem:
            return ""
        try:
            x509.load_pem_x509_certificates(pem.encode())
        except ValueError:
            raise forms.ValidationError(
                "This is not a PEM certificate; paste the whole block from -----BEGIN "
                "CERTIFICATE----- to -----END CERTIFICATE-----."
            ) from None
        return pem + "\n"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        auth = data.get("azure_auth")
        if auth == AzureAuth.SERVICE_PRINCIPAL:
            for name, what in (("tenant_id", "tenant ID"), ("client_id", "client ID")):
                value = (data.get(name) or "").strip()
                if not value:
                    self.add_error(
                        name,
                        f"A service principal needs its {what}; copy it from the app "
                        "registration's Overview page.",
                    )
                elif not GUID.match(value):
                    self.add_error(
                        name,
                        f"{value!r} is not a {what}; it is a GUID like "
                        "00000000-0000-0000-0000-000000000000 (app registration › Overview).",
                    )
            if not self.stored_secret("client_secret"):
                self.add_error(
                    "client_secret",
                    "A service principal needs its client secret; create one under the app "
                    "registration's Certificates & secrets and paste its Value.",
                )
        if not self.stored_secret("pfsense_api_key"):
            self.add_error(
                "pfsense_api_key",
                "The REST API needs an API key; create one in System › REST API › Keys on "
                "pfSense and paste it here.",
            )
        tls = data.get("pfsense_tls")
        if (
            tls == "ca"
            and not data.get("pfsense_ca_bundle")
            and "pfsense_ca_bundle" not in self.errors
        ):
            self.add_error(
                "pfsense_ca_bundle",
                "Paste the CA certificate that signed pfSense's web GUI certificate, or choose "
                "to pin the fingerprint instead.",
            )
        if (
            tls == "fingerprint"
            and not data.get("pfsense_fingerprint")
            and "pfsense_fingerprint" not in self.errors
        ):
            self.add_error(
                "pfsense_fingerprint",
                "Enter the certificate's SHA-256 fingerprint (Fetch fingerprint shows it), or "
                "choose a CA certificate instead.",
            )
        return data

    def save(self, commit: bool = True) -> Site:
        site = super().save(commit=False)
        if self.cleaned_data.get("pfsense_tls") == "ca":
            site.pfsense_fingerprint = ""
        elif self.cleaned_data.get("pfsense_tls") == "fingerprint":
            site.pfsense_ca_bundle = ""
        if commit:
            site.save()
        return site


# --------------------------------------------------------------------------- step 1: VNet


class VnetForm(StepForm):
    """Step 1: which VNet, and its GatewaySubnet (an existing valid one is reused)."""

    step = "vnet"

    vnet_name = forms.ChoiceField(label="Virtual network", help_text="From your subscription.")
    gateway_subnet_prefix = forms.CharField(
        label="GatewaySubnet prefix",
        help_text="/27 or larger inside the VNet; an existing GatewaySubnet is reused as it is.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "172.16.19.224/27"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        vnets = self.vnets()
        self.fields["vnet_name"].choices = [("", "— choose —")] + [
            (v["name"], f"{v['name']} ({', '.join(v.get('address_prefixes') or [])})")
            for v in vnets
        ]

    def vnets(self) -> list[dict[str, Any]]:
        return list(wizard_data(self.site).get("vnets") or [])

    def vnet(self, name: str | None) -> dict[str, Any] | None:
        return next((v for v in self.vnets() if v["name"] == name), None)

    def initial_for(self, site: Site) -> dict[str, Any]:
        initial: dict[str, Any] = {"vnet_name": site.vnet_name}
        vnet = next(
            (v for v in (wizard_data(site).get("vnets") or []) if v["name"] == site.vnet_name),
            None,
        )
        stored = (site.intent or {}).get("gateway_subnet_prefix")
        if stored:
            initial["gateway_subnet_prefix"] = stored
        elif vnet:
            initial["gateway_subnet_prefix"] = propose(vnet) or ""
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        vnet = self.vnet(data.get("vnet_name"))
        prefix = (data.get("gateway_subnet_prefix") or "").strip()
        if vnet is None or not prefix:
            return data
        subnets = [tuple(s) for s in vnet.get("subnets") or []]
        try:
            data["gateway_subnet_prefix"] = netplan.validate_gateway_subnet(
                prefix, vnet.get("address_prefixes") or [], subnets, sku=answer(self.site, "sku")
            )
        except netplan.AddressError as exc:
            self.err("gateway_subnet_prefix", exc.message)
        else:
            existing = dict((n, p) for n, p in subnets).get(netplan.GATEWAY_SUBNET_NAME)
            self.notes["gateway_subnet_prefix"] = (
                f"The existing GatewaySubnet {existing} will be reused."
                if existing
                else f"A new GatewaySubnet {data['gateway_subnet_prefix']} will be created."
            )
        return data

    def apply(self, site: Site) -> None:
        vnet = self.vnet(self.cleaned_data["vnet_name"]) or {}
        site.vnet_name = self.cleaned_data["vnet_name"]
        store(
            site,
            vnet_name=site.vnet_name,
            vnet_prefixes=list(vnet.get("address_prefixes") or []),
            gateway_subnet_prefix=self.cleaned_data["gateway_subnet_prefix"],
        )


def propose(vnet: dict[str, Any]) -> str | None:
    """The GatewaySubnet to offer for a VNet: the existing one, or a free /27."""
    try:
        return netplan.propose_gateway_subnet(
            vnet.get("address_prefixes") or [], [tuple(s) for s in vnet.get("subnets") or []]
        )
    except netplan.AddressError:
        return None


# --------------------------------------------------------------------------- step 2: gateway


def sku_rows(active_active: bool = False) -> list[dict[str, Any]]:
    """The SKUs offered for a new gateway (zone-redundant ones) with what each gives and costs."""
    rows = []
    for sku in skus.SKUS.values():
        if sku.legacy:
            continue
        try:
            price = cost.estimate(sku.name, 1, active_active=active_active)
        except ValueError:
            price = None
        rows.append(
            {
                "name": sku.name,
                "generations": sku.generations,
                "throughput": ", ".join(
                    f"{mbps:,} Mbps ({gen.replace('Generation', 'Gen')})"
                    for gen, mbps in sku.throughput_mbps
                ),
                "tunnels": sku.tunnels,
                "monthly": price.monthly_usd if price else None,
                "hourly": price.hourly_usd if price else None,
                "recommended": sku.recommended,
            }
        )
    return rows


class GatewayForm(StepForm):
    """Step 2: SKU and generation, BGP ASN, active-active."""

    step = "gateway"

    sku = forms.ChoiceField(label="SKU", widget=forms.RadioSelect)
    generation = forms.ChoiceField(
        label="Generation",
        choices=((skus.GEN1, "Generation1"), (skus.GEN2, "Generation2")),
        help_text="VpnGw1AZ exists only in Generation1; VpnGw4AZ/5AZ only in Generation2.",
    )
    azure_asn = forms.IntegerField(
        label="Azure BGP ASN",
        help_text="65515 is Azure's default; any other private ASN works too.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    active_active = forms.BooleanField(
        label="Active-active (two instances, a second public IP)",
        required=False,
        help_text="More resilient; pfSense then needs a second tunnel for full use.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        aa = (
            bool(self.data.get("active_active"))
            if self.is_bound
            else answer(self.site, "active_active")
        )
        self.rows = sku_rows(aa)
        self.fields["sku"].choices = [
            (
                r["name"],
                f"{r['name']}{' (recommended)' if r['recommended'] else ''} — {r['throughput']}, "
                f"{r['tunnels']} tunnels"
                + (f", about ${r['monthly']:,.0f}/month" if r["monthly"] is not None else ""),
            )
            for r in self.rows
        ]

    def initial_for(self, site: Site) -> dict[str, Any]:
        return {k: answer(site, k) for k in ("sku", "generation", "azure_asn", "active_active")}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        sku, gen = data.get("sku"), data.get("generation")
        if sku and gen:
            try:
                skus.validate_sku(sku, gen)
            except skus.SkuError as exc:
                self.err(exc.field, exc.message)
            else:
                try:
                    price = cost.estimate(sku, 1, active_active=bool(data.get("active_active")))
                except ValueError as exc:
                    self.err("active_active", str(exc))
                else:
                    self.notes["sku"] = (
                        f"About ${price.monthly_usd:,.2f} per month (${price.hourly_usd:g}/hour), "
                        "an estimate; building the gateway takes 20-45+ minutes."
                    )
        value = data.get("azure_asn")
        if value is not None:
            try:
                asn_rules.validate_asn(value, "azure")
            except asn_rules.AsnError as exc:
                self.err("azure_asn", exc.message)
            else:
                onprem = (self.site.intent or {}).get("onprem_asn")
                if onprem == value:
                    self.err(
                        "azure_asn",
                        f"pfSense already uses ASN {value}; the session is eBGP, so Azure needs a "
                        "different one (65515 is Azure's default).",
                    )
        return data

    def apply(self, site: Site) -> None:
        store(site, **{k: self.cleaned_data[k] for k in ("sku", "generation", "azure_asn")})
        store(site, active_active=bool(self.cleaned_data.get("active_active")))


# --------------------------------------------------------------------------- step 3: home end


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

    def initial_for(self, site: Site) -> dict[str, Any]:
        stored = site.intent or {}
        return {
            "endpoint": "ip" if stored.get("onprem_public_ip") else "fqdn",
            "onprem_fqdn": stored.get("onprem_fqdn", ""),
            "onprem_public_ip": stored.get("onprem_public_ip", ""),
            "onprem_asn": stored.get("onprem_asn", 65010),
            "bgp_mode": answer(site, "bgp_mode"),
            "onprem_bgp_ip": stored.get("onprem_bgp_ip", ""),
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
        if mode == "apipa":
            try:
                self.transit = netplan.transit_for_apipa(
                    intent.azure_apipa_ip or None, intent.onprem_apipa_ip or None
                )
            except netplan.AddressError as exc:
                self.err("bgp_mode", exc.message)
            else:
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
            self.transit = default_transit(intent.gateway_subnet_prefix)
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
                nameservers=list(settings.S2SVPN_DNS_SERVERS) or None,
                timeout=settings.S2SVPN_DNS_TIMEOUT,
            )
        except DnsError as exc:
            known = sandbox_dns(self.site).get(fqdn.lower().rstrip("."))
            if not known or exc.code not in SANDBOX_DNS_FALLBACK:
                self.err("onprem_fqdn", exc.message)
                return
            result = DnsResult(fqdn.rstrip("."), known, 60, "the sandbox")
            data["onprem_fqdn"] = result.fqdn
            self.dns_result = result
            self.notes["onprem_fqdn"] = (
                f"{result.fqdn} resolves to {known} in the sandbox's DNS, which the stand-in Azure "
                "uses (real DNS does not know this name)."
            )
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
        store(site, **values)
        dns_result = getattr(self, "dns_result", None)
        if dns_result is not None:
            set_wizard_data(site, dns={"address": dns_result.address, "ttl": dns_result.ttl})


SANDBOX_DNS_FALLBACK = {"nxdomain", "timeout", "no_answer", "no_a"}
# The sandbox World's DDNS record (s2svpn/sandbox/world.py) when connection.json has no "dns" map.
SANDBOX_DEFAULT_DNS = {"home-s2s.example.net": "203.0.113.2"}


def sandbox_dns(site: Site) -> dict[str, str]:
    """For a sandbox site: the names the sandbox's own DNS answers (real DNS does not know them)."""
    if not site.sandbox:
        return {}
    from wizard import sandbox_info

    info = sandbox_info.load() or {}
    names = info.get("dns") if isinstance(info.get("dns"), dict) else SANDBOX_DEFAULT_DNS
    return {str(k).lower().rstrip("."): str(v) for k, v in names.items()}


def default_transit(gateway_subnet: str) -> netplan.Transit | None:
    try:
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
    return default_transit(intent.gateway_subnet_prefix)


# --------------------------------------------------------------------------- step 4: connection


POLICY_FIELDS = (
    ("ike_encryption", "IKE encryption", ipsec.IKE_ENCRYPTIONS),
    ("ike_integrity", "IKE integrity (PRF)", ipsec.IKE_INTEGRITIES),
    ("dh_group", "DH group", ipsec.DH_GROUPS),
    ("ipsec_encryption", "IPsec encryption", ipsec.IPSEC_ENCRYPTIONS),
    ("ipsec_integrity", "IPsec integrity", ipsec.IPSEC_INTEGRITIES),
    ("pfs_group", "PFS group", ipsec.PFS_GROUPS),
)


def preset_for(policy: IpsecPolicy) -> str:
    return next((p.key for p in ipsec.PRESETS.values() if p.policy == policy), "custom")


class ConnectionForm(StepForm):
    """Step 4: PSK (generated and shown once, or typed), connection mode, IPsec/IKE policy."""

    step = "connection"

    psk_choice = forms.ChoiceField(label="Pre-shared key", widget=forms.RadioSelect)
    psk = SecretFormField(
        label="Your pre-shared key",
        help_text="32-128 printable ASCII characters without spaces, hyphens (-) or tildes (~).",
    )
    connection_mode = forms.ChoiceField(
        label="Connection mode", choices=CONNECTION_MODES, widget=forms.RadioSelect
    )
    preset = forms.ChoiceField(label="IPsec/IKE policy", widget=forms.RadioSelect)
    ike_encryption = forms.ChoiceField(label="IKE encryption", required=False)
    ike_integrity = forms.ChoiceField(label="IKE integrity (PRF)", required=False)
    dh_group = forms.ChoiceField(label="DH group", required=False)
    ipsec_encryption = forms.ChoiceField(label="IPsec encryption", required=False)
    ipsec_integrity = forms.ChoiceField(label="IPsec integrity", required=False)
    pfs_group = forms.ChoiceField(label="PFS group", required=False)
    sa_lifetime_seconds = forms.IntegerField(
        label="SA lifetime (seconds)",
        required=False,
        help_text="300-172,799; Azure's default 27,000.",
    )
    sa_data_size_kilobytes = forms.IntegerField(
        label="SA data size (KB)", required=False, help_text="At least 1,024; default 102,400,000."
    )
    dpd_timeout_seconds = forms.IntegerField(
        label="DPD timeout (seconds)", help_text="9-3,600; 45 is Azure's default."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        has_psk = bool(self.site.psk)
        choices = [
            ("generate", "Generate a strong random key for me (shown once, to copy)"),
            ("type", "I type my own key"),
        ]
        if has_psk:
            choices.insert(0, ("keep", "Keep the stored key (hidden)"))
        self.fields["psk_choice"].choices = choices
        self.fields["preset"].choices = [
            (p.key, f"{p.label}{' (recommended)' if p.recommended else ''}: {p.note}")
            for p in ipsec.PRESETS.values()
        ] + [("custom", "Custom: choose each algorithm below")]
        for name, _label, values in POLICY_FIELDS:
            self.fields[name].choices = [(v, v) for v in values]

    def initial_for(self, site: Site) -> dict[str, Any]:
        intent = site.get_intent()
        policy = intent.policy
        initial = {
            "psk_choice": "keep" if site.psk else "generate",
            "connection_mode": intent.connection_mode,
            "preset": preset_for(policy),
            "dpd_timeout_seconds": intent.dpd_timeout_seconds,
            "sa_lifetime_seconds": policy.sa_lifetime_seconds,
            "sa_data_size_kilobytes": policy.sa_data_size_kilobytes,
        }
        for name, _label, _values in POLICY_FIELDS:
            initial[name] = getattr(policy, name)
        return initial

    def policy(self) -> IpsecPolicy | None:
        data = self.cleaned_data
        key = data.get("preset")
        if key in ipsec.PRESETS:
            return ipsec.PRESETS[key].policy
        if key != "custom":
            return None
        defaults = IpsecPolicy()
        values: dict[str, Any] = {}
        for name, _label, _values in POLICY_FIELDS:
            values[name] = data.get(name) or getattr(defaults, name)
        values["sa_lifetime_seconds"] = data.get("sa_lifetime_seconds") or 27000
        values["sa_data_size_kilobytes"] = data.get("sa_data_size_kilobytes") or 102400000
        return IpsecPolicy(**values)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        choice = data.get("psk_choice")
        if choice == "type":
            typed = data.get("psk") or ""
            try:
                validate_psk(typed)
            except PskError as exc:
                self.err("psk", str(exc))
        policy = self.policy()
        if policy is not None:
            problems = ipsec.validate_policy(policy)
            if problems:
                self.err(self._policy_field(problems[0]), " ".join(problems))
            else:
                result = ipsec.check_negotiation(policy, ipsec.to_pfsense(policy))
                if not result.ok:
                    self.err("preset", " ".join(result.reasons))
                else:
                    self.notes["preset"] = (
                        f"Both ends agree: IKE {result.ike}, ESP {result.rekey_esp or result.esp}."
                    )
        dpd = data.get("dpd_timeout_seconds")
        if dpd is not None:
            try:
                ipsec.validate_dpd_timeout(dpd)
            except ipsec.PolicyError as exc:
                self.err("dpd_timeout_seconds", str(exc))
        return data

    @staticmethod
    def _policy_field(message: str) -> str:
        for name, label, _values in POLICY_FIELDS:
            if (
                message.startswith(label.split(" (")[0])
                or f"{label.split(' (')[0]} " in message[:40]
            ):
                return name
        if message.startswith("SA lifetime"):
            return "sa_lifetime_seconds"
        if message.startswith("SA data size"):
            return "sa_data_size_kilobytes"
        return "preset"

    def apply(self, site: Site) -> None:
        data = self.cleaned_data
        policy = self.policy()
        store(
            site,
            connection_mode=data["connection_mode"],
            dpd_timeout_seconds=data["dpd_timeout_seconds"],
            policy=SiteIntent(policy=policy).to_dict()["policy"] if policy else {},
        )
        if data["psk_choice"] == "type":
            site.psk = data["psk"]


# --------------------------------------------------------------------------- step 5: pfSense


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        interfaces = (wizard_data(self.site).get("pfsense") or {}).get("interfaces") or []
        if interfaces:
            self.fields["wan_interface"] = forms.ChoiceField(
                label="WAN interface",
                choices=[(i, i) for i in interfaces],
                help_text=self.fields["wan_interface"].help_text,
            )
            wire_live_validation_one(self, "wan_interface")

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


def wire_live_validation_one(form: StepForm, name: str) -> None:
    """Re-wire one field replaced after __init__ (same attributes as its siblings)."""
    sibling = next((f for n, f in form.fields.items() if n != name), None)
    attrs = dict(sibling.widget.attrs) if sibling else {}
    url = attrs.get("hx-post")
    field = form.fields[name]
    field.widget.attrs["aria-describedby"] = f"help-{name} fb-{name}"
    if url:
        field.widget.attrs.update(
            {
                "hx-post": url,
                "hx-trigger": "change",
                "hx-target": f"#fb-{name}",
                "hx-swap": "outerHTML",
                "hx-include": "closest form",
            }
        )


# --------------------------------------------------------------------------- step 6: NAT router


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


# --------------------------------------------------------------------------- registry


STEP_FORMS: dict[str, type[forms.BaseForm]] = {
    "site": SiteForm,
    "vnet": VnetForm,
    "gateway": GatewayForm,
    "lng": LngForm,
    "connection": ConnectionForm,
    "pfsense": PfSenseForm,
    "nat": NatForm,
}


def new_slug(base: str = "home") -> str:
    slug, n = base, 2
    while Site.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def sandbox_subscription(info: dict[str, Any]) -> str:
    return str(info.get("subscription_id") or uuid.UUID(int=0))
