"""Step 2: the VPN gateway's SKU and generation, Azure's BGP ASN, active-active.

Reference: https://learn.microsoft.com/azure/vpn-gateway/about-gateway-skus
"""

from __future__ import annotations

from typing import Any

from django import forms

from s2svpn import asn as asn_rules
from s2svpn import cost, skus
from wizard.forms.base import StepForm, answer, store
from wizard.forms.vnet import adopted_gateway, describe_gateway
from wizard.models import Site


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

    def build_fields(self) -> None:
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
        gateway = adopted_gateway(self.site)
        if (
            gateway
            and gateway.get("sku")
            and gateway["sku"] not in dict(self.fields["sku"].choices)
        ):
            # an older SKU is not offered for new gateways, but an adopted one may have it
            self.fields["sku"].choices.append(
                (gateway["sku"], f"{gateway['sku']} (the adopted gateway's SKU)")
            )

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
        if gateway := adopted_gateway(self.site):
            self._follow(gateway, data)
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

    def _follow(self, gateway: dict[str, Any], data: dict[str, Any]) -> None:
        """A site that adopts a gateway keeps the gateway's settings (they are the gateway's, and
        its other connections depend on them); the cost is one more tunnel on it."""
        wanted = {
            "sku": gateway.get("sku"),
            "generation": gateway.get("generation"),
            "azure_asn": gateway.get("asn"),
            "active_active": gateway.get("active_active"),
        }
        for key, value in wanted.items():
            if value is None or value == "" or key not in data:
                continue
            if (bool(data[key]) if key == "active_active" else data[key]) != value:
                self.err(
                    key,
                    f"VPN gateway {gateway['name']}, which this site adopts, has {value} here; a "
                    "site that adopts a gateway follows it (changing it would change it for its "
                    f"other connections too). Set {value}, or choose another VNet.",
                )
        try:
            price = cost.added_tunnel(
                gateway.get("sku") or "", len(gateway.get("connections") or [])
            )
        except ValueError as exc:
            self.err("sku", str(exc))
        else:
            self.notes["sku"] = (
                f"The gateway exists already: this site adds one tunnel, about "
                f"${price.monthly_usd:,.2f} per month (an estimate)."
            )

    def apply(self, site: Site) -> None:
        store(site, **{k: self.cleaned_data[k] for k in ("sku", "generation", "azure_asn")})
        store(site, active_active=bool(self.cleaned_data.get("active_active")))


def extras(site: Site, form: GatewayForm) -> dict[str, Any]:
    gateway = adopted_gateway(site)
    return {"sku_rows": form.rows, "adopting": describe_gateway(gateway) if gateway else ""}
