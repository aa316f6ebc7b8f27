"""Configuration models of the pfSense sandbox: interfaces and the list models (IPsec phase 1,
phase 2, firewall rules) with the REST API v2's ids and ``apply`` semantics.

Ids are array indexes that shift on delete, as in config.xml; ``ikeid``/``reqid``/``tracker`` are
the stable keys pfSense assigns; nothing is live until its subsystem is applied
(pfrest/pfSense-pkg-RESTAPI ``Model::apply`` and the ``/apply`` endpoints).
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from s2svpn.sandbox.contract import Context
from s2svpn.sandbox.pfsense_state import ApiError, PfSenseStore, _compact, _lowest_free


class ConfigModels(PfSenseStore):
    def _repr_iface(self, iface_id: str) -> str:
        mode = self.state["settings"].get("represent_interfaces_as", "id")
        obj = self.config["interfaces"].get(iface_id)
        if obj is None or mode == "id":
            return iface_id
        return obj.get("descr") or iface_id.upper() if mode == "descr" else obj.get("if", iface_id)

    def _unrepr_iface(self, value: str) -> str:
        for iface_id in self.config["interfaces"]:
            if self._repr_iface(iface_id) == value:
                return iface_id
        return value

    def _interface_choices(self) -> list[str]:
        return [self._repr_iface(i) for i in self.config["interfaces"]]

    def _vti_ports(self) -> list[str]:
        return [
            f"ipsec{p2['reqid']}"
            for p2 in self.config["ipsec"]["phase2"]
            if p2.get("mode") == "vti" and not p2.get("disabled")
        ]

    def _ports(self) -> list[str]:
        physical = ["vtnet0", "vtnet1", "vtnet2"]
        return physical + self._vti_ports()

    def _interfaces(self, method: str, *_: Any) -> list:
        return [self._iface_out(i, o) for i, o in self.config["interfaces"].items()]

    def _iface_out(self, iface_id: str, obj: dict) -> dict:
        return {"id": iface_id, **obj}

    def _available_interfaces(self, *_: Any) -> list:
        in_use = {obj["if"]: i for i, obj in self.config["interfaces"].items()}
        return [
            {"id": index, "if": port, "mac": None, "dmesg": None, "in_use_by": in_use.get(port)}
            for index, port in enumerate(self._ports())
        ]

    def _interface(self, method: str, query: dict, body: dict) -> dict:
        interfaces = self.config["interfaces"]
        if method == "GET":
            iface_id = str(query.get("id", ""))
            if iface_id not in interfaces:
                raise ApiError(
                    404, "MODEL_OBJECT_NOT_FOUND", f"Object with ID '{iface_id}' does not exist."
                )
            return self._iface_out(iface_id, interfaces[iface_id])
        ctx = Context(
            interfaces=self._interface_choices(),
            ports=self._ports(),
            interface_ids=list(interfaces),
            existing=[{"id": i, **o} for i, o in interfaces.items()],
        )
        if method == "POST":
            obj = self.contract.validate("NetworkInterface", body, context=ctx)
            iface_id = "lan" if "lan" not in interfaces else self._next_opt()
            stored = _compact(obj)
            interfaces[iface_id] = stored
            self._mark_interface_dirty(iface_id, body)
            self._revision("Added interface via API")
            return self._iface_out(iface_id, stored)
        iface_id = str((body if method == "PATCH" else query).get("id", ""))
        if not iface_id:
            raise ApiError(400, "MODEL_REQUIRES_ID", "Field `id` is required.")
        if iface_id not in interfaces:
            raise ApiError(
                404, "MODEL_OBJECT_NOT_FOUND", f"Object with ID '{iface_id}' does not exist."
            )
        if method == "PATCH":
            ctx.current_id = iface_id
            self._current_request["current"] = copy.deepcopy(interfaces[iface_id])
            ctx.interface_ids = [i for i in interfaces if i != iface_id]
            obj = self.contract.validate(
                "NetworkInterface", body, method="PATCH", current=interfaces[iface_id], context=ctx
            )
            interfaces[iface_id] = _compact(obj)
            self._mark_interface_dirty(iface_id, body)
            self._revision("Modified interface via API")
            return self._iface_out(iface_id, interfaces[iface_id])
        if iface_id in ("wan", "lan"):
            raise ApiError(
                403, "MODEL_CANNOT_DELETE_PROTECTED_OBJECT", "The WAN/LAN cannot be deleted here."
            )
        removed = interfaces.pop(iface_id)
        self._mark_interface_dirty(iface_id, query)
        self._revision("Deleted interface via API")
        return self._iface_out(iface_id, removed)

    def _next_opt(self) -> str:
        n = 1
        while f"opt{n}" in self.config["interfaces"]:
            n += 1
        return f"opt{n}"

    def _mark_interface_dirty(self, iface_id: str, params: dict) -> None:
        if params.get("apply") is True:
            self._apply_interfaces()
        elif iface_id not in self.state["dirty"]["interfaces"]:
            self.state["dirty"]["interfaces"].append(iface_id)

    def _interface_apply(self, method: str, *_: Any) -> dict:
        if method == "POST" and self._slow_apply(self._apply_interfaces):
            return {"applied": True, "pending_interfaces": []}
        if method == "POST":
            self._apply_interfaces()
        pending = self.state["dirty"]["interfaces"]
        return {"applied": not pending, "pending_interfaces": list(pending)}

    def _apply_interfaces(self) -> None:
        self.state["running"]["interfaces"] = copy.deepcopy(self.config["interfaces"])
        self.state["dirty"]["interfaces"] = []
        self._sync_world()

    # ---- list models (P1, P2, rules) ----------------------------------------------------------
    _LISTS = {
        "IPsecPhase1": ("ipsec", "phase1", "IPsec Phase 1", "ipsec"),
        "IPsecPhase2": ("ipsec", "phase2", "IPsec Phase 2", "ipsec"),
        "FirewallRule": ("filter", "rule", "Firewall Rule", "filter"),
    }

    def _list(self, model: str) -> list:
        section, key, _, _ = self._LISTS[model]
        return self.config[section][key]

    def _out(self, model: str, index: int, obj: dict) -> dict:
        hidden = self.contract.write_only_fields(model)
        if not self.state["settings"].get("expose_sensitive_fields"):
            hidden |= self.contract.sensitive_fields(model)
        out = {"id": index}
        for key, value in obj.items():
            if key in hidden:
                continue
            if key == "interface" and model == "IPsecPhase1":
                value = self._repr_iface(value)
            elif key == "interface" and model == "FirewallRule":
                value = [self._repr_iface(v) for v in value]
            if key in ("encryption", "encryption_algorithm_option") and isinstance(value, list):
                value = [dict(item, parent_id=index, id=i) for i, item in enumerate(value)]
            out[key] = value
        return out

    def _many(self, model: str, method: str) -> list:
        if method != "GET":
            raise ApiError(
                405, "ENDPOINT_METHOD_NOT_ALLOWED", "Only GET is simulated on plural endpoints."
            )
        return [self._out(model, i, o) for i, o in enumerate(self._list(model))]

    def _context(self, model: str, current_id: int | None = None) -> Context:
        items = self._list(model)
        existing = [dict(o, id=i) for i, o in enumerate(items)]
        return Context(
            interfaces=self._interface_choices(),
            interface_ids=list(self.config["interfaces"]),
            foreign={
                "IPsecPhase1.ikeid": [p1.get("ikeid") for p1 in self.config["ipsec"]["phase1"]]
            },
            existing=existing,
            current_id=current_id,
        )

    def _one(self, model: str, method: str, query: dict, body: dict) -> dict:
        items = self._list(model)
        _, _, verbose, subsystem = self._LISTS[model]
        if method == "POST":
            obj = self.contract.validate(model, body, context=self._context(model))
            stored = self._store(model, _compact(obj), None)
            items.append(stored)
            self._dirty(subsystem, body)
            self._revision(f"Added {verbose} via API")
            return self._out(model, len(items) - 1, stored)
        raw_id = (body if method == "PATCH" else query).get("id")
        if raw_id is None or raw_id == "":
            raise ApiError(400, "MODEL_REQUIRES_ID", "Field `id` is required.")
        if not isinstance(raw_id, int) or isinstance(raw_id, bool):
            raise ApiError(400, "FIELD_INVALID_TYPE", "Field `id` must be of type `integer`.")
        if not 0 <= raw_id < len(items):
            raise ApiError(
                404, "MODEL_OBJECT_NOT_FOUND", f"Object with ID '{raw_id}' does not exist."
            )
        if method == "GET":
            return self._out(model, raw_id, items[raw_id])
        if method == "PATCH":
            current = self._unstore(model, items[raw_id])
            self._current_request["current"] = copy.deepcopy(current)
            obj = self.contract.validate(
                model, body, method="PATCH", current=current, context=self._context(model, raw_id)
            )
            items[raw_id] = self._store(model, _compact(obj), items[raw_id])
            self._dirty(subsystem, body)
            self._revision(f"Modified {verbose} via API")
            return self._out(model, raw_id, items[raw_id])
        minimum = self.contract.models[model].get("many_minimum") or 0
        if len(items) <= minimum:
            raise ApiError(
                403, "MODEL_MANY_MINIMUM_REACHED", f"At least {minimum} {verbose} must exist."
            )
        removed = items.pop(raw_id)  # later ids shift down by one, as in config.xml
        self._dirty(subsystem, query)
        self._revision(f"Deleted {verbose} via API")
        return self._out(model, raw_id, removed)

    def _unstore(self, model: str, stored: dict) -> dict:
        out = dict(stored)
        if model == "IPsecPhase1" and "interface" in out:
            out["interface"] = self._repr_iface(out["interface"])
        if model == "FirewallRule" and "interface" in out:
            out["interface"] = [self._repr_iface(v) for v in out["interface"]]
        return out

    def _store(self, model: str, obj: dict, previous: dict | None) -> dict:
        """Server-assigned keys (read-only in the API) plus interface ids instead of names."""
        if model == "IPsecPhase1":
            obj["interface"] = self._unrepr_iface(obj["interface"])
            used = {p.get("ikeid") for p in self.config["ipsec"]["phase1"]}
            obj["ikeid"] = previous["ikeid"] if previous else _lowest_free(used)
        elif model == "IPsecPhase2":
            used = {p.get("reqid") for p in self.config["ipsec"]["phase2"]}
            obj["reqid"] = previous["reqid"] if previous else _lowest_free(used)
            obj["uniqid"] = previous["uniqid"] if previous else secrets.token_hex(7)[:13]
        elif model == "FirewallRule":
            obj["interface"] = [self._unrepr_iface(v) for v in obj["interface"]]
            if previous:
                obj["tracker"] = previous["tracker"]
            else:
                trackers = {r.get("tracker") for r in self.config["filter"]["rule"]}
                tracker = self._tick()
                while tracker in trackers:
                    tracker = self._tick()
                obj["tracker"] = tracker
        return obj

    def _dirty(self, subsystem: str, params: dict) -> None:
        if params.get("apply") is True:
            (self._apply_ipsec if subsystem == "ipsec" else self._apply_filter)()
        else:
            self.state["dirty"][subsystem] = True

    def _slow_apply(self, apply: Any) -> bool:
        """A real apply runs inline (``async: false``): ipsec_configure() rebuilds every VTI.
        With ``apply_seconds`` the answer comes that late, and the apply lands at the end even
        when the client gave up waiting (the server thread goes on)."""
        seconds = float(getattr(self, "apply_seconds", 0) or 0)
        if seconds <= 0:
            return False
        self._later(seconds, apply)
        return True

    def _ipsec_apply(self, method: str, *_: Any) -> dict:
        if method == "POST" and self._slow_apply(self._apply_ipsec):
            return {"applied": True}
        if method == "POST":
            self._apply_ipsec()
        return {"applied": not self.state["dirty"]["ipsec"]}

    def _apply_ipsec(self) -> None:
        self.state["running"]["ipsec"] = copy.deepcopy(self.config["ipsec"])
        self.state["dirty"]["ipsec"] = False
        self._sync_world()

    def _firewall_apply(self, method: str, *_: Any) -> dict:
        if method == "POST" and self._slow_apply(self._apply_filter):
            return {"applied": True, "pending_subsystems": []}
        if method == "POST":
            self._apply_filter()
        # RESTAPI FirewallApply::FIREWALL_SUBSYSTEMS: natconf (outbound NAT mappings) counts too
        pending = ["filter"] if self.state["dirty"]["filter"] else []
        pending += ["natconf"] if self.state["dirty"].get("natconf") else []
        return {"applied": not pending, "pending_subsystems": pending}

    def _apply_filter(self) -> None:
        # filter_configure() also reloads Allow APIPA and the maximum MSS (system/*)
        self.state["running"]["system"] = copy.deepcopy(self.config.get("system") or {})
        self.state["running"]["filter"] = copy.deepcopy(self.config["filter"])
        # ... and the outbound NAT mode and mappings (filter_nat_rules_generate())
        self.state["running"]["nat"] = copy.deepcopy(self.config.get("nat"))
        self.state["dirty"]["filter"] = False
        self.state["dirty"]["natconf"] = False
        self._sync_world()
