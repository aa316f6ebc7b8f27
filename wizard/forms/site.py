"""Step 0: the site's name and how to reach both ends. Secrets are write-only
(:mod:`wizard.forms.secrets`): an empty field keeps the stored value.

References: service principals https://learn.microsoft.com/entra/identity-platform/howto-create-service-principal-portal,
pfSense REST API v2 https://pfrest.org/api-docs/.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from cryptography import x509
from django import forms

from wizard import binding
from wizard.forms.base import normalise_fingerprint, pretty_fingerprint, wire_live_validation
from wizard.forms.secrets import BoundSecretsMixin, KeepSecretsMixin, SecretFormField
from wizard.models import AzureAuth, Site, SiteStatus
from wizard.validators import GUID_PATTERN

GUID = re.compile(GUID_PATTERN)


class SiteForm(BoundSecretsMixin, KeepSecretsMixin, forms.ModelForm):
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
            "dns_servers",
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
            "dns_servers": "DNS servers for the home end's name",
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

    def __init__(
        self, *args: Any, site: Site | None = None, validate_url: str = "", **kwargs: Any
    ) -> None:
        kwargs.setdefault("instance", site or Site())
        super().__init__(*args, **kwargs)
        self.shown_once: str | None = None
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
        return str(getattr(self.instance, name) or "") if self.instance.pk else ""

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug != slug.lower() or "_" in slug:
            raise forms.ValidationError(
                f"{slug!r} has upper-case letters or underscores; Azure resource names here use "
                f"lower case and hyphens: write {slug.lower().replace('_', '-')!r}."
            )
        return slug

    def clean_subscription_id(self) -> str:
        value = self.cleaned_data["subscription_id"].strip()
        if not GUID.match(value):
            raise forms.ValidationError(
                f"{value!r} is not a subscription ID; copy the GUID (like "
                "00000000-0000-0000-0000-000000000000) from Subscriptions in the Azure portal."
            )
        return value

    def clean_resource_group(self) -> str:
        return self.cleaned_data["resource_group"].strip()  # the model's validator checks it

    def clean_location(self) -> str:
        # `West Europe` -> westeurope; the model's validator checks the result
        return self.cleaned_data["location"].strip().lower().replace(" ", "")

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

    def endpoint_values(self, data: dict) -> dict:
        if data.get("pfsense_tls") == "ca":
            data["pfsense_fingerprint"] = ""
        elif data.get("pfsense_tls") == "fingerprint":
            data["pfsense_ca_bundle"] = ""
        return data

    def save(self, commit: bool = True) -> Site:
        site = super().save(commit=False)
        if self.cleaned_data.get("pfsense_tls") == "ca":
            site.pfsense_fingerprint = ""
        elif self.cleaned_data.get("pfsense_tls") == "fingerprint":
            site.pfsense_ca_bundle = ""
        # the PSK is not asked here: when an end moves it is dropped (wizard.binding)
        entered = {n for n in ("client_secret", "pfsense_api_key") if self.cleaned_data.get(n)}
        self.dropped = binding.drop_moved_secrets(site, entered)
        if commit:
            site.save()
        return site


def new_slug(base: str = "home") -> str:
    slug, n = base, 2
    while Site.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def sandbox_subscription(info: dict[str, Any]) -> str:
    return str(info.get("subscription_id") or uuid.UUID(int=0))
