"""Role-based access control in the ARM sandbox, enforced the way ARM does it.

Off by default. With a role definition set (``ArmSandbox(role=...)``, ``sandbox.role = ...`` or
``S2SVPN_SANDBOX_ARM_ROLE`` through ``manage.py sandbox``), the caller is one service principal
holding that role at each of its ``AssignableScopes``, and every request is mapped to its action
(GET -> ``read``, PUT -> ``write``, DELETE -> ``delete``, POST ``<op>`` -> ``<op>/action``) before
anything else happens:

* not granted at the request's scope: 403 ``AuthorizationFailed`` naming the action and scope, in
  ARM's words;
* a gateway PUT also needs ``join`` on the subnet and public IPs it references: 403
  ``LinkedAuthorizationFailed`` naming the linked action and scope;
* a subscription-wide list returns what the role can read below the subscription, or 403 when it
  can read nothing there (ARM's partial authorization of collection reads);
* status URLs of long-running operations (``locations/operations``, ``locations/operationResults``)
  are authorized against the resource the operation belongs to.

Role JSON: the shape ``az role definition create`` takes (``Actions``, ``NotActions``,
``AssignableScopes``) or ARM's own (``properties.permissions[].actions``, ``assignableScopes``).
Wildcards (``*``) in actions match as in Azure RBAC; names compare case-insensitively.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2svpn.sandbox.arm.store import GATEWAY_ACTIONS, SEGMENTS, TYPES, ArmStore, ref_id
from s2svpn.sandbox.armstate import ArmError

# The sandbox's one caller, as ARM names it in its refusals (client id = object id for a
# service principal's token).
PRINCIPAL = "3f6c2a9e-5b1d-4c7e-8f20-6d4e9a1b7c53"

VERBS = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}


def _norm(value: str) -> str:
    return value.rstrip("/").lower()


@dataclass(frozen=True)
class Role:
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    scopes: tuple[str, ...]

    @classmethod
    def parse(cls, definition: dict[str, Any] | str | Path) -> Role:
        """A role from its JSON (a dict, a JSON text or a path to a JSON file)."""
        if isinstance(definition, Path) or (
            isinstance(definition, str) and not definition.lstrip().startswith("{")
        ):
            definition = json.loads(Path(definition).read_text())
        elif isinstance(definition, str):
            definition = json.loads(definition)
        body = {k.lower(): v for k, v in definition.items()}
        if isinstance(body.get("properties"), dict):
            body = {k.lower(): v for k, v in body["properties"].items()}
        actions, not_actions = list(body.get("actions") or []), list(body.get("notactions") or [])
        for permission in body.get("permissions") or []:
            perm = {k.lower(): v for k, v in permission.items()}
            actions += perm.get("actions") or []
            not_actions += perm.get("notactions") or []
        return cls(tuple(actions), tuple(not_actions), tuple(body.get("assignablescopes") or []))

    def _grants(self, action: str) -> bool:
        def hit(patterns: tuple[str, ...]) -> bool:
            return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)

        return hit(self.actions) and not hit(self.not_actions)

    def allows(self, action: str, scope: str) -> bool:
        """Granted at ``scope``: the action, at one of the role's scopes or above ``scope``."""
        target = _norm(scope)
        return self._grants(action) and any(
            target == _norm(s) or target.startswith(_norm(s) + "/") for s in self.scopes
        )

    def allows_below(self, action: str, scope: str) -> bool:
        """Granted somewhere at or below ``scope`` (what a partial list may show)."""
        target = _norm(scope)
        return self._grants(action) and any(
            _norm(s) == target
            or _norm(s).startswith(target + "/")
            or target.startswith(_norm(s) + "/")
            for s in self.scopes
        )


def refusal(action: str, scope: str) -> ArmError:
    return ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{PRINCIPAL}' with object id '{PRINCIPAL}' does not have authorization to "
        f"perform action '{action}' over scope '{scope}' or the scope is invalid. If access was "
        "recently granted, please refresh your credentials.",
    )


def linked_refusal(action: str, scope: str, linked: str, linked_scope: str) -> ArmError:
    return ArmError(
        403,
        "LinkedAuthorizationFailed",
        f"The client '{PRINCIPAL}' with object id '{PRINCIPAL}' has permission to perform action "
        f"'{action}' on scope '{scope}'; however, it does not have permission to perform "
        f"action(s) '{linked}' on the linked scope(s) '{linked_scope}' (respectively) or the "
        "linked scope(s) are invalid.",
    )


def action_for(method: str, parts: list[str]) -> str | None:
    """The action a request under ``/subscriptions/<sub>/resourceGroups/<rg>/providers/
    Microsoft.Network/...`` needs (``parts``: its path segments), None if it names none."""
    low = [p.lower() for p in parts]
    if low[2:3] == ["resourcegroups"] and len(parts) in (3, 4, 5) and method in VERBS:
        # Microsoft.Resources operations (Azure's list of resource provider operations):
        # resourceGroups/read|write|delete, and resourceGroups/resources/read for its contents
        group = "Microsoft.Resources/subscriptions/resourceGroups"
        if len(parts) == 5:
            return f"{group}/resources/read" if low[4] == "resources" else None
        return f"{group}/{VERBS[method]}"
    if len(parts) < 7:
        return None
    seg = SEGMENTS.get(low[6])
    if seg is None:
        return None
    base = TYPES[seg]
    rest = low[8:]
    verb = VERBS.get(method)
    if seg == "virtualNetworks" and rest[:1] == ["subnets"]:
        base, rest = TYPES["subnets"], rest[2:]
    if seg == "connections" and rest == ["sharedkey"]:
        base, rest = f"{base}/sharedKey", []
    if seg == "virtualNetworkGateways" and len(rest) == 1:
        if rest[0] == "connections":
            return f"{base}/connections/read"
        if method == "POST" and rest[0] in GATEWAY_ACTIONS:
            return f"{base}/{GATEWAY_ACTIONS[rest[0]]}/action"
        return None
    if rest or verb is None:
        return None
    return f"{base}/{verb}"


class Authorization(ArmStore):
    role: Role | None
    granted: set[str]  # every action a request was allowed under the role (what a run used)

    def _check(self, action: str, scope: str, named_scope: str) -> None:
        """Allow (and note) ``action`` at ``scope``, or refuse naming ``named_scope``."""
        role = self.role or Role((), (), ())
        if not role.allows(action, scope):
            raise refusal(action, named_scope)
        self.granted.add(action)

    def _authorize(self, method: str, path: str, parts: list[str]) -> None:
        """Refuse a request the role does not allow, as ARM would (see the module docstring)."""
        if self.role is None:
            return
        low = [p.lower() for p in parts]
        if low[2:4] == ["providers", "microsoft.network"] and len(parts) == 8:
            if low[4] == "locations" and low[6] in ("operations", "operationresults"):
                op = self._state["operations"].get(parts[7])
                if op is not None:
                    kind = "operations" if low[6] == "operations" else "operationResults"
                    action = f"Microsoft.Network/locations/{kind}/read"
                    self._check(action, op["resource"], path.rstrip("/"))
            return
        action = action_for(method, parts)
        if action is not None:
            self._check(action, path, self._scope_of(parts, path))

    @staticmethod
    def _scope_of(parts: list[str], path: str) -> str:
        """ARM names a collection read's scope by the provider, a resource's by its id."""
        if len(parts) == 7:
            return "/" + "/".join(parts[:6])
        return path.rstrip("/")

    def _readable(self, recs: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
        """A subscription-wide list: what the role can read, or 403 if it can read nothing."""
        if self.role is None:
            return recs
        sub_scope = f"/subscriptions/{self.subscription_id}"
        if not self.role.allows_below(action, sub_scope):
            raise refusal(action, sub_scope)
        self.granted.add(action)
        if self.role.allows(action, sub_scope):
            return recs
        return [r for r in recs if self.role.allows(action, r["body"]["id"])]

    def _authorize_links(self, rid: str, payload: Any) -> None:
        """A gateway PUT joins its subnet and public IPs: ARM's linked access check."""
        if self.role is None or not isinstance(payload, dict):
            return
        write = f"{TYPES['virtualNetworkGateways']}/write"
        for ipc in (payload.get("properties") or {}).get("ipConfigurations") or []:
            props = (ipc.get("properties") or {}) if isinstance(ipc, dict) else {}
            for key, join in (
                ("subnet", f"{TYPES['subnets']}/join/action"),
                ("publicIPAddress", f"{TYPES['publicIPAddresses']}/join/action"),
            ):
                linked = ref_id(props.get(key))
                if not linked:
                    continue
                if not self.role.allows(join, linked):
                    raise linked_refusal(write, rid, join, linked)
                self.granted.add(join)
