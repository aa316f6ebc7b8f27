"""The ARM sandbox's resource store: names, ids, lookups and the JSON state file.

State is one JSON document (resource groups, resources keyed by lower-cased ARM id, operations,
the next sandbox public IP) written atomically under the state directory, so a restarted sandbox
resumes where it stopped. Every other part of the sandbox (``routing``, ``resources``,
``validate``, ``gateways``, ``bgp``, ``operations``, ``world_link``) is a mixin over this base.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from s2svpn.sandbox.armstate import ArmError, bad

API_VERSION = "2026-03-01"
SUBSCRIPTION_ID = "5d0c3b7e-9a41-4f4e-8a2b-2c1f0e6d7a59"
STATE_FILE = "arm-state.json"

SEGMENTS = {
    "virtualnetworks": "virtualNetworks",
    "publicipaddresses": "publicIPAddresses",
    "virtualnetworkgateways": "virtualNetworkGateways",
    "localnetworkgateways": "localNetworkGateways",
    "connections": "connections",
}
TYPES = {
    "virtualNetworks": "Microsoft.Network/virtualNetworks",
    "subnets": "Microsoft.Network/virtualNetworks/subnets",
    "publicIPAddresses": "Microsoft.Network/publicIPAddresses",
    "virtualNetworkGateways": "Microsoft.Network/virtualNetworkGateways",
    "localNetworkGateways": "Microsoft.Network/localNetworkGateways",
    "connections": "Microsoft.Network/connections",
}
LABEL = {
    "virtualNetworks": "virtual network",
    "subnets": "subnet",
    "publicIPAddresses": "public IP address",
    "virtualNetworkGateways": "virtual network gateway",
    "localNetworkGateways": "local network gateway",
    "connections": "connection",
}
IPCONFIG_NAMES = ("default", "activeActive")
# POST actions of a gateway: path segment (lower case) -> ARM's operation name.
GATEWAY_ACTIONS = {
    op.lower(): op
    for op in ("getBgpPeerStatus", "getLearnedRoutes", "getAdvertisedRoutes", "reset")
}

Answer = tuple[int, dict[str, str], Any]  # (status, headers, JSON body or None)
Record = dict[str, Any]  # {"seg", "body", "pending"?, "psk"?, "reset_counter"?}


def now_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def new_etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def id_key(resource_id: str) -> str:
    return resource_id.rstrip("/").lower()


def ref_id(value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return ""


class ArmStore:
    """State, persistence and lookups shared by every part of the ARM sandbox."""

    state_dir: Path
    subscription_id: str
    clock: Callable[[], float]
    _lock: threading.RLock
    _state: dict[str, Any]

    # ------------------------------------------------------------------ persistence

    def _state_path(self) -> Path:
        return self.state_dir / STATE_FILE

    def _load(self) -> dict[str, Any]:
        path = self._state_path()
        if path.exists():
            state = json.loads(path.read_text())
            state.setdefault("operations", {})
            return state
        return {"resource_groups": {}, "resources": {}, "operations": {}, "next_ip": 10}

    def _save(self) -> None:
        data = json.dumps(self._state, indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_dir, prefix=".arm-state.")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(data)
            os.replace(tmp, self._state_path())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------ ids and lookups

    def _rid(self, rg: str, seg: str, name: str) -> str:
        rg_name = self._state["resource_groups"].get(rg.lower(), {}).get("name", rg)
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{rg_name}"
            f"/providers/Microsoft.Network/{seg}/{name}"
        )

    def _get(self, resource_id: str) -> Record | None:
        return self._state["resources"].get(id_key(resource_id))

    def _of(self, seg: str) -> list[Record]:
        return [r for r in self._state["resources"].values() if r["seg"] == seg]

    def _not_found(self, seg: str, rg: str, name: str) -> ArmError:
        return ArmError(
            404,
            "ResourceNotFound",
            f"The Resource '{TYPES[seg]}/{name}' under resource group '{rg}' was not found. For more "
            "details please go to https://aka.ms/ARMResourceNotFoundFix",
        )

    def _need_rg(self, rg: str) -> None:
        if rg.lower() not in self._state["resource_groups"]:
            raise ArmError(
                404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found."
            )

    def _referenced(self, ref: Any, rid: str, create: str) -> Record:
        """The resource ``ref`` (``{"id": ...}``) points at, or ARM's 400 for a dangling reference."""
        target = ref_id(ref)
        rec = self._get(target) if target else None
        if rec is None:
            raise bad(
                "InvalidResourceReference",
                f"Resource {target or '(none)'} referenced by resource {rid} was not found. "
                f"Create {create} first.",
            )
        return rec

    def _finish_group_deletes(self, now: float) -> bool:
        """Resource group deletes that are due (``groups``); True when one finished."""
        return False

    @staticmethod
    def _method_not_allowed(method: str) -> ArmError:
        return ArmError(
            405,
            "HttpMethodNotAllowed",
            f"The requested resource does not support http method '{method}'.",
        )

    def _vnet_prefixes_of(self, gateway_props: dict[str, Any]) -> list[str]:
        """The address space of the VNet whose GatewaySubnet the gateway's first ipConfig uses."""
        for ipc in gateway_props.get("ipConfigurations", [])[:1]:
            sub_id = ref_id(ipc.get("properties", {}).get("subnet"))
            vnet = self._get(sub_id.rsplit("/subnets/", 1)[0]) if sub_id else None
            if vnet:
                return list(vnet["body"]["properties"]["addressSpace"]["addressPrefixes"])
        return []


def subnet_record(subnet_id: str, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The stored record of one subnet (a child resource of its VNet), with a fresh etag."""
    return {
        "seg": "subnets",
        "body": {
            "id": subnet_id,
            "name": name,
            "type": TYPES["subnets"],
            "etag": new_etag(),
            "properties": properties,
        },
    }
