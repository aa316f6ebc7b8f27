"""What s2svpn creates when the subscription has nothing yet: the resource group and the VNet, and
an address space added to an existing VNet that has no room for a GatewaySubnet.

* Resource groups go through the generic ARM call of ``azure-mgmt-network``'s own pipeline
  (credential, retries, logging: :meth:`ArmSession._send`) rather than ``azure-mgmt-resource``:
  three small calls (``ResourceGroups_CreateOrUpdate``, ``_Get``, ``_Delete`` and
  ``Resources_ListByResourceGroup`` of Azure/azure-rest-api-specs
  ``specification/resources/resource-manager/Microsoft.Resources/stable/2021-04-01/resources.json``)
  do not justify a second SDK in the image; creating a group is synchronous (200/201) and its
  delete is followed by our own re-check (202 + ``Location``), as every other delete here.
* VNets through the SDK: ``virtual_networks.begin_create_or_update`` (``VirtualNetworks_CreateOrUpdate``
  in ``.../Microsoft.Network/stable/2024-05-01/virtualNetwork.json``), started with
  ``polling=False`` and re-checked by the step, and ``begin_delete``. A VNet PUT replaces the whole
  VNet, subnets included: an address space is added or removed by sending the VNet as read with
  its subnets (https://learn.microsoft.com/azure/virtual-network/manage-virtual-network#add-or-remove-an-address-range).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from s2svpn.clients.azure.models import VNet, with_action
from s2svpn.clients.azure.parse import VNETS
from s2svpn.clients.azure.session import ArmSession, adopted
from s2svpn.clients.errors import ClientError
from s2svpn.intent import SiteIntent

RESOURCES_API_VERSION = "2021-04-01"


@dataclass(frozen=True)
class ResourceGroup:
    id: str
    name: str
    location: str
    provisioning_state: str = ""
    action: str = ""


def _parse_group(body: dict[str, Any]) -> ResourceGroup:
    return ResourceGroup(
        id=body.get("id", ""),
        name=body.get("name", ""),
        location=body.get("location", ""),
        provisioning_state=(body.get("properties") or {}).get("provisioningState", ""),
    )


def _same_region(a: str, b: str) -> bool:
    return a.replace(" ", "").lower() == b.replace(" ", "").lower()


class GroupsAndVnets(ArmSession):
    """Resource group and VNet: create, adopt, grow, shrink, delete."""

    # ---- resource groups

    def _group_url(self, name: str, tail: str = "") -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourcegroups/{quote(name, safe='')}"
            f"{tail}?api-version={RESOURCES_API_VERSION}"
        )

    def get_resource_group(self, name: str) -> ResourceGroup | None:
        """ResourceGroups_Get; ``None`` when it does not exist."""
        response = self._send(
            f"reading resource group {name}", "GET", self._group_url(name), missing_ok=True
        )
        return None if response.status_code == 404 else _parse_group(response.json())

    def ensure_resource_group(self, intent: SiteIntent) -> ResourceGroup:
        """ResourceGroups_CreateOrUpdate when the group is missing; an existing group in another
        region is used as it is (a group's region only holds its metadata)."""
        existing = self.get_resource_group(intent.resource_group)
        if existing is not None:
            if existing.provisioning_state == "Deleting":
                raise ClientError(
                    f"Resource group {intent.resource_group} is being deleted in Azure; wait until "
                    "it is gone, then Retry (s2svpn creates it again).",
                    permanent=False,
                    code="ResourceGroupBeingDeleted",
                )
            return with_action(existing, "unchanged")
        response = self._send(
            f"creating resource group {intent.resource_group}",
            "PUT",
            self._group_url(intent.resource_group),
            body={"location": intent.location, "tags": {"s2svpn": intent.slug}},
        )
        return with_action(_parse_group(response.json()), "created")

    def resource_group_contents(self, name: str) -> list[str]:
        """Resources_ListByResourceGroup: the ids of the group's resources (``[]`` when gone)."""
        url = self._group_url(name, "/resources")
        response = self._send(f"listing resource group {name}", "GET", url, missing_ok=True)
        if response.status_code == 404:
            return []
        return [item.get("id", "") for item in response.json().get("value") or []]

    def delete_resource_group(self, name: str) -> str:
        """ResourceGroups_Delete: ``"deleted" | "gone" | "deleting"``. Deletes everything in the
        group, so callers check :meth:`resource_group_contents` first."""
        found = self.get_resource_group(name)
        if found is None:
            return "gone"
        if found.provisioning_state != "Deleting":
            self._send(f"deleting resource group {name}", "DELETE", self._group_url(name))
        return "deleted" if self.get_resource_group(name) is None else "deleting"

    # ---- virtual networks

    def find_vnet(self, intent: SiteIntent) -> VNet | None:
        return self._get(
            VNETS, f"virtual network {intent.vnet_name}", (intent.resource_group, intent.vnet_name)
        )

    def ensure_vnet(self, intent: SiteIntent) -> VNet:
        """Create the site's VNet with ``intent.vnet_prefixes`` (no subnets yet), or adopt an
        existing one that already holds them. Never waits: ``provisioning_state`` says when done."""
        existing = self.find_vnet(intent)
        if existing is not None:
            if existing.location and not _same_region(existing.location, intent.location):
                raise ClientError(
                    f"Virtual network {intent.vnet_name} already exists in {existing.location}, "
                    f"not {intent.location}. Choose it as an existing VNet, or another name.",
                    permanent=True,
                    code="VnetConflict",
                )
            missing = [p for p in intent.vnet_prefixes if p not in existing.address_prefixes]
            if missing:
                raise ClientError(
                    f"Virtual network {intent.vnet_name} already exists with address space "
                    f"{', '.join(existing.address_prefixes)}, without {', '.join(missing)}. "
                    "Choose it as an existing VNet in the wizard, or give the new VNet another name.",
                    permanent=True,
                    code="VnetConflict",
                )
            return with_action(existing, adopted(existing))
        body = {
            "location": intent.location,
            "tags": {"s2svpn": intent.slug},
            "properties": {
                "addressSpace": {"addressPrefixes": list(intent.vnet_prefixes)},
                "subnets": [],
            },
        }
        path = (intent.resource_group, intent.vnet_name)
        what = f"virtual network {intent.vnet_name}"
        return self._save(VNETS, what, path, body, action="created", wait=False)

    def _vnet_body(self, intent: SiteIntent) -> dict[str, Any]:
        """The VNet as Azure has it (wire JSON, subnets included), to PUT back changed."""
        path = (intent.resource_group, intent.vnet_name)
        response = self._send(
            f"reading virtual network {intent.vnet_name}", "GET", self._url(VNETS, path)
        )
        return copy.deepcopy(response.json())

    def set_vnet_prefix(self, intent: SiteIntent, prefix: str, *, present: bool) -> VNet:
        """Add (``present=True``) or remove an address prefix of the site's VNet, keeping its
        subnets: ``action`` created / deleted / unchanged / in_progress."""
        body = self._vnet_body(intent)
        props = body.setdefault("properties", {})
        space = list((props.get("addressSpace") or {}).get("addressPrefixes") or [])
        if (prefix in space) == present:
            return with_action(VNETS.parse(body), adopted(VNETS.parse(body)))
        if props.get("provisioningState") == "Updating":
            return with_action(VNETS.parse(body), "in_progress")
        props["addressSpace"] = {
            "addressPrefixes": [*space, prefix] if present else [p for p in space if p != prefix]
        }
        path = (intent.resource_group, intent.vnet_name)
        what = f"the address space of virtual network {intent.vnet_name}"
        return self._save(
            VNETS, what, path, body, action="created" if present else "deleted", wait=False
        )

    def delete_vnet(self, intent: SiteIntent, *, wait: bool = False) -> str:
        """VirtualNetworks_Delete: ``"deleted" | "gone" | "deleting"``."""
        path = (intent.resource_group, intent.vnet_name)
        return self._delete(VNETS, f"virtual network {intent.vnet_name}", path, wait)
