"""Step 1: which VNet, and its GatewaySubnet (an existing valid one is reused).

Reference: https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings#gwsub
"""

from __future__ import annotations

from contextlib import closing
from typing import TYPE_CHECKING, Any

from django import forms
from netaddr import AddrFormatError, IPNetwork

from s2svpn import netplan
from wizard.forms.base import StepForm, answer, set_wizard_data, store, wizard_data
from wizard.models import Site

if TYPE_CHECKING:
    from s2svpn.clients.azure import VNet


class VnetForm(StepForm):
    """Step 1: which VNet, and its GatewaySubnet (an existing valid one is reused)."""

    step = "vnet"

    vnet_name = forms.ChoiceField(label="Virtual network", help_text="From your subscription.")
    gateway_subnet_prefix = forms.CharField(
        label="GatewaySubnet prefix",
        help_text="/27 or larger inside the VNet; an existing GatewaySubnet is reused as it is.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "172.16.19.224/27"}),
    )

    def build_fields(self) -> None:
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
        leftover = prefix == (self.site.intent or {}).get("gateway_subnet_prefix") or any(
            _inside(prefix, v.get("address_prefixes") or []) for v in self.vnets() if v is not vnet
        )
        if leftover and not _inside(prefix, vnet.get("address_prefixes") or []):
            self._follow_the_vnet(vnet, prefix)
            return data
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

    def _follow_the_vnet(self, vnet: dict[str, Any], prefix: str) -> None:
        """The prefix is left from another VNet (the one chosen before): offer this VNet's own."""
        name, space = vnet["name"], ", ".join(vnet.get("address_prefixes") or []) or "nothing"
        proposal = propose(vnet)
        if proposal is None:
            self.err(
                "gateway_subnet_prefix",
                f"{prefix} is not inside {name} ({space}), and {name} has no free /27 for a "
                "GatewaySubnet. Add an address space to the VNet in Azure (a /27 or larger that "
                "overlaps neither the home LANs nor other VNets), then Refresh and choose it again.",
            )
            return
        self.data = self.data.copy()
        self.data[self.add_prefix("gateway_subnet_prefix")] = proposal
        self.err(
            "gateway_subnet_prefix",
            f"{prefix} is not inside {name} ({space}); {proposal} is a free /27 of {name} and is "
            "filled in now: check it and continue.",
        )

    def apply(self, site: Site) -> None:
        vnet = self.vnet(self.cleaned_data["vnet_name"]) or {}
        site.vnet_name = self.cleaned_data["vnet_name"]
        store(
            site,
            vnet_name=site.vnet_name,
            vnet_prefixes=list(vnet.get("address_prefixes") or []),
            gateway_subnet_prefix=self.cleaned_data["gateway_subnet_prefix"],
        )


def _inside(prefix: str, space: list[str]) -> bool:
    try:
        net = IPNetwork(prefix)
        return any(net in IPNetwork(p) for p in space)
    except (AddrFormatError, ValueError, TypeError):
        return True  # not a prefix at all: validate_gateway_subnet says why


def propose(vnet: dict[str, Any]) -> str | None:
    """The GatewaySubnet to offer for a VNet: the existing one, or a free /27."""
    try:
        return netplan.propose_gateway_subnet(
            vnet.get("address_prefixes") or [], [tuple(s) for s in vnet.get("subnets") or []]
        )
    except netplan.AddressError:
        return None


def vnet_snapshot(vnets: list[VNet]) -> list[dict[str, Any]]:
    """The subscription's VNets with address space and subnets, as JSON for the draft."""
    return [
        {
            "name": vnet.name,
            "location": vnet.location,
            "resource_group": vnet.resource_group,
            "address_prefixes": list(vnet.address_prefixes),
            "subnets": [[subnet.name, subnet.address_prefix] for subnet in vnet.subnets],
        }
        for vnet in vnets
    ]


def read_vnets(site: Site) -> None:
    """Ask Azure for the subscription's VNets and keep them with the draft."""
    from wizard import services

    with closing(services.azure_client(site)) as client:
        set_wizard_data(site, vnets=vnet_snapshot(client.list_vnets()))


def extras(site: Site, form: VnetForm) -> dict[str, Any]:
    chosen = form["vnet_name"].value() or site.vnet_name
    return {"vnet": form.vnet(chosen), "vnets": form.vnets()}
