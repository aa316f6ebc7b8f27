"""Outbound NAT in the pfSense sandbox: the mode, the manual mappings, and the rules pf would get.

REST models (contract supplement ``data/restapi-v2-contract-nat.json``): pfrest/pfSense-pkg-RESTAPI
``Models/OutboundNATMode.inc`` (``nat/outbound/mode``: automatic, hybrid, advanced, disabled; no
subsystem) and ``Models/OutboundNATMapping.inc`` (``nat/outbound/rule``, array-index ids,
subsystem ``natconf``, applied by ``FirewallApplyDispatcher``, i.e. a filter reload).

What the mappings do comes from pfsense/pfsense RELENG_2_7_2 ``src/etc/inc/filter.inc``
``filter_nat_rules_generate()``, read for :meth:`OutboundNat.effective_outbound_nat`:

* manual mappings are emitted only when the mode is ``hybrid`` or ``advanced``; ``disabled``
  emits nothing, ``automatic`` (and an unset mode) only the automatic rules;
* the automatic rules (``filter_nat_rules_outbound_automatic()``) skip ``ipsec*`` / ``ovpn*``
  interfaces and any interface without a gateway, so nothing automatic ever applies on a VTI;
* a mapping that is disabled, or whose interface is not a configured, existing interface
  (``$FilterIflist``), is skipped ("Missing interface");
* ``filter_nat_rules_generate_if()``: a target that is an IP (``/target_subnet``), subnet or
  alias is used as given; anything else translates to the address of the mapping's own
  interface.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from s2svpn.sandbox.contract import Context
from s2svpn.sandbox.pfsense_state import ApiError, PfSenseStore, _compact

MANUAL_MODES = ("hybrid", "advanced")


def _default_nat() -> dict:
    # a fresh pfSense runs automatic outbound NAT (filter.inc treats an unset mode the same)
    return {"outbound": {"mode": "automatic", "rule": []}}


class OutboundNat(PfSenseStore):
    """``/api/v2/firewall/nat/outbound/mode`` and ``…/mapping(s)``."""

    def _nat_outbound(self) -> dict:
        nat = self.config.setdefault("nat", _default_nat())
        outbound = nat.setdefault("outbound", {})
        outbound.setdefault("rule", [])
        return outbound

    def _nat_context(self, current_id: int | None = None) -> Context:
        ids = list(self.config["interfaces"])
        return Context(
            interfaces=[self._repr_iface(i) for i in ids],  # type: ignore[attr-defined]
            interface_ids=ids,
            existing=[dict(o, id=i) for i, o in enumerate(self._nat_outbound()["rule"])],
            current_id=current_id,
        )

    def _nat_mode(self, method: str, query: dict, body: dict) -> dict:
        outbound = self._nat_outbound()
        if method == "PATCH":
            obj = self.contract.validate(
                "OutboundNATMode", body, method="PATCH", current={"mode": outbound.get("mode")}
            )
            outbound["mode"] = obj["mode"]
            self._revision("Modified Outbound NAT Mode via API")
            if body.get("apply") is True:
                self._apply_filter()  # type: ignore[attr-defined]
        return {"mode": outbound.get("mode") or "automatic"}

    def _nat_out(self, index: int, obj: dict) -> dict:
        out = {"id": index, **obj}
        out["interface"] = self._repr_iface(obj["interface"])  # type: ignore[attr-defined]
        return out

    def _nat_mappings(self, method: str, *_: Any) -> list:
        if method != "GET":
            raise ApiError(405, "ENDPOINT_METHOD_NOT_ALLOWED", "Only GET is simulated here.")
        return [self._nat_out(i, o) for i, o in enumerate(self._nat_outbound()["rule"])]

    def _nat_mapping(self, method: str, query: dict, body: dict) -> dict:
        rules = self._nat_outbound()["rule"]
        if method == "POST":
            obj = self.contract.validate("OutboundNATMapping", body, context=self._nat_context())
            stored = self._nat_store(obj)
            rules.append(stored)
            self._nat_dirty(body)
            self._revision("Added Outbound NAT Mapping via API")
            return self._nat_out(len(rules) - 1, stored)
        raw_id = (body if method == "PATCH" else query).get("id")
        if raw_id is None or raw_id == "":
            raise ApiError(400, "MODEL_REQUIRES_ID", "Field `id` is required.")
        if not isinstance(raw_id, int) or isinstance(raw_id, bool):
            raise ApiError(400, "FIELD_INVALID_TYPE", "Field `id` must be of type `integer`.")
        if not 0 <= raw_id < len(rules):
            raise ApiError(
                404, "MODEL_OBJECT_NOT_FOUND", f"Object with ID '{raw_id}' does not exist."
            )
        if method == "GET":
            return self._nat_out(raw_id, rules[raw_id])
        if method == "PATCH":
            current = self._nat_out(raw_id, rules[raw_id])
            current.pop("id")
            self._current_request["current"] = copy.deepcopy(current)
            obj = self.contract.validate(
                "OutboundNATMapping",
                body,
                method="PATCH",
                current=current,
                context=self._nat_context(raw_id),
            )
            rules[raw_id] = self._nat_store(obj)
            self._nat_dirty(body)
            self._revision("Modified Outbound NAT Mapping via API")
            return self._nat_out(raw_id, rules[raw_id])
        removed = rules.pop(raw_id)  # later ids shift down, as in config.xml
        self._nat_dirty(query)
        self._revision("Deleted Outbound NAT Mapping via API")
        return self._nat_out(raw_id, removed)

    def _nat_store(self, obj: dict) -> dict:
        stored = _compact(obj)
        stored["interface"] = self._unrepr_iface(obj["interface"])  # type: ignore[attr-defined]
        target = str(stored.get("target") or "")
        if not _is_ip(target) and stored.get("target_subnet") is not None:
            stored["target_subnet"] = None  # validate_target_subnet(): only for IP/alias targets
        return stored

    def _nat_dirty(self, params: dict) -> None:
        if params.get("apply") is True:
            self._apply_filter()  # type: ignore[attr-defined]
        else:
            self.state["dirty"]["natconf"] = True

    # ---- what pf would run -----------------------------------------------------------------
    def effective_outbound_nat(self) -> list[dict]:
        """The manual outbound NAT rules the *applied* configuration gives pf, each
        ``{"interface", "port", "source", "destination", "translation", "descr"}``, the way
        ``filter_nat_rules_generate()`` builds them (see the module docstring). Automatic rules
        are not listed: they never apply on a VTI."""
        with self.lock:
            running = self.state["running"]
            outbound = (running.get("nat") or _default_nat())["outbound"]
            mode = outbound.get("mode") or "automatic"
            if mode not in MANUAL_MODES:
                return []
            interfaces = running.get("interfaces") or {}
            ports = self._live_ports()
            out = []
            for rule in outbound.get("rule") or []:
                iface = interfaces.get(rule.get("interface"))
                if rule.get("disabled") or iface is None or not iface.get("enable"):
                    continue
                if iface.get("if") not in ports:
                    continue  # the interface does not exist (yet): "Missing interface"
                target = str(rule.get("target") or "")
                if rule.get("nonat"):
                    translation = None
                elif _is_ip(target):
                    translation = f"{target}/{rule.get('target_subnet') or 32}"
                elif _is_subnet(target):
                    translation = target
                else:
                    translation = self._interface_address(rule["interface"], iface)
                out.append(
                    {
                        "interface": rule["interface"],
                        "port": iface.get("if"),
                        "source": rule.get("source"),
                        "destination": rule.get("destination"),
                        "translation": translation,
                        "descr": rule.get("descr") or "",
                    }
                )
            return out

    def _live_ports(self) -> set[str]:
        physical = {"vtnet0", "vtnet1", "vtnet2"}
        phase2 = ((self.state["running"].get("ipsec") or {}).get("phase2")) or []
        return physical | {
            f"ipsec{p2['reqid']}"
            for p2 in phase2
            if p2.get("mode") == "vti" and not p2.get("disabled")
        }

    def _interface_address(self, iface_id: str, iface: dict) -> str | None:
        """An interface's IPv4 address: static ones from the config, a VTI's from its phase 2
        (interface_ipsec_vti_configure() puts localid_address on ipsecN)."""
        if iface.get("ipaddr"):
            return f"{iface['ipaddr']}/32"
        phase2 = ((self.state["running"].get("ipsec") or {}).get("phase2")) or []
        for p2 in phase2:
            if f"ipsec{p2.get('reqid')}" == iface.get("if"):
                return f"{p2.get('localid_address')}/32"
        return None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_subnet(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value
