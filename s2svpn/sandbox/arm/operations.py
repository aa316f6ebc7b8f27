"""Long-running operations of the ARM sandbox: time, pending work and the status URLs.

Operations take time without costing threads: each write stores its start time and duration, and
every request first "ticks" the clock, finishing whatever is due. Pollers follow
``Azure-AsyncOperation`` (``.../operations/<id>``: ``{"status": "InProgress" | "Succeeded"}``) or
``Location`` (``.../operationResults/<id>``: 202 until done, then the result), as
https://learn.microsoft.com/rest/api/azure/#async-operations describes.
"""

from __future__ import annotations

import uuid
from typing import Any

from s2svpn.sandbox.arm.store import (
    API_VERSION,
    Answer,
    ArmStore,
    Record,
    id_key,
    new_etag,
    now_iso,
    ref_id,
)
from s2svpn.sandbox.arm.throttle import retry_after
from s2svpn.sandbox.armstate import ArmError


class Operations(ArmStore):
    def _tick(self) -> None:
        """Finish every operation whose time has come."""
        now = self.clock()
        changed = False
        for key, rec in list(self._state["resources"].items()):
            pending = rec.get("pending")
            if not pending or now < pending["start"] + pending["duration"]:
                continue
            changed = True
            rec["pending"] = None
            if pending["action"] == "delete":
                self._forget(key, rec)
                continue
            rec["body"]["properties"]["provisioningState"] = "Succeeded"
            if rec["seg"] == "virtualNetworkGateways":
                self._finish_gateway(rec)
        changed = self._finish_group_deletes(now) or changed
        # Status URLs of finished operations stay valid for 15 minutes, plenty for any poller.
        # Swept at most every 30 s: a sweep per request would cost O(operations) each time.
        if now - getattr(self, "_swept_at", 0.0) > 30:
            self._swept_at = now
            horizon = now - 900
            for op_id, op in list(self._state["operations"].items()):
                if op["start"] + op["duration"] < horizon:
                    del self._state["operations"][op_id]
        if changed:
            self._save()
            self._sync_world()

    def _forget(self, key: str, rec: Record) -> None:
        """Remove a deleted resource and every reference other resources kept to it."""
        self._state["resources"].pop(key, None)
        if rec["seg"] == "virtualNetworkGateways":
            for other in self._state["resources"].values():
                props = other["body"].get("properties", {})
                if other["seg"] == "publicIPAddresses":
                    ipc = ref_id(props.get("ipConfiguration"))
                    if ipc and id_key(ipc).startswith(key + "/"):
                        props.pop("ipConfiguration", None)
                if other["seg"] == "subnets":
                    refs = [
                        r
                        for r in props.get("ipConfigurations", [])
                        if not id_key(ref_id(r)).startswith(key + "/")
                    ]
                    if refs:
                        props["ipConfigurations"] = refs
                    else:
                        props.pop("ipConfigurations", None)
        if rec["seg"] == "virtualNetworks":
            for sub_key in [k for k in self._state["resources"] if k.startswith(key + "/subnets/")]:
                self._state["resources"].pop(sub_key, None)

    def _scaled(self, seconds: float) -> float:
        """Seconds of a profile as the clock sees them (``timing.time_scale`` compresses time)."""
        return float(seconds) * self.timing.time_scale

    def _duration(self, seg: str) -> float:
        return self._scaled(
            self.timing.gateway_seconds
            if seg == "virtualNetworkGateways"
            else self.timing.other_seconds
        )

    def _wait(self, op: dict[str, Any]) -> dict[str, str]:
        """``Retry-After`` for an operation that asks pollers to wait (real Azure's BGP reads)."""
        if not op.get("retry_after"):
            return {}
        return retry_after(op["retry_after"], self.timing.time_scale)

    def _new_op(
        self, kind: str, resource_id: str, action: str, duration: float, location: str, **extra: Any
    ) -> dict[str, Any]:
        """An operation record: what its status URLs answer (``kind``: put, delete or post)."""
        op = {
            "id": str(uuid.uuid4()),
            "kind": kind,
            "resource": resource_id,
            "action": action,
            "start": self.clock(),
            "duration": duration,
            "location": location or "westeurope",
            **extra,
        }
        self._state["operations"][op["id"]] = op
        return op

    def _begin(
        self,
        rec: Record,
        kind: str,
        action: str,
        duration: float,
        location: str,
        *,
        state: str = "",
    ) -> dict[str, Any]:
        """Start an operation that keeps ``rec`` busy until ``_tick`` finishes it."""
        op = self._new_op(kind, rec["body"]["id"], action, duration, location)
        rec["pending"] = {
            "action": action,
            "start": op["start"],
            "duration": duration,
            "op": op["id"],
        }
        if state:
            rec["body"]["properties"]["provisioningState"] = state
        return op

    def _start_delete(self, rec: Record, location: str) -> Answer:
        """DELETE of an existing resource: 202 + ``Location`` (the same one while it runs)."""
        pending = rec.get("pending") or {}
        if pending.get("action") == "delete":
            op = self._state["operations"].get(pending.get("op", ""))
            if op:
                return 202, {"Location": self._op_urls(op)[1]}, None
        self._refuse_while_gateway_busy(rec)
        self._refuse_in_use(rec)
        op = self._begin(
            rec, "delete", "delete", self._duration(rec["seg"]), location, state="Deleting"
        )
        rec["body"]["etag"] = new_etag()
        self._save()
        self._sync_world()
        return 202, {"Location": self._op_urls(op)[1]}, None

    def _op_urls(self, op: dict[str, Any]) -> tuple[str, str]:
        """(``Azure-AsyncOperation`` status URL, ``Location`` result URL)."""
        base = f"{self.base_url}/subscriptions/{self.subscription_id}/providers/Microsoft.Network/locations/{op['location']}"
        return (
            f"{base}/operations/{op['id']}?api-version={API_VERSION}",
            f"{base}/operationResults/{op['id']}?api-version={API_VERSION}",
        )

    def _op_done(self, op: dict[str, Any]) -> bool:
        return self.clock() >= op["start"] + op["duration"]

    def _operation(self, kind: str, op_id: str) -> Answer:
        """GET of a status URL (``kind`` "operations") or a result URL ("operationresults")."""
        op = self._state["operations"].get(op_id)
        if op is None:
            raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' could not be found.")
        done = self._op_done(op)
        if kind == "operations":
            body: dict[str, Any] = {
                "name": op_id,
                "status": "Succeeded" if done else "InProgress",
                "startTime": now_iso(op["start"]),
            }
            if done:
                body["endTime"] = now_iso(op["start"] + op["duration"])
            return 200, {} if done else self._wait(op), body
        if not done:
            return 202, {"Location": self._op_urls(op)[1], **self._wait(op)}, None
        if op["kind"] == "delete":
            return 204, {}, None
        if op["kind"] == "post":
            return 200, {}, self._action_result(op)
        rec = self._get(op["resource"])
        return 200, {}, self._render(rec) if rec else None
