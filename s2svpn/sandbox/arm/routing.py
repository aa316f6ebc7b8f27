"""Request routing of the ARM sandbox: authentication, api-version, paths to resource handlers.

Paths follow ARM's resource ids (``/subscriptions/<sub>/resourceGroups/<rg>/providers/
Microsoft.Network/<type>/<name>[/<child>...]``); lists page with ``nextLink`` as ARM does.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from s2svpn.sandbox.arm.authz import Authorization
from s2svpn.sandbox.arm.store import API_VERSION, SEGMENTS, TYPES, Answer, Record, id_key
from s2svpn.sandbox.armstate import ArmError, bad


class Routing(Authorization):
    calls: list[tuple[str, str]]
    page_size: int

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Answer:
        """Answer one request: ``(status, headers, json body or None)``. Raises nothing."""
        split = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        with self._lock:
            self.calls.append((method, split.path))
            try:
                auth = headers.get("authorization", "")
                if not auth.lower().startswith("bearer ") or not auth[7:].strip():
                    raise ArmError(
                        401,
                        "AuthenticationFailed",
                        "Authentication failed. The 'Authorization' header is missing or is not a Bearer token.",
                    )
                if "api-version" not in query:
                    raise bad(
                        "MissingApiVersionParameter",
                        "The api-version query parameter (?api-version=) is required for all requests.",
                    )
                self._tick()
                payload = None
                if body:
                    try:
                        payload = json.loads(body)
                    except ValueError:
                        raise bad(
                            "InvalidRequestFormat", "Cannot parse the request body as JSON."
                        ) from None
                return self._route(method, split.path, query, payload)
            except ArmError as err:
                return err.status, dict(err.headers), err.body()

    def _route(self, method: str, path: str, query: dict[str, str], payload: Any) -> Answer:
        parts = [p for p in path.split("/") if p]
        low = [p.lower() for p in parts]
        if len(parts) < 2 or low[0] != "subscriptions":
            raise ArmError(404, "InvalidResourceType", f"No route for {path}.")
        if low[1] != self.subscription_id:
            raise ArmError(
                404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found."
            )
        self._authorize(method, path, parts)
        if low[2:3] == ["resourcegroups"] and len(parts) <= 5:
            if len(parts) == 3:
                if method != "GET":
                    raise self._method_not_allowed(method)
                return self._list_groups(query, path)
            if len(parts) == 4:
                return self._resource_group(method, parts[3], payload)
            if low[4] == "resources" and method == "GET":
                return self._list_rg_resources(parts[3])
        if len(parts) >= 4 and low[2] == "providers" and low[3] == "microsoft.network":
            if low[4:] == ["virtualnetworks"] and method == "GET":
                vnets = self._readable(
                    self._of("virtualNetworks"), f"{TYPES['virtualNetworks']}/read"
                )
                return self._list(vnets, query, path)
            if (
                len(parts) == 8
                and low[4] == "locations"
                and low[6] in ("operations", "operationresults")
            ):
                return self._operation(low[6], parts[7])
        if (
            len(parts) >= 7
            and low[2] == "resourcegroups"
            and low[4] == "providers"
            and low[5] == "microsoft.network"
        ):
            rg = parts[3]
            self._need_rg(rg)
            if method in ("PUT", "POST"):
                self._refuse_write_while_rg_deleting(rg)
            seg = SEGMENTS.get(low[6])
            if seg is None:
                raise ArmError(
                    404,
                    "InvalidResourceType",
                    f"The resource type '{parts[6]}' could not be found in the namespace 'Microsoft.Network' "
                    f"for api version '{query.get('api-version')}'.",
                )
            if len(parts) == 7:
                if method != "GET":
                    raise self._method_not_allowed(method)
                recs = [
                    r
                    for r in self._of(seg)
                    if f"/resourcegroups/{rg.lower()}/" in id_key(r["body"]["id"])
                ]
                return self._list(recs, query, path)
            name = parts[7]
            rest = low[8:]
            if seg == "virtualNetworks" and rest[:1] == ["subnets"] and len(rest) == 2:
                return self._subnet(method, rg, name, parts[9], payload)
            if seg == "virtualNetworks" and not rest and method == "PUT":
                return self._put_vnet(rg, name, payload)
            if seg == "virtualNetworkGateways" and len(rest) == 1:
                return self._gateway_sub(method, rg, name, rest[0], query, path)
            if seg == "connections" and rest == ["sharedkey"]:
                return self._shared_key(method, rg, name, payload)
            if not rest:
                if method == "GET":
                    return self._read(rg, seg, name)
                if method == "PUT":
                    return self._put(rg, seg, name, payload)
                if method == "DELETE":
                    return self._delete(rg, seg, name)
                raise self._method_not_allowed(method)
        raise ArmError(404, "InvalidResourceType", f"The sandbox has no resource at {path}.")

    def _list(self, recs: list[Record], query: dict[str, str], path: str) -> Answer:
        items = sorted((self._render(r) for r in recs), key=lambda b: b["id"].lower())
        skip = int(query.get("$skiptoken", "0") or 0)
        page = items[skip : skip + self.page_size]
        next_link = None
        if skip + self.page_size < len(items):
            next_link = f"{self.base_url}{path}?api-version={API_VERSION}&$skiptoken={skip + self.page_size}"
        return 200, {}, {"value": page, "nextLink": next_link}

    def _read(self, rg: str, seg: str, name: str) -> Answer:
        rec = self._get(self._rid(rg, seg, name))
        if rec is None:
            raise self._not_found(seg, rg, name)
        return 200, {}, self._render(rec)
