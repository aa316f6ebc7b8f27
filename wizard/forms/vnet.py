"""Step 1: which VNet (an existing one, or a new one s2svpn creates with its resource group), and
its GatewaySubnet (an existing valid one is reused). A VNet without a free /27 can get an address
space added for the GatewaySubnet.

References: GatewaySubnet https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings#gwsub,
VNet names https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftnetwork,
address ranges https://learn.microsoft.com/azure/virtual-network/manage-virtual-network#add-or-remove-an-address-range.
"""

from __future__ import annotations

import re
from contextlib import closing
from typing import TYPE_CHECKING, Any

from django import forms
from netaddr import AddrFormatError, IPNetwork

from s2svpn import netplan, skus
from s2svpn.clients.errors import ClientError
from wizard.forms.base import (
    StepForm,
    answer,
    set_wizard_data,
    split_prefixes,
    store,
    wizard_data,
)
from wizard.models import Site
from wizard.validators import REGION_PATTERN, RESOURCE_GROUP_PATTERN

if TYPE_CHECKING:
    from s2svpn.clients.azure import VNet

# Microsoft.Network/virtualNetworks: 2-64 characters, letters, digits, underscores, periods and
# hyphens; starts with a letter or digit, ends with a letter, digit or underscore.
VNET_NAME = re.compile(r"^[A-Za-z0-9][-\w.]{0,62}\w$")
NEW_VNET_DEFAULT = "vnet-s2svpn"


class VnetForm(StepForm):
    """Step 1: an existing VNet or a new one, and its GatewaySubnet."""

    step = "vnet"

    vnet_choice = forms.ChoiceField(
        label="Virtual network",
        choices=(
            ("existing", "Use an existing VNet of the subscription"),
            ("new", "Create a new VNet (s2svpn also creates its resource group if missing)"),
        ),
        widget=forms.RadioSelect,
        initial="existing",
        required=False,  # a form that does not ask (an old page) means an existing VNet
    )
    vnet_name = forms.ChoiceField(
        label="Existing virtual network", required=False, help_text="From your subscription."
    )
    new_vnet_name = forms.CharField(
        label="New VNet name",
        required=False,
        help_text="2-64 letters, digits, hyphens, underscores or periods.",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    new_resource_group = forms.CharField(
        label="Resource group",
        required=False,
        help_text="Holds the new VNet and the gateway's resources; created if it does not exist.",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    new_location = forms.CharField(
        label="Region",
        required=False,
        help_text="Azure region of the new VNet, written like westeurope.",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    new_vnet_prefixes = forms.CharField(
        label="Address space",
        required=False,
        help_text="Proposed to overlap neither the home LANs nor other VNets s2svpn knows.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "10.1.0.0/16"}),
    )
    add_space = forms.BooleanField(
        label="Add an address space to this VNet for the GatewaySubnet", required=False
    )
    added_prefix = forms.CharField(
        label="Address space to add",
        required=False,
        help_text="Added by s2svpn before the GatewaySubnet and removed again at teardown.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "10.200.0.0/27"}),
    )
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
        vnets = list(wizard_data(site).get("vnets") or [])
        stored = dict(site.intent or {})
        new = bool(stored.get("create_vnet")) or not vnets
        taken = {v["name"] for v in vnets}
        new_name = site.vnet_name if site.vnet_name and site.vnet_name not in taken else ""
        space = list(stored.get("vnet_prefixes") or []) if stored.get("create_vnet") else []
        if not space:
            proposal = netplan.propose_space(avoid_for(site))
            space = [proposal] if proposal else []
        initial: dict[str, Any] = {
            "vnet_choice": "new" if new else "existing",
            "vnet_name": "" if new else site.vnet_name,
            "new_vnet_name": new_name or NEW_VNET_DEFAULT,
            "new_resource_group": site.resource_group,
            "new_location": site.location,
            "new_vnet_prefixes": ", ".join(space),
            "add_space": bool(stored.get("vnet_added_prefix")),
            "added_prefix": stored.get("vnet_added_prefix") or "",
        }
        gateway = stored.get("gateway_subnet_prefix") or ""
        vnet = next((v for v in vnets if v["name"] == site.vnet_name), None)
        if new:
            if not (gateway and _inside(gateway, space)):
                gateway = propose({"address_prefixes": space}) or ""
        elif vnet and not gateway:
            gateway = propose(vnet) or ""
        if vnet and not new and propose(vnet) is None and not initial["added_prefix"]:
            initial["added_prefix"] = _space_for(site, vnet) or ""
        initial["gateway_subnet_prefix"] = gateway
        return initial

    # ------------------------------------------------------------------ checks

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        prefix = (data.get("gateway_subnet_prefix") or "").strip()
        if data.get("vnet_choice") == "new":
            return self._clean_new(data, prefix)
        vnet = self.vnet(data.get("vnet_name"))
        if vnet is None:
            if not self.vnets():
                self.err(
                    "vnet_choice",
                    "The subscription has no virtual network to use: choose Create a new VNet "
                    "(or create one in Azure and Refresh).",
                )
            elif "vnet_name" not in self.errors:
                self.err(
                    "vnet_name",
                    "Nothing is chosen for Existing virtual network; pick one of the list, or "
                    "choose to create a new VNet.",
                )
            return data
        if not prefix:
            return data
        space = list(vnet.get("address_prefixes") or [])
        if data.get("add_space"):
            added = self._clean_added(data, vnet)
            if added is None:
                return data
            space.append(added)
        elif propose(vnet) is None:
            self._offer_space(vnet, prefix)
            return data
        subnets = [tuple(s) for s in vnet.get("subnets") or []]
        leftover = prefix == (self.site.intent or {}).get("gateway_subnet_prefix") or any(
            _inside(prefix, v.get("address_prefixes") or []) for v in self.vnets() if v is not vnet
        )
        if leftover and not _inside(prefix, space):
            self._follow(vnet["name"], space, subnets, prefix)
            return data
        self._check_gateway_subnet(data, prefix, space, subnets)
        if gateway := others_gateway(self.site, vnet.get("gateway")):
            self._adopting(vnet["name"], gateway)
        return data

    def _check_gateway_subnet(
        self, data: dict[str, Any], prefix: str, space: list[str], subnets: list
    ) -> None:
        try:
            data["gateway_subnet_prefix"] = netplan.validate_gateway_subnet(
                prefix, space, subnets, sku=answer(self.site, "sku")
            )
        except netplan.AddressError as exc:
            self.err("gateway_subnet_prefix", exc.message)
            return
        existing = dict((n, p) for n, p in subnets).get(netplan.GATEWAY_SUBNET_NAME)
        self.notes["gateway_subnet_prefix"] = (
            f"The existing GatewaySubnet {existing} will be reused."
            if existing
            else f"A new GatewaySubnet {data['gateway_subnet_prefix']} will be created."
        )

    def _adopting(self, vnet_name: str, gateway: dict[str, Any]) -> None:
        """The VNet has a VPN gateway already: say it is adopted, or why it cannot be."""
        if gateway["resource_group"].lower() != (self.site.resource_group or "").lower():
            self.err(
                "vnet_name",
                f"{vnet_name} already has VPN gateway "
                f"{gateway['name']} in resource group {gateway['resource_group']}, but this "
                f"site's resources go to {self.site.resource_group}. s2svpn adopts a gateway in "
                "the site's own resource group only: set the resource group to "
                f"{gateway['resource_group']} (Site step), or choose another VNet.",
            )
            return
        self.notes["vnet_name"] = describe_gateway(gateway)

    def _clean_added(self, data: dict[str, Any], vnet: dict[str, Any]) -> str | None:
        text = (data.get("added_prefix") or "").strip()
        if not text:
            proposal = _space_for(self.site, vnet)
            self._fill("added_prefix", proposal or "")
            self.err(
                "added_prefix",
                f"Address space to add is empty; {proposal} is free and is filled in now: check "
                "it and continue."
                if proposal
                else "Address space to add is empty; type a free private /27 or larger.",
            )
            return None
        try:
            (added,) = netplan.check_space([text], avoid_for(self.site), "vnet_added_prefix")
        except netplan.AddressError as exc:
            self.err("added_prefix", exc.message)
            return None
        except ValueError:
            self.err("added_prefix", "Give one address prefix to add, like 10.200.0.0/27.")
            return None
        if IPNetwork(added).prefixlen > 27:
            self.err(
                "added_prefix",
                f"{added} cannot hold a /27 GatewaySubnet; add a /27 or larger.",
            )
            return None
        self.notes["added_prefix"] = (
            f"s2svpn adds {added} to {vnet['name']} before the GatewaySubnet and removes it again "
            "at teardown."
        )
        return added

    def _offer_space(self, vnet: dict[str, Any], prefix: str) -> None:
        """The VNet has no free /27: say so and offer to add an address space."""
        name, space = vnet["name"], ", ".join(vnet.get("address_prefixes") or []) or "nothing"
        proposal = _space_for(self.site, vnet)
        if proposal:
            self._fill("added_prefix", proposal)
            self._fill("add_space", "on")
            self._fill("gateway_subnet_prefix", proposal)
        self.err(
            "gateway_subnet_prefix",
            f"{name} ({space}) has no free /27 for a GatewaySubnet. s2svpn can add an address "
            "space to the VNet for it"
            + (
                f": {proposal} (free, overlapping no home LAN or other VNet) is filled in with "
                "the box ticked; check it and continue."
                if proposal
                else "; tick the box and type a free private /27."
            ),
        )

    def _follow(self, name: str, space: list[str], subnets: list, prefix: str) -> None:
        """The prefix is left from another VNet (the one chosen before): offer this VNet's own."""
        proposal = propose({"address_prefixes": space, "subnets": subnets})
        where = ", ".join(space) or "nothing"
        if proposal is None:
            self.err(
                "gateway_subnet_prefix",
                f"{prefix} is not inside {name} ({where}), and {name} has no free /27 for a "
                "GatewaySubnet: tick 'Add an address space' to let s2svpn add one.",
            )
            return
        self._fill("gateway_subnet_prefix", proposal)
        self.err(
            "gateway_subnet_prefix",
            f"{prefix} is not inside {name} ({where}); {proposal} is a free /27 of {name} and is "
            "filled in now: check it and continue.",
        )

    def _clean_new(self, data: dict[str, Any], prefix: str) -> dict[str, Any]:
        name = (data.get("new_vnet_name") or "").strip()
        group = (data.get("new_resource_group") or "").strip()
        region = (data.get("new_location") or "").strip().lower().replace(" ", "")
        if not VNET_NAME.match(name):
            self.err(
                "new_vnet_name",
                f"{name!r} is not a VNet name: use 2-64 letters, digits, hyphens, underscores or "
                "periods, starting with a letter or digit (like vnet-s2svpn).",
            )
        elif any(
            v["name"].lower() == name.lower()
            and v.get("resource_group", "").lower() == group.lower()
            for v in self.vnets()
        ):
            self.err(
                "new_vnet_name",
                f"VNet {name} already exists in {group}: choose it as an existing VNet, or give "
                "the new one another name.",
            )
        if not re.match(RESOURCE_GROUP_PATTERN, group):
            self.err(
                "new_resource_group",
                "Resource group is not a valid name: use 1-90 letters, digits, hyphens, "
                "underscores, periods or parentheses, not ending in a period.",
            )
        if not re.match(REGION_PATTERN, region):
            self.err("new_location", "Write the region like westeurope (lower case, no spaces).")
        try:
            space = netplan.check_space(
                split_prefixes(data.get("new_vnet_prefixes") or ""), avoid_for(self.site)
            )
        except netplan.AddressError as exc:
            self.err("new_vnet_prefixes", exc.message)
            return data
        data.update(new_vnet_name=name, new_resource_group=group, new_location=region)
        data["space"] = space
        if not prefix or not _inside(prefix, space):
            proposal = propose({"address_prefixes": space})
            if proposal:
                self._fill("gateway_subnet_prefix", proposal)
                self.err(
                    "gateway_subnet_prefix",
                    f"{prefix or 'Nothing'} is not inside the new VNet ({', '.join(space)}); "
                    f"{proposal} is filled in now: check it and continue.",
                )
                return data
        self._check_gateway_subnet(data, prefix, space, [])
        return data

    def _fill(self, field: str, value: str) -> None:
        """Put a proposal into the field the page shows again."""
        self.data = self.data.copy()
        self.data[self.add_prefix(field)] = value

    # ------------------------------------------------------------------ answers

    def apply(self, site: Site) -> None:
        data = self.cleaned_data
        if data["vnet_choice"] == "new":
            site.vnet_name = data["new_vnet_name"]
            site.resource_group = data["new_resource_group"]
            site.location = data["new_location"]
            store(
                site,
                vnet_name=site.vnet_name,
                create_vnet=True,
                vnet_prefixes=list(data["space"]),
                vnet_added_prefix="",
                gateway_subnet_prefix=data["gateway_subnet_prefix"],
            )
            follow_gateway(site, None)  # a new VNet has no gateway: s2svpn builds one
            return
        vnet = self.vnet(data["vnet_name"]) or {}
        site.vnet_name = data["vnet_name"]
        space = list(vnet.get("address_prefixes") or [])
        added = (data.get("added_prefix") or "").strip() if data.get("add_space") else ""
        if added:
            added = str(IPNetwork(added).cidr)
            if added not in space:
                space.append(added)
        store(
            site,
            vnet_name=site.vnet_name,
            create_vnet=False,
            vnet_prefixes=space,
            vnet_added_prefix=added,
            gateway_subnet_prefix=data["gateway_subnet_prefix"],
        )
        follow_gateway(site, vnet.get("gateway"))


def others_gateway(site: Site, gateway: dict[str, Any] | None) -> dict[str, Any] | None:
    """The VNet's gateway when it is not the one s2svpn built for this very site (a provisioned
    site that comes back to the wizard keeps owning its own)."""
    own = f"s2svpn-{site.slug}-vpngw"
    return gateway if gateway and gateway.get("name") != own else None


def follow_gateway(site: Site, gateway: dict[str, Any] | None) -> None:
    """Adopt the VNet's existing VPN gateway (or build one when it has none): the site's
    gateway settings follow the gateway's, which belong to it and to its other connections."""
    gateway = others_gateway(site, gateway)
    if not gateway:
        store(site, existing_gateway="")
        return
    store(site, existing_gateway=gateway["name"])
    if gateway.get("sku") in skus.SKUS:
        store(site, sku=gateway["sku"])
    if gateway.get("generation") in (skus.GEN1, skus.GEN2):
        store(site, generation=gateway["generation"])
    if gateway.get("asn"):
        store(site, azure_asn=int(gateway["asn"]))
    if "active_active" in gateway:
        store(site, active_active=bool(gateway["active_active"]))


def avoid_for(site: Site) -> list[str]:
    """What a new address space must not overlap: the home LANs, every VNet of the subscription,
    and every other site's VNet and LANs."""
    avoid = list(answer(site, "lan_prefixes"))
    for vnet in wizard_data(site).get("vnets") or []:
        avoid += list(vnet.get("address_prefixes") or [])
    others = Site.objects.exclude(pk=site.pk) if site.pk else Site.objects.all()
    for other in others.only("intent"):
        intent = other.intent or {}
        avoid += list(intent.get("vnet_prefixes") or []) + list(intent.get("lan_prefixes") or [])
    return avoid


def _space_for(site: Site, vnet: dict[str, Any]) -> str | None:
    """A free /27 to add to a full VNet, right after its own space when that is free."""
    return netplan.propose_space(avoid_for(site), 27, near=vnet.get("address_prefixes") or [])


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


def vnet_snapshot(vnets: list[VNet], client: Any = None) -> list[dict[str, Any]]:
    """The subscription's VNets with address space and subnets, as JSON for the draft; with a
    client, also the VPN gateway already in each VNet's GatewaySubnet (:func:`gateway_facts`)."""
    out = []
    for vnet in vnets:
        row: dict[str, Any] = {
            "name": vnet.name,
            "location": vnet.location,
            "resource_group": vnet.resource_group,
            "address_prefixes": list(vnet.address_prefixes),
            "subnets": [[subnet.name, subnet.address_prefix] for subnet in vnet.subnets],
        }
        gateway_subnet = vnet.subnet(netplan.GATEWAY_SUBNET_NAME)
        if client is not None and gateway_subnet is not None:
            row["gateway"] = gateway_facts(client, gateway_subnet.ip_configuration_ids)
        if not row.get("gateway"):
            row.pop("gateway", None)
        out.append(row)
    return out


def gateway_facts(client: Any, ip_configuration_ids: tuple[str, ...]) -> dict[str, Any]:
    """The VPN gateway whose ipConfiguration sits in a GatewaySubnet (ids
    ``.../virtualNetworkGateways/<name>/ipConfigurations/<ipc>``): what a site adopting it must
    follow, and how many connections it carries (for the cost of one more). ``{}`` if none."""
    from s2svpn.clients.errors import ClientError
    from s2svpn.intent import SiteIntent

    found = next((m for i in ip_configuration_ids if (m := GATEWAY_IPC.search(i or ""))), None)
    if found is None:
        return {}
    group, name = found.group(1), found.group(2)
    facts: dict[str, Any] = {"name": name, "resource_group": group}
    where = SiteIntent(resource_group=group, existing_gateway=name)
    try:
        gateway = client.get_gateway(where)
        connections = client.gateway_connections(where) if gateway is not None else []
    except ClientError as exc:
        return {**facts, "error": exc.message}
    if gateway is None:
        return {}
    return {
        **facts,
        "sku": gateway.sku,
        "generation": gateway.generation,
        "asn": gateway.asn,
        "enable_bgp": gateway.enable_bgp,
        "active_active": gateway.active_active,
        "vpn_type": gateway.vpn_type,
        "provisioning_state": gateway.provisioning_state,
        "custom_bgp_ips": list(gateway.custom_bgp_ips),
        "default_bgp_ips": list(gateway.default_bgp_ips),
        "connections": sorted(c.name for c in connections),
    }


GATEWAY_IPC = re.compile(
    r"/resourceGroups/([^/]+)/providers/Microsoft\.Network/virtualNetworkGateways/([^/]+)/",
    re.IGNORECASE,
)


def adopted_gateway(site: Site) -> dict[str, Any] | None:
    """The gateway already in the site's chosen VNet (read with the VNets), which it adopts."""
    name = (site.intent or {}).get("existing_gateway")
    for vnet in wizard_data(site).get("vnets") or []:
        gateway = vnet.get("gateway")
        if vnet.get("name") == site.vnet_name and gateway and gateway.get("name") == name:
            return gateway
    return None


def describe_gateway(gateway: dict[str, Any]) -> str:
    """One sentence for the wizard: which gateway is adopted and what the site follows."""
    users = gateway.get("connections") or []
    if gateway.get("error"):
        return (
            f"The VNet already has VPN gateway {gateway['name']}; this site will adopt it (adds "
            f"only its local network gateway and connection). Its settings could not be read: "
            f"{gateway['error']}"
        )
    mode = "active-active" if gateway.get("active_active") else "active-standby"
    bgp = f"BGP on, AS {gateway.get('asn')}" if gateway.get("enable_bgp") else "BGP off"
    return (
        f"The VNet already has VPN gateway {gateway['name']} ({gateway.get('sku')}, {bgp}, "
        f"{mode}, {len(users)} connection(s)). This site will adopt it: s2svpn adds only the "
        "site's local network gateway and connection, never changes the gateway, and keeps it "
        "at teardown while other connections use it. The gateway settings follow it."
    )


def read_vnets(site: Site) -> None:
    """Ask Azure for the subscription's VNets (with the VPN gateway in each, and whether the
    site's resource group exists) and keep them with the draft."""
    from wizard import services

    with closing(services.azure_client(site)) as client:
        vnets = vnet_snapshot(client.list_vnets(), client)
        try:
            group = client.get_resource_group(site.resource_group) if site.resource_group else None
        except ClientError:
            # the least-privilege role may not read resource groups (only a new VNet needs to)
            known: dict[str, Any] = {"name": site.resource_group, "exists": None}
        else:
            known = {
                "name": site.resource_group,
                "exists": group is not None,
                "location": group.location if group else "",
            }
        set_wizard_data(site, vnets=vnets, resource_group=known)


def extras(site: Site, form: VnetForm) -> dict[str, Any]:
    chosen = form["vnet_name"].value() or site.vnet_name
    from s2svpn.azure_role import NEW_VNET_ACTIONS

    vnet = form.vnet(chosen)
    gateway = others_gateway(site, (vnet or {}).get("gateway"))
    return {
        "vnet": vnet,
        "vnets": form.vnets(),
        "resource_group": wizard_data(site).get("resource_group") or {},
        "new_vnet_actions": NEW_VNET_ACTIONS,
        "adopting": describe_gateway(gateway) if gateway else "",
    }
