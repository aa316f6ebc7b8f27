"""Firewall objects s2svpn owns (phase 1, phase 2, VTI interface, firewall rule): read, found again
by stable keys right before every write, created / updated / deleted, and applied.

Vendor reference: https://pfrest.org/api-docs/ (``represent_interfaces_as``, apply endpoints).
"""

from __future__ import annotations

from collections.abc import Callable

from s2svpn import pfsense_plan as plan
from s2svpn.clients.errors import ClientError
from s2svpn.clients.pfsense.transport import PfSenseApi


class FirewallObjects(PfSenseApi):
    """Reads, stable-key finds, ensure/patch/delete and apply of the objects s2svpn writes."""

    _iface_repr: dict[str, str] | None = None

    # ---- reads ---------------------------------------------------------------------------------
    def settings(self) -> dict:
        return self.request("GET", "/api/v2/system/restapi/settings") or {}

    def interfaces(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/interfaces") or [])

    def packages(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/system/packages") or [])

    def phase1s(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/vpn/ipsec/phase1s") or [])

    def phase2s(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/vpn/ipsec/phase2s") or [])

    def rules(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/firewall/rules") or [])

    def latest_revision(self) -> dict | None:
        revisions = self.request("GET", "/api/v2/diagnostics/config_history/revisions") or []
        if not revisions:
            return None
        newest = max(revisions, key=lambda rev: rev.get("time") or 0)
        return {"time": newest.get("time"), "description": newest.get("description", "")}

    def _representation(self) -> dict[str, str]:
        if self._iface_repr is None:
            mode = self.settings().get("represent_interfaces_as", "descr")
            mapping = {}
            for iface in self.interfaces():
                iface_id = str(iface.get("id"))
                mapping[iface_id] = {
                    "id": iface_id,
                    "descr": iface.get("descr") or iface_id.upper(),
                    "if": iface.get("if") or iface_id,
                }.get(mode, iface_id)
            self._iface_repr = mapping
        return self._iface_repr

    def represent(self, iface_id: str) -> str:
        """An interface id (``wan``) as this firewall's REST settings expect it."""
        if iface_id in ("enc0", "openvpn", "any"):
            return iface_id
        return self._representation().get(iface_id, iface_id)

    # ---- finding by stable keys ----------------------------------------------------------------
    def find_phase1(
        self, descr: str | None = None, remote_gateway: str | None = None
    ) -> dict | None:
        for p1 in self.phase1s():
            if descr is not None and p1.get("descr") == descr:
                return p1
            if descr is None and remote_gateway and p1.get("remote_gateway") == remote_gateway:
                return p1
        return None

    def find_phase2(self, descr: str, ikeid: int | None = None) -> dict | None:
        for p2 in self.phase2s():
            if p2.get("descr") == descr and (ikeid is None or p2.get("ikeid") == ikeid):
                return p2
        return None

    def find_interface(self, port: str) -> dict | None:
        return next((i for i in self.interfaces() if i.get("if") == port), None)

    def find_rule(self, descr: str) -> dict | None:
        return next((r for r in self.rules() if r.get("descr") == descr), None)

    # ---- ensure (create / update / unchanged) --------------------------------------------------
    def _for_api(self, body: dict) -> dict:
        out = dict(body)
        if isinstance(out.get("interface"), str):
            out["interface"] = self.represent(out["interface"])
        elif isinstance(out.get("interface"), list):
            out["interface"] = [self.represent(i) for i in out["interface"]]
        return out

    def diff_phase1(self, body: dict, found: dict) -> dict:
        return plan.diff_fields(self._for_api(body), found, ignore=("pre_shared_key",))

    def ensure_phase1(self, body: dict, *, update_psk: bool = False) -> tuple[dict, str]:
        """Create or update s2svpn's phase 1 (found by ``descr``); returns (object, action)."""
        found = self.find_phase1(descr=body["descr"])
        if found is None:
            return self.request(
                "POST", "/api/v2/vpn/ipsec/phase1", json_body=self._for_api(body)
            ), "create"
        changes = self.diff_phase1(body, found)
        if not changes and not update_psk:
            return found, "unchanged"
        patch = {key: self._for_api(body)[key] for key in changes}
        if update_psk:
            patch["pre_shared_key"] = body["pre_shared_key"]
        return self.patch_phase1(body["descr"], patch), "update"

    def _patch_found(self, found: dict | None, what: str, path: str, fields: dict) -> dict:
        """PATCH an object just found again by its stable key (array ids shift on delete)."""
        if found is None:
            raise ClientError(
                f"{what} disappeared from the firewall; run the push again.",
                permanent=False,
                code="GONE",
            )
        return self.request("PATCH", path, json_body={"id": found["id"], **fields})

    def patch_phase1(self, descr: str, fields: dict) -> dict:
        found = self.find_phase1(descr=descr)
        return self._patch_found(found, f"Phase 1 '{descr}'", "/api/v2/vpn/ipsec/phase1", fields)

    def _ensure(
        self, found: dict | None, want: dict, path: str, patch: Callable[[dict], dict]
    ) -> tuple[dict, str]:
        """POST ``want`` to ``path`` when nothing was found, else PATCH only the fields that differ."""
        if found is None:
            return self.request("POST", path, json_body=want), "create"
        changes = plan.diff_fields(want, found)
        if not changes:
            return found, "unchanged"
        return patch({k: want[k] for k in changes}), "update"

    def ensure_phase2(self, body: dict, ikeid: int) -> tuple[dict, str]:
        return self._ensure(
            self.find_phase2(body["descr"], ikeid),
            {**body, "ikeid": ikeid},
            "/api/v2/vpn/ipsec/phase2",
            lambda fields: self.patch_phase2(body["descr"], ikeid, fields),
        )

    def patch_phase2(self, descr: str, ikeid: int, fields: dict) -> dict:
        found = self.find_phase2(descr, ikeid)
        return self._patch_found(found, f"Phase 2 '{descr}'", "/api/v2/vpn/ipsec/phase2", fields)

    def ensure_interface(self, body: dict, port: str) -> tuple[dict, str]:
        return self._ensure(
            self.find_interface(port),
            {**body, "if": port},
            "/api/v2/interface",
            lambda fields: self.patch_interface(port, fields),
        )

    def patch_interface(self, port: str, fields: dict) -> dict:
        found = self.find_interface(port)
        return self._patch_found(found, f"Interface {port}", "/api/v2/interface", fields)

    def ensure_rule(self, body: dict) -> tuple[dict, str]:
        return self._ensure(
            self.find_rule(body["descr"]),
            self._for_api(body),
            "/api/v2/firewall/rule",
            lambda fields: self.patch_rule(body["descr"], fields),
        )

    def patch_rule(self, descr: str, fields: dict) -> dict:
        found = self.find_rule(descr)
        return self._patch_found(found, f"Firewall rule '{descr}'", "/api/v2/firewall/rule", fields)

    # ---- deletes (by stable key; each re-resolves the current array id) ----------------------
    def _delete_found(self, found: dict | None, path: str) -> bool:
        """DELETE an object just found again by its stable key; False when it is not there."""
        if found is None:
            return False
        self.request("DELETE", path, params={"id": found["id"]})
        return True

    def delete_rule(self, descr: str) -> bool:
        return self._delete_found(self.find_rule(descr), "/api/v2/firewall/rule")

    def delete_interface(self, port: str) -> bool:
        return self._delete_found(self.find_interface(port), "/api/v2/interface")

    def delete_phase2(self, descr: str, ikeid: int | None = None) -> bool:
        return self._delete_found(self.find_phase2(descr, ikeid), "/api/v2/vpn/ipsec/phase2")

    def delete_phase1(self, descr: str) -> bool:
        return self._delete_found(self.find_phase1(descr=descr), "/api/v2/vpn/ipsec/phase1")

    # ---- outbound NAT (s2svpn.pfsense_nat) -----------------------------------------------------
    NAT_MODE = "/api/v2/firewall/nat/outbound/mode"
    NAT_MAPPING = "/api/v2/firewall/nat/outbound/mapping"

    def nat_mode(self) -> dict:
        return self.request("GET", self.NAT_MODE) or {}

    def set_nat_mode(self, mode: str) -> dict:
        return self.request("PATCH", self.NAT_MODE, json_body={"mode": mode})

    def nat_mappings(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/firewall/nat/outbound/mappings") or [])

    def find_nat_mapping(self, descr: str) -> dict | None:
        return next((m for m in self.nat_mappings() if m.get("descr") == descr), None)

    def diff_nat_mapping(self, body: dict, found: dict) -> dict:
        return plan.diff_fields(self._for_api(body), found)

    def ensure_nat_mapping(self, body: dict) -> tuple[dict, str]:
        return self._ensure(
            self.find_nat_mapping(body["descr"]),
            self._for_api(body),
            self.NAT_MAPPING,
            lambda fields: self._patch_found(
                self.find_nat_mapping(body["descr"]),
                f"Outbound NAT mapping '{body['descr']}'",
                self.NAT_MAPPING,
                fields,
            ),
        )

    def delete_nat_mapping(self, descr: str) -> bool:
        return self._delete_found(self.find_nat_mapping(descr), self.NAT_MAPPING)

    # ---- apply (each subsystem once per push) ---------------------------------------------------
    # An apply with ``async: false`` runs inline: ipsec_configure() rebuilds every VTI, an
    # interface apply reconfigures them; on a real firewall that can take well over 10 s.
    APPLY_TIMEOUT = 90.0
    APPLY_PATHS = {
        "ipsec": "/api/v2/vpn/ipsec/apply",
        "interfaces": "/api/v2/interface/apply",
        "firewall": "/api/v2/firewall/apply",
    }

    def _apply(self, path: str) -> bool:
        data = self.request("POST", path, json_body={"async": False}, timeout=self.APPLY_TIMEOUT)
        return bool((data or {}).get("applied", True))

    def applied(self, subsystem: str) -> bool:
        """Is nothing left to apply in ``subsystem``? (read-only, safe after a timed-out apply)"""
        data = self.request("GET", self.APPLY_PATHS[subsystem]) or {}
        return bool(data.get("applied"))

    def apply_ipsec(self) -> bool:
        return self._apply(self.APPLY_PATHS["ipsec"])

    def apply_interfaces(self) -> bool:
        return self._apply(self.APPLY_PATHS["interfaces"])

    def apply_firewall(self) -> bool:
        return self._apply(self.APPLY_PATHS["firewall"])
