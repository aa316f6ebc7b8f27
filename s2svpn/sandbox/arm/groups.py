"""Resource groups and virtual network writes of the ARM sandbox.

Wire contract, from Azure/azure-rest-api-specs:

* ``specification/resources/resource-manager/Microsoft.Resources/stable/2021-04-01/resources.json``:
  ``ResourceGroups_CreateOrUpdate`` (PUT ``/subscriptions/{sub}/resourcegroups/{rg}``, 200/201,
  synchronous, body ``{"location", "tags"}``; example ``CreateResourceGroup.json`` answers
  ``{"id", "name", "location", "properties": {"provisioningState": "Succeeded"}}``),
  ``ResourceGroups_Get`` (200), ``ResourceGroups_Delete`` (202 + ``Location`` until done; "When you
  delete a resource group, all of its resources are also deleted"), ``ResourceGroups_List`` and
  ``Resources_ListByResourceGroup`` (GET ``.../resourceGroups/{rg}/resources``). The resource
  group name parameter: 1-90 characters of ``^[-\\w\\._\\(\\)]+$``.
* ``specification/network/resource-manager/Microsoft.Network/stable/2024-05-01/virtualNetwork.json``:
  ``VirtualNetworks_CreateOrUpdate`` (PUT, 200/201, long-running, final state via
  ``azure-async-operation``) and ``VirtualNetworks_Delete`` (200/202/204, final state via
  ``location``). A VNet PUT is a full replacement: its ``subnets`` are the VNet's subnets
  afterwards (subnets left out are deleted: see below).

Error codes: ``ResourceGroupNotFound``, ``LocationRequired``, ``InvalidResourceGroupLocation``,
``ResourceGroupBeingDeleted`` (Microsoft's list of common deployment errors),
``NetcfgSubnetRangeOutsideVnet``, ``NetcfgSubnetRangesOverlap``, ``InUseSubnetCannotBeDeleted``
and ``InUseSubnetCannotBeUpdated`` are ARM's own (seen in Azure's answers quoted in public
issues). Guesses, marked where raised: ``InvalidResourceGroupName``, ``VnetAddressSpaceMissing``,
and ``VnetAddressSpacesOverlap`` for two overlapping prefixes of one VNet (ARM's code of that
name is documented for peering VNets whose spaces overlap). That a PUT without ``subnets``
deletes the VNet's subnets is our reading of ARM's full-replacement PUT, which azurerm's and the
az CLI's habit of sending the subnets back supports; it is not stated in the spec.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from typing import Any

from s2svpn.sandbox import armstate as rules
from s2svpn.sandbox.arm.store import (
    Answer,
    ArmStore,
    Record,
    id_key,
    subnet_record,
)
from s2svpn.sandbox.armstate import ArmError, bad

RG_TYPE = "Microsoft.Resources/resourceGroups"
# resources.json, parameter ResourceGroupNameParameter: pattern and length
RG_NAME = re.compile(r"^[-\w._()]{1,90}$")


class Groups(ArmStore):
    """Resource groups (create, read, list, delete with everything in them) and VNet PUTs."""

    # ------------------------------------------------------------------ resource groups

    def _rg_id(self, name: str) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{name}"

    def _rg_render(self, rec: dict[str, Any]) -> dict[str, Any]:
        deleting = bool(rec.get("pending"))
        return {
            "id": self._rg_id(rec["name"]),
            "name": rec["name"],
            "type": RG_TYPE,
            "location": rec["location"],
            "tags": dict(rec.get("tags") or {}),
            "properties": {"provisioningState": "Deleting" if deleting else "Succeeded"},
        }

    def _resource_group(self, method: str, rg: str, payload: Any) -> Answer:
        rec = self._state["resource_groups"].get(rg.lower())
        if method == "GET":
            if rec is None:
                self._need_rg(rg)
            return 200, {}, self._rg_render(rec)
        if method == "DELETE":
            if rec is None:
                self._need_rg(rg)  # ResourceGroups_Delete of a missing group: 404
            return self._delete_rg(rec)
        if method != "PUT":
            raise self._method_not_allowed(method)
        if not isinstance(payload, dict):
            raise bad("InvalidRequestFormat", "The request body must be a JSON object.")
        if not RG_NAME.match(rg) or rg.endswith("."):
            # guess: ARM's code for a bad name is not in the spec; the rule is the spec's pattern
            raise bad(
                "InvalidResourceGroupName",
                f"Resource group name '{rg}' is invalid: use 1-90 letters, digits, underscores, "
                "hyphens, periods and parentheses, not ending in a period.",
            )
        location = rules.normalise_location(payload.get("location"))
        if rec is not None:
            if rec.get("pending"):
                raise self._being_deleted(rg)
            if rec["location"] != location:
                raise ArmError(
                    409,
                    "InvalidResourceGroupLocation",
                    f"Invalid resource group location '{location}'. The Resource group already "
                    f"exists in location '{rec['location']}'.",
                )
            rec["tags"] = dict(payload.get("tags") or {})
            self._save()
            return 200, {}, self._rg_render(rec)
        rec = {"name": rg, "location": location, "tags": dict(payload.get("tags") or {})}
        self._state["resource_groups"][rg.lower()] = rec
        self._save()
        return 201, {}, self._rg_render(rec)

    @staticmethod
    def _being_deleted(rg: str) -> ArmError:
        # ARM's code for writes into a group it is deleting; the message is our wording
        return ArmError(
            409,
            "ResourceGroupBeingDeleted",
            f"The resource group '{rg}' is in deprovisioning state and cannot perform this "
            "operation. Wait until it is deleted, then create it again.",
        )

    def _refuse_write_while_rg_deleting(self, rg: str) -> None:
        rec = self._state["resource_groups"].get(rg.lower())
        if rec is not None and rec.get("pending"):
            raise self._being_deleted(rg)

    def _rg_members(self, rg: str) -> list[str]:
        """Keys of every resource in the group (subnets included)."""
        prefix = id_key(self._rg_id(rg)) + "/"
        return [k for k in self._state["resources"] if k.startswith(prefix)]

    def _delete_rg(self, rec: dict[str, Any]) -> Answer:
        pending = rec.get("pending") or {}
        op = self._state["operations"].get(pending.get("op", ""))
        if op is None:
            op = self._new_op(
                "delete",
                self._rg_id(rec["name"]),
                "delete",
                self._scaled(self.timing.other_seconds),
                rec["location"],
            )
            rec["pending"] = {"start": op["start"], "duration": op["duration"], "op": op["id"]}
            self._save()
        return 202, {"Location": self._op_urls(op)[1]}, None

    def _finish_group_deletes(self, now: float) -> bool:
        """Remove each group whose delete is due, with every resource in it (ARM's cascade)."""
        done = [
            key
            for key, rec in self._state["resource_groups"].items()
            if rec.get("pending") and now >= rec["pending"]["start"] + rec["pending"]["duration"]
        ]
        for key in done:
            rec = self._state["resource_groups"].pop(key)
            for member in self._rg_members(rec["name"]):
                self._state["resources"].pop(member, None)
        return bool(done)

    def _list_groups(self, query: dict[str, str], path: str) -> Answer:
        groups = sorted(self._state["resource_groups"].values(), key=lambda r: r["name"].lower())
        return 200, {}, {"value": [self._rg_render(r) for r in groups], "nextLink": None}

    def _list_rg_resources(self, rg: str) -> Answer:
        """Resources_ListByResourceGroup: the top-level resources of the group (no subnets)."""
        self._need_rg(rg)
        out = []
        for key in sorted(self._rg_members(rg)):
            rec = self._state["resources"][key]
            if rec["seg"] == "subnets":
                continue
            body = rec["body"]
            out.append(
                {
                    "id": body["id"],
                    "name": body["name"],
                    "type": body["type"],
                    "location": body.get("location", ""),
                    "tags": dict(body.get("tags") or {}),
                }
            )
        return 200, {}, {"value": out, "nextLink": None}

    # ------------------------------------------------------------------ virtual networks

    def _check_vnet(
        self, name: str, rid: str, body: dict[str, Any], existing: Record | None
    ) -> None:
        props = body["properties"]
        space = props.get("addressSpace") or {}
        prefixes = space.get("addressPrefixes") if isinstance(space, dict) else None
        if not prefixes or not isinstance(prefixes, list):
            # guess: the code for a VNet without any address prefix
            raise bad(
                "VnetAddressSpaceMissing",
                f"Virtual network {name}: properties.addressSpace.addressPrefixes needs at least "
                "one address prefix, like 10.1.0.0/16.",
            )
        nets = [rules.parse_cidr(p, f"virtual network {name}") for p in prefixes]
        for i, net in enumerate(nets):
            for other in nets[i + 1 :]:
                if net.overlaps(other):
                    # guess: ARM's code for overlapping prefixes of one VNet
                    raise bad(
                        "VnetAddressSpacesOverlap",
                        f"Virtual network {name}: address prefixes {net} and {other} overlap. "
                        "Each prefix of the address space must be distinct.",
                    )
        props["addressSpace"] = {"addressPrefixes": [str(p) for p in prefixes]}
        props.setdefault("dhcpOptions", {"dnsServers": []})
        props.setdefault("virtualNetworkPeerings", [])

    def _put_vnet(self, rg: str, name: str, payload: Any) -> Answer:
        """VirtualNetworks_CreateOrUpdate: the VNet and, as a full replacement, its subnets."""
        if not isinstance(payload, dict):
            raise bad(
                "InvalidRequestFormat",
                f"The request body for virtual network '{name}' must be a JSON object.",
            )
        rid = self._rid(rg, "virtualNetworks", name)
        existing = self._get(rid)
        if existing and (existing.get("pending") or {}).get("action") == "delete":
            raise ArmError(
                409,
                "AnotherOperationInProgress",
                f"Operation on virtual network '{name}' cannot be performed because it is being "
                "deleted. Wait until the deletion completes, then retry.",
            )
        wanted = (payload.get("properties") or {}).get("subnets") or []
        body = self._validate("virtualNetworks", rg, name, rid, payload, existing)
        body["properties"].pop("subnets", None)
        space = [
            ipaddress.ip_network(p) for p in body["properties"]["addressSpace"]["addressPrefixes"]
        ]
        keep, drop = self._plan_subnets(name, rid, space, wanted)
        status, headers, _ = self._store_put("virtualNetworks", rid, body, existing)
        for key in drop:
            self._state["resources"].pop(key, None)
        for sub_name, prefix, extra in keep:
            sub_id = f"{rid}/subnets/{sub_name}"
            old = self._get(sub_id)
            props = {**extra, "addressPrefix": prefix, "provisioningState": "Succeeded"}
            if old and old["body"]["properties"].get("ipConfigurations"):
                props["ipConfigurations"] = old["body"]["properties"]["ipConfigurations"]
            self._state["resources"][id_key(sub_id)] = subnet_record(sub_id, sub_name, props)
        self._save()
        return status, headers, self._render(self._get(rid))

    def _plan_subnets(
        self,
        vnet: str,
        vnet_id: str,
        space: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
        wanted: Any,
    ) -> tuple[list[tuple[str, str, dict[str, Any]]], list[str]]:
        """Check the subnets a VNet PUT asks for against ARM's rules: (to keep or create, keys of
        the subnets to delete). Nothing is written here."""
        if not isinstance(wanted, list):
            raise bad("InvalidRequestFormat", f"properties.subnets of {vnet} must be a list.")
        keep: list[tuple[str, str, dict[str, Any]]] = []
        nets: list[tuple[str, Any]] = []
        for entry in wanted:
            sub_name = entry.get("name") if isinstance(entry, dict) else None
            props = copy.deepcopy((entry.get("properties") or {}) if sub_name else {})
            prefix = (
                props.pop("addressPrefix", None)
                or (props.pop("addressPrefixes", None) or [None])[0]
            )
            if not sub_name or prefix is None:
                raise bad(
                    "InvalidRequestFormat",
                    f"Every subnet of virtual network {vnet} needs a name and "
                    "properties.addressPrefix.",
                )
            net = rules.parse_cidr(prefix, f"subnet {sub_name}")
            if net.prefixlen > 29:
                raise bad(
                    "InvalidSubnetSize",
                    f"Subnet {sub_name} with prefix {prefix} is too small: Azure subnets must be "
                    "/29 or larger.",
                )
            if not any(net.version == v.version and net.subnet_of(v) for v in space):
                raise bad(
                    "NetcfgSubnetRangeOutsideVnet",
                    f"Subnet '{sub_name}' is not valid because its IP address range is outside the "
                    f"IP address range of virtual network '{vnet}' ({', '.join(map(str, space))}). "
                    "Keep the address prefix that holds it, or pick a prefix inside the space.",
                )
            for other_name, other in nets:
                if net.overlaps(other):
                    raise bad(
                        "NetcfgSubnetRangesOverlap",
                        f"Subnet '{sub_name}' is not valid in virtual network '{vnet}' because its "
                        f"IP address range overlaps with that of an existing subnet "
                        f"'{other_name}' ({other}). Choose a free range.",
                    )
            old = self._get(f"{vnet_id}/subnets/{sub_name}")
            in_use = old is not None and old["body"]["properties"].get("ipConfigurations")
            if in_use and old["body"]["properties"]["addressPrefix"] != prefix:
                raise bad(
                    "InUseSubnetCannotBeUpdated",
                    f"Subnet {sub_name} is in use by a virtual network gateway and its address "
                    "prefix cannot be changed.",
                )
            for ro in ("provisioningState", "ipConfigurations"):
                props.pop(ro, None)
            nets.append((sub_name, net))
            keep.append((sub_name, prefix, props))
        names = {n.lower() for n, _, _ in keep}
        drop = []
        prefix_key = id_key(vnet_id) + "/subnets/"
        for key, rec in self._state["resources"].items():
            if not key.startswith(prefix_key) or rec["body"]["name"].lower() in names:
                continue
            self._refuse_subnet_delete(rec)
            drop.append(key)
        return keep, drop

    def _refuse_subnet_delete(self, rec: Record) -> None:
        refs = rec["body"]["properties"].get("ipConfigurations")
        if refs:
            users = ", ".join(r.get("id", "") for r in refs)
            raise bad(
                "InUseSubnetCannotBeDeleted",
                f"Subnet {rec['body']['name']} is in use by {users} and cannot be deleted. In "
                "order to delete the subnet, delete all the resources within the subnet.",
            )

    def _refuse_vnet_delete(self, rec: Record) -> None:
        """A VNet whose subnets are in use cannot be deleted (ARM names the subnet in use)."""
        prefix_key = id_key(rec["body"]["id"]) + "/subnets/"
        for key, sub in self._state["resources"].items():
            if key.startswith(prefix_key):
                self._refuse_subnet_delete(sub)
