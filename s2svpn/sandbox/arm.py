"""A stand-in for Azure Resource Manager (Microsoft.Network, api-version 2026-03-01).

Good enough that the real ``azure-mgmt-network`` SDK, with its long-running-operation pollers,
cannot tell it from Azure: HTTPS on loopback with a generated CA (``s2svpn.sandbox.tls``), bearer
tokens required, ARM ids and error envelopes, ``Azure-AsyncOperation`` / ``Location`` pollers,
``nextLink`` paging, 409 ``AnotherOperationInProgress`` while a gateway updates, and Azure-like
validation (``s2svpn.sandbox.armstate``). Wire contract: ``shared/reference/azure.md`` section 3
and https://learn.microsoft.com/rest/api/azure/#async-operations.

Operations take time without costing threads: each write stores its start time and duration, and
every request first "ticks" the clock, finishing whatever is due. State is a JSON file under the
state directory (written atomically), so a restarted sandbox resumes where it stopped.

Connection status, BGP peers and routes come from the shared :class:`~s2svpn.sandbox.world.World`
when one is given (the ARM sandbox publishes its half as an ``AzureEnd``).
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import json
import os
import random
import secrets
import socket
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from s2svpn.intent import IpsecPolicy
from s2svpn.sandbox import armstate as rules
from s2svpn.sandbox.armstate import ArmError, bad
from s2svpn.sandbox.tls import make_ca
from s2svpn.sandbox.world import AzureEnd, TunnelView, World

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


@dataclass
class SandboxTiming:
    """How long operations take (seconds). Mutable at run time."""

    gateway_seconds: float = 60.0
    other_seconds: float = 1.5


PROFILES = {
    "real": SandboxTiming(gateway_seconds=1800.0, other_seconds=20.0),
    "default": SandboxTiming(gateway_seconds=60.0, other_seconds=1.5),
    "fast": SandboxTiming(gateway_seconds=0.0, other_seconds=0.0),
}


@dataclass
class SandboxFaults:
    """Fault injection. ``rate_*`` are probabilities 0..1 per request; ``retry_after`` is the
    ``Retry-After`` header (seconds) sent with injected 429s, 0 = no header."""

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_drop: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 0.0
    retry_after: int = 0
    seed: int | None = None


def _now_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def _id_key(resource_id: str) -> str:
    return resource_id.rstrip("/").lower()


def _ref_id(value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return ""


class ArmSandbox:
    """The ARM stand-in. ``start()`` serves HTTPS on ``host:port`` (0 = any free port)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        profile: str | SandboxTiming = "default",
        world: World | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(profile, str):
            if profile not in PROFILES:
                raise ValueError(
                    f"unknown sandbox profile {profile!r}: use one of {', '.join(PROFILES)}"
                )
            base = PROFILES[profile]
            self.timing = SandboxTiming(base.gateway_seconds, base.other_seconds)
        else:
            self.timing = profile
        self.faults = SandboxFaults()
        self.world = world
        self.host = host
        self.port = port
        self.subscription_id = SUBSCRIPTION_ID
        self.page_size = 2
        self.calls: list[tuple[str, str]] = []
        self.ca_file, self._cert_file, self._key_file = make_ca(self.state_dir)
        self._lock = threading.RLock()
        self._rng = random.Random()
        self._state = self._load()
        self._world_keys: set[str] = set()
        self._connected_since: dict[str, float] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.clock = time.time

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def start(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self._cert_file, self._key_file)
        server = _Server((self.host, self.port), _Handler)
        server.sandbox = self
        server.ssl_context = context
        self._server = server
        self.port = server.server_address[1]
        self._rng.seed(self.faults.seed)
        self._thread = threading.Thread(
            target=server.serve_forever, name="arm-sandbox", daemon=True
        )
        self._thread.start()
        with self._lock:
            self._tick()
            self._sync_world()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_all()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> ArmSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test helpers

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def resources(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Current resources (ARM JSON), optionally only one type: "virtualNetworkGateways",
        "subnets", "publicIPAddresses", "localNetworkGateways", "connections", "virtualNetworks"."""
        with self._lock:
            self._tick()
            out = []
            for rec in self._state["resources"].values():
                if (
                    kind
                    and rec["seg"].lower() != kind.lower()
                    and rec["body"]["type"].lower() != kind.lower()
                ):
                    continue
                out.append(self._render(rec))
            return out

    def seed_resource_group(self, rg: str, location: str = "westeurope") -> None:
        with self._lock:
            self._state["resource_groups"].setdefault(
                rg.lower(), {"name": rg, "location": location}
            )
            self._save()

    def seed_vnet(
        self,
        rg: str,
        name: str,
        location: str,
        prefixes: list[str] | tuple[str, ...],
        subnets: dict[str, str] | list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Create the customer's existing VNet (and its subnets), already ``Succeeded``."""
        with self._lock:
            self.seed_resource_group(rg, location)
            vnet_id = self._rid(rg, "virtualNetworks", name)
            body = {
                "id": vnet_id,
                "name": name,
                "type": TYPES["virtualNetworks"],
                "location": rules.normalise_location(location),
                "etag": _etag(),
                "properties": {
                    "addressSpace": {"addressPrefixes": list(prefixes)},
                    "dhcpOptions": {"dnsServers": []},
                    "provisioningState": "Succeeded",
                    "resourceGuid": str(uuid.uuid4()),
                    "virtualNetworkPeerings": [],
                },
            }
            self._state["resources"][_id_key(vnet_id)] = {"seg": "virtualNetworks", "body": body}
            items = subnets.items() if isinstance(subnets, dict) else (subnets or [])
            for sub_name, prefix in items:
                sub_id = f"{vnet_id}/subnets/{sub_name}"
                self._state["resources"][_id_key(sub_id)] = {
                    "seg": "subnets",
                    "body": {
                        "id": sub_id,
                        "name": sub_name,
                        "type": TYPES["subnets"],
                        "etag": _etag(),
                        "properties": {"addressPrefix": prefix, "provisioningState": "Succeeded"},
                    },
                }
            self._save()
            return self._render(self._state["resources"][_id_key(vnet_id)])

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

    def _get(self, resource_id: str) -> dict[str, Any] | None:
        return self._state["resources"].get(_id_key(resource_id))

    def _of(self, seg: str) -> list[dict[str, Any]]:
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

    # ------------------------------------------------------------------ time

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

    def _forget(self, key: str, rec: dict[str, Any]) -> None:
        self._state["resources"].pop(key, None)
        if rec["seg"] == "virtualNetworkGateways":
            gw_key = key
            for other in self._state["resources"].values():
                props = other["body"].get("properties", {})
                if other["seg"] == "publicIPAddresses":
                    ipc = _ref_id(props.get("ipConfiguration"))
                    if ipc and _id_key(ipc).startswith(gw_key + "/"):
                        props.pop("ipConfiguration", None)
                if other["seg"] == "subnets":
                    refs = [
                        r
                        for r in props.get("ipConfigurations", [])
                        if not _id_key(_ref_id(r)).startswith(gw_key + "/")
                    ]
                    if refs:
                        props["ipConfigurations"] = refs
                    else:
                        props.pop("ipConfigurations", None)
        if rec["seg"] == "virtualNetworks":
            for sub_key in [k for k in self._state["resources"] if k.startswith(key + "/subnets/")]:
                self._state["resources"].pop(sub_key, None)

    def _duration(self, seg: str) -> float:
        return float(
            self.timing.gateway_seconds
            if seg == "virtualNetworkGateways"
            else self.timing.other_seconds
        )

    def _new_op(
        self, kind: str, resource_id: str, action: str, duration: float, location: str, **extra: Any
    ) -> dict[str, Any]:
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

    def _op_urls(self, op: dict[str, Any]) -> tuple[str, str]:
        base = f"{self.base_url}/subscriptions/{self.subscription_id}/providers/Microsoft.Network/locations/{op['location']}"
        return (
            f"{base}/operations/{op['id']}?api-version={API_VERSION}",
            f"{base}/operationResults/{op['id']}?api-version={API_VERSION}",
        )

    def _op_done(self, op: dict[str, Any]) -> bool:
        return self.clock() >= op["start"] + op["duration"]

    # ------------------------------------------------------------------ rendering

    def _render(self, rec: dict[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(rec["body"])
        seg = rec["seg"]
        if seg == "virtualNetworks":
            prefix = _id_key(body["id"]) + "/subnets/"
            body["properties"]["subnets"] = [
                copy.deepcopy(r["body"])
                for k, r in self._state["resources"].items()
                if k.startswith(prefix)
            ]
        elif seg == "connections":
            self._render_connection(rec, body)
        return body

    def _render_connection(self, rec: dict[str, Any], body: dict[str, Any]) -> None:
        props = body["properties"]
        view = self._view_for(body["id"])
        status = "NotConnected"
        if view is not None and view.ike_up and view.child_up:
            status = "Connected"
        elif view is not None and view.ike_up:
            status = "Connecting"
        now = self.clock()
        if status == "Connected":
            since = self._connected_since.setdefault(body["id"], now)
        else:
            self._connected_since.pop(body["id"], None)
            since = now
        elapsed = max(0.0, now - since)
        props["connectionStatus"] = status
        props["ingressBytesTransferred"] = int(elapsed * 1800) + (
            64 if status == "Connected" else 0
        )
        props["egressBytesTransferred"] = int(elapsed * 1300) + (64 if status == "Connected" else 0)
        props.pop("sharedKey", None)

    # ------------------------------------------------------------------ world

    def _views(self) -> list[TunnelView]:
        if self.world is None:
            return []
        try:
            return list(self.world.view())
        except Exception:  # the evaluation is someone else's code; a broken world = no tunnel
            return []

    def _view_for(self, connection_id: str) -> TunnelView | None:
        for view in self._views():
            if _id_key(view.azure_key) == _id_key(connection_id):
                return view
        return None

    def _azure_end(self, rec: dict[str, Any]) -> AzureEnd | None:
        props = rec["body"]["properties"]
        gw = self._get(_ref_id(props.get("virtualNetworkGateway1")))
        lng = self._get(_ref_id(props.get("localNetworkGateway2")))
        if gw is None or lng is None:
            return None
        gprops, lprops = gw["body"]["properties"], lng["body"]["properties"]
        pips = []
        for ipc in gprops.get("ipConfigurations", []):
            pip = self._get(_ref_id(ipc.get("properties", {}).get("publicIPAddress")))
            if pip and pip["body"]["properties"].get("ipAddress"):
                pips.append(pip["body"]["properties"]["ipAddress"])
        lbgp = lprops.get("bgpSettings") or {}
        custom = [
            c.get("customBgpIpAddress", "") for c in props.get("gatewayCustomBgpIpAddresses") or []
        ]
        if custom and rules.is_apipa(lbgp.get("bgpPeeringAddress", "")):
            bgp_ips = tuple(c for c in custom if c)
        else:
            bgp_ips = tuple(
                ip
                for p in (gprops.get("bgpSettings") or {}).get("bgpPeeringAddresses", [])
                for ip in p.get("defaultBgpIpAddresses", [])
            )
        policies = props.get("ipsecPolicies") or []
        policy = None
        if policies:
            p = policies[0]
            policy = IpsecPolicy(
                ike_encryption=p["ikeEncryption"],
                ike_integrity=p["ikeIntegrity"],
                dh_group=p["dhGroup"],
                ipsec_encryption=p["ipsecEncryption"],
                ipsec_integrity=p["ipsecIntegrity"],
                pfs_group=p["pfsGroup"],
                sa_lifetime_seconds=p["saLifeTimeSeconds"],
                sa_data_size_kilobytes=p["saDataSizeKilobytes"],
            )
        fqdn = lprops.get("fqdn", "") if not lprops.get("gatewayIpAddress") else ""
        lng_ip = lprops.get("gatewayIpAddress", "")
        if fqdn and self.world is not None:
            lng_ip = self.world.dns.get(fqdn, "")
        vnet_prefixes: list[str] = []
        for ipc in gprops.get("ipConfigurations", [])[:1]:
            sub_id = _ref_id(ipc.get("properties", {}).get("subnet"))
            vnet = self._get(sub_id.rsplit("/subnets/", 1)[0]) if sub_id else None
            if vnet:
                vnet_prefixes = list(vnet["body"]["properties"]["addressSpace"]["addressPrefixes"])
        return AzureEnd(
            connection_id=rec["body"]["id"],
            gateway_public_ips=tuple(pips),
            azure_asn=int((gprops.get("bgpSettings") or {}).get("asn", 65515)),
            azure_bgp_ips=bgp_ips,
            lng_fqdn=fqdn,
            lng_ip=lng_ip,
            lng_bgp_ip=lbgp.get("bgpPeeringAddress", ""),
            lng_asn=int(lbgp.get("asn", 0) or 0),
            connection_mode=props.get("connectionMode", "Default"),
            psk=rec.get("psk", ""),
            policy=policy,
            enable_bgp=bool(props.get("enableBgp")) and bool(gprops.get("enableBgp")),
            advertised_prefixes=tuple(vnet_prefixes),
            gateway_ready=gprops.get("provisioningState") == "Succeeded" and not gw.get("pending"),
            reset_counter=int(gw.get("reset_counter", 0)),
        )

    def _sync_world(self) -> None:
        if self.world is None:
            return
        current: dict[str, AzureEnd] = {}
        for rec in self._of("connections"):
            if (rec.get("pending") or {}).get("action") == "delete":
                continue
            end = self._azure_end(rec)
            if end is not None:
                current[rec["body"]["id"]] = end
        for key in self._world_keys - current.keys():
            self.world.set_azure(key, None)
        for key, end in current.items():
            self.world.set_azure(key, end)
        self._world_keys = set(current)

    # ------------------------------------------------------------------ request entry point

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
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

    def draw_fault(self) -> str:
        f = self.faults
        with self._lock:
            roll = self._rng.random()
            slow = self._rng.random() < f.rate_slow
        edge = 0.0
        for name, rate in (("drop", f.rate_drop), ("429", f.rate_429), ("500", f.rate_500)):
            edge += rate
            if roll < edge:
                return name
        return "slow" if slow else ""

    # ------------------------------------------------------------------ routing

    def _route(
        self, method: str, path: str, query: dict[str, str], payload: Any
    ) -> tuple[int, dict[str, str], Any]:
        parts = [p for p in path.split("/") if p]
        low = [p.lower() for p in parts]
        if len(parts) < 2 or low[0] != "subscriptions":
            raise ArmError(404, "InvalidResourceType", f"No route for {path}.")
        if low[1] != self.subscription_id:
            raise ArmError(
                404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found."
            )
        if len(parts) >= 4 and low[2] == "providers" and low[3] == "microsoft.network":
            if low[4:] == ["virtualnetworks"] and method == "GET":
                return self._list(self._of("virtualNetworks"), query, path)
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
                    if f"/resourcegroups/{rg.lower()}/" in _id_key(r["body"]["id"])
                ]
                return self._list(recs, query, path)
            name = parts[7]
            rest = low[8:]
            if seg == "virtualNetworks" and rest[:1] == ["subnets"] and len(rest) == 2:
                return self._subnet(method, rg, name, parts[9], payload)
            if seg == "virtualNetworks" and not rest:
                if method != "GET":
                    raise self._method_not_allowed(method)
                return self._read(rg, seg, name)
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

    def _method_not_allowed(self, method: str) -> ArmError:
        return ArmError(
            405,
            "HttpMethodNotAllowed",
            f"The requested resource does not support http method '{method}'.",
        )

    def _list(
        self, recs: list[dict[str, Any]], query: dict[str, str], path: str
    ) -> tuple[int, dict[str, str], Any]:
        items = sorted((self._render(r) for r in recs), key=lambda b: b["id"].lower())
        skip = int(query.get("$skiptoken", "0") or 0)
        page = items[skip : skip + self.page_size]
        next_link = None
        if skip + self.page_size < len(items):
            next_link = f"{self.base_url}{path}?api-version={API_VERSION}&$skiptoken={skip + self.page_size}"
        return 200, {}, {"value": page, "nextLink": next_link}

    def _read(self, rg: str, seg: str, name: str) -> tuple[int, dict[str, str], Any]:
        rec = self._get(self._rid(rg, seg, name))
        if rec is None:
            raise self._not_found(seg, rg, name)
        return 200, {}, self._render(rec)

    def _operation(self, kind: str, op_id: str) -> tuple[int, dict[str, str], Any]:
        op = self._state["operations"].get(op_id)
        if op is None:
            raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' could not be found.")
        done = self._op_done(op)
        if kind == "operations":
            body: dict[str, Any] = {
                "name": op_id,
                "status": "Succeeded" if done else "InProgress",
                "startTime": _now_iso(op["start"]),
            }
            if done:
                body["endTime"] = _now_iso(op["start"] + op["duration"])
            return 200, {}, body
        if not done:
            _, location = self._op_urls(op)
            return 202, {"Location": location}, None
        if op["kind"] == "delete":
            return 204, {}, None
        if op["kind"] == "post":
            return 200, {}, self._action_result(op)
        rec = self._get(op["resource"])
        return 200, {}, self._render(rec) if rec else None

    # ------------------------------------------------------------------ writes

    def _put(self, rg: str, seg: str, name: str, payload: Any) -> tuple[int, dict[str, str], Any]:
        if not isinstance(payload, dict):
            raise bad(
                "InvalidRequestFormat",
                f"The request body for {LABEL[seg]} '{name}' must be a JSON object.",
            )
        rid = self._rid(rg, seg, name)
        existing = self._get(rid)
        if existing and (existing.get("pending") or {}).get("action") == "delete":
            raise ArmError(
                409,
                "AnotherOperationInProgress",
                f"Operation on {LABEL[seg]} '{name}' cannot be performed because it is being deleted. "
                "Wait until the deletion completes, then retry.",
            )
        body = self._validate(seg, rg, name, rid, payload, existing)
        return self._store_put(seg, rid, body, existing)

    def _store_put(
        self, seg: str, rid: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> tuple[int, dict[str, str], Any]:
        body["id"] = rid
        body["type"] = TYPES[seg]
        body["etag"] = _etag()
        props = body.setdefault("properties", {})
        props["provisioningState"] = "Updating"
        if existing:
            props["resourceGuid"] = existing["body"].get("properties", {}).get(
                "resourceGuid"
            ) or str(uuid.uuid4())
        elif seg != "subnets":
            props["resourceGuid"] = str(uuid.uuid4())
        rec = existing or {"seg": seg}
        psk = body.pop("_psk", None)
        if psk is not None:
            rec["psk"] = psk
        rec["body"] = body
        duration = self._duration(seg)
        op = self._new_op(
            "put", rid, "update" if existing else "create", duration, body.get("location", "")
        )
        rec["pending"] = {
            "action": op["action"],
            "start": op["start"],
            "duration": duration,
            "op": op["id"],
        }
        self._state["resources"][_id_key(rid)] = rec
        self._after_put(rec)
        self._save()
        self._sync_world()
        status_url, _ = self._op_urls(op)
        return (
            (201 if existing is None else 200),
            {"Azure-AsyncOperation": status_url},
            self._render(rec),
        )

    def _after_put(self, rec: dict[str, Any]) -> None:
        seg, props = rec["seg"], rec["body"]["properties"]
        if seg == "publicIPAddresses" and props.get("publicIPAllocationMethod") == "Static":
            self._allocate_ip(rec)
        if seg == "virtualNetworkGateways":
            gw_id = rec["body"]["id"]
            for ipc in props.get("ipConfigurations", []):
                ipc_id = f"{gw_id}/ipConfigurations/{ipc['name']}"
                ipc["id"] = ipc_id
                ipc["etag"] = rec["body"]["etag"]
                ipc.setdefault("properties", {})["provisioningState"] = "Updating"
                pip = self._get(_ref_id(ipc["properties"].get("publicIPAddress")))
                if pip:
                    pip["body"]["properties"]["ipConfiguration"] = {"id": ipc_id}
                sub = self._get(_ref_id(ipc["properties"].get("subnet")))
                if sub:
                    refs = sub["body"]["properties"].setdefault("ipConfigurations", [])
                    if all(_id_key(_ref_id(r)) != _id_key(ipc_id) for r in refs):
                        refs.append({"id": ipc_id})

    def _allocate_ip(self, rec: dict[str, Any]) -> None:
        props = rec["body"]["properties"]
        if props.get("ipAddress") or props.get("publicIPAddressVersion", "IPv4") != "IPv4":
            return
        n = self._state["next_ip"]
        if n > 254:
            raise ArmError(
                409,
                "PublicIPCountLimitReached",
                "Cannot create more than 245 public IP addresses in this sandbox subscription. Delete unused public IPs.",
            )
        self._state["next_ip"] = n + 1
        props["ipAddress"] = f"198.51.100.{n}"

    def _finish_gateway(self, rec: dict[str, Any]) -> None:
        props = rec["body"]["properties"]
        ipcs = props.get("ipConfigurations", [])
        sub_id = _ref_id(ipcs[0].get("properties", {}).get("subnet")) if ipcs else ""
        sub = self._get(sub_id) if sub_id else None
        prefix = sub["body"]["properties"]["addressPrefix"] if sub else ""
        defaults = rules.default_bgp_ips(prefix, len(ipcs)) if prefix else []
        bgp = props.setdefault("bgpSettings", {"asn": 65515, "peerWeight": 0})
        bgp.setdefault("asn", 65515)
        bgp.setdefault("peerWeight", 0)
        wanted_custom = {
            _id_key(p.get("ipconfigurationId", "")): p.get("customBgpIpAddresses", [])
            for p in bgp.get("bgpPeeringAddresses", [])
        }
        peering = []
        for i, ipc in enumerate(ipcs):
            ipc["properties"]["provisioningState"] = "Succeeded"
            ip = defaults[i] if i < len(defaults) else ""
            ipc["properties"]["privateIPAddress"] = ip
            pip = self._get(_ref_id(ipc["properties"].get("publicIPAddress")))
            if pip is not None and not pip["body"]["properties"].get("ipAddress"):
                self._allocate_ip(pip)
            tunnel = (
                [pip["body"]["properties"]["ipAddress"]]
                if pip and pip["body"]["properties"].get("ipAddress")
                else []
            )
            peering.append(
                {
                    "ipconfigurationId": ipc["id"],
                    "defaultBgpIpAddresses": [ip] if ip else [],
                    "customBgpIpAddresses": list(wanted_custom.get(_id_key(ipc["id"]), [])),
                    "tunnelIpAddresses": tunnel,
                }
            )
        bgp["bgpPeeringAddresses"] = peering
        bgp["bgpPeeringAddress"] = ",".join(
            p["defaultBgpIpAddresses"][0] for p in peering if p["defaultBgpIpAddresses"]
        )

    def _delete(self, rg: str, seg: str, name: str) -> tuple[int, dict[str, str], Any]:
        rid = self._rid(rg, seg, name)
        rec = self._get(rid)
        if rec is None:
            return 204, {}, None
        pending = rec.get("pending") or {}
        if pending.get("action") == "delete":
            op = self._state["operations"].get(pending.get("op", ""))
            if op:
                _, location = self._op_urls(op)
                return 202, {"Location": location}, None
        self._refuse_while_gateway_busy(rec)
        self._refuse_in_use(rec)
        duration = self._duration(seg)
        op = self._new_op("delete", rid, "delete", duration, rec["body"].get("location", ""))
        rec["pending"] = {
            "action": "delete",
            "start": op["start"],
            "duration": duration,
            "op": op["id"],
        }
        rec["body"]["properties"]["provisioningState"] = "Deleting"
        rec["body"]["etag"] = _etag()
        self._save()
        self._sync_world()
        _, location = self._op_urls(op)
        return 202, {"Location": location}, None

    def _busy_gateway(self, gw_id: str) -> dict[str, Any] | None:
        gw = self._get(gw_id) if gw_id else None
        if gw is not None and gw.get("pending"):
            return gw
        return None

    def _refuse_while_gateway_busy(self, rec: dict[str, Any]) -> None:
        props = rec["body"]["properties"]
        if rec["seg"] == "virtualNetworkGateways":
            gw = rec if rec.get("pending") else None
        elif rec["seg"] == "connections":
            gw = self._busy_gateway(_ref_id(props.get("virtualNetworkGateway1")))
        else:
            gw = None
        if gw is not None:
            op_id = (gw.get("pending") or {}).get("op", "")
            raise ArmError(
                409,
                "AnotherOperationInProgress",
                f"Another operation on this or dependent resource is in progress. To retrieve status of the "
                f"operation use uri: {self._op_urls(self._state['operations'][op_id])[0] if op_id in self._state['operations'] else ''}"
                f". Virtual network gateway '{gw['body']['name']}' is still being updated; retry when it is Succeeded.",
            )

    def _refuse_in_use(self, rec: dict[str, Any]) -> None:
        seg, rid, name = rec["seg"], _id_key(rec["body"]["id"]), rec["body"]["name"]
        live = [r for r in self._state["resources"].values() if r is not rec]
        if seg == "subnets" and rec["body"]["properties"].get("ipConfigurations"):
            users = ", ".join(_ref_id(r) for r in rec["body"]["properties"]["ipConfigurations"])
            raise bad(
                "InUseSubnetCannotBeDeleted",
                f"Subnet {name} is in use by {users} and cannot be deleted. In order to delete the subnet, "
                "delete all the resources within the subnet.",
            )
        if seg == "publicIPAddresses" and rec["body"]["properties"].get("ipConfiguration"):
            user = _ref_id(rec["body"]["properties"]["ipConfiguration"])
            raise bad(
                "PublicIPAddressCannotBeDeleted",
                f"Public IP address {rid} can not be deleted since it is still allocated to resource {user}. "
                "Delete the virtual network gateway first.",
            )
        referrers = {
            "virtualNetworkGateways": ("virtualNetworkGateway1", "Virtual network gateway"),
            "localNetworkGateways": ("localNetworkGateway2", "Local network gateway"),
        }
        if seg in referrers:
            ref, label = referrers[seg]
            users = [
                r["body"]["id"]
                for r in live
                if r["seg"] == "connections"
                and _id_key(_ref_id(r["body"]["properties"].get(ref))) == rid
            ]
            if users:
                raise bad(
                    f"InUse{label.title().replace(' ', '')}CannotBeDeleted",
                    f"{label} {name} is used by connection(s) {', '.join(users)} and cannot be "
                    "deleted. Delete the connections first.",
                )

    # ------------------------------------------------------------------ subnets

    def _subnet(
        self, method: str, rg: str, vnet: str, name: str, payload: Any
    ) -> tuple[int, dict[str, str], Any]:
        vnet_id = self._rid(rg, "virtualNetworks", vnet)
        vnet_rec = self._get(vnet_id)
        if vnet_rec is None:
            raise ArmError(
                404,
                "ParentResourceNotFound",
                f"Failed to perform '{'read' if method == 'GET' else 'write'}' on resource(s) of type "
                f"'virtualNetworks/subnets', because the parent resource '{vnet_id}' could not be found.",
            )
        rid = f"{vnet_rec['body']['id']}/subnets/{name}"
        rec = self._get(rid)
        if method == "GET":
            if rec is None:
                raise ArmError(
                    404,
                    "NotFound",
                    f"Resource {rid} not found.",
                )
            return 200, {}, self._render(rec)
        if method == "DELETE":
            if rec is None:
                return 204, {}, None
            return self._delete_subnet(rec)
        if method != "PUT":
            raise self._method_not_allowed(method)
        if not isinstance(payload, dict):
            raise bad(
                "InvalidRequestFormat",
                f"The request body for subnet '{name}' must be a JSON object.",
            )
        props = payload.get("properties") or {}
        prefix = props.get("addressPrefix") or (props.get("addressPrefixes") or [None])[0]
        if prefix is None:
            raise bad(
                "InvalidRequestFormat", f"Subnet {name}: properties.addressPrefix is required."
            )
        net = rules.parse_cidr(prefix, f"subnet {name}")
        if net.prefixlen > 29:
            raise bad(
                "InvalidSubnetSize",
                f"Subnet {name} with prefix {prefix} is too small: Azure subnets must be /29 or larger.",
            )
        vnet_nets = [
            ipaddress.ip_network(p)
            for p in vnet_rec["body"]["properties"]["addressSpace"]["addressPrefixes"]
        ]
        if not any(net.subnet_of(v) for v in vnet_nets if v.version == 4):
            raise bad(
                "NetcfgSubnetRangeOutsideVnet",
                f"Subnet '{name}' is not valid because its IP address range is outside the IP address range "
                f"of virtual network '{vnet}' ({', '.join(map(str, vnet_nets))}). Pick a prefix inside it.",
            )
        prefix_key = _id_key(vnet_rec["body"]["id"]) + "/subnets/"
        for key, other in self._state["resources"].items():
            if key.startswith(prefix_key) and key != _id_key(rid):
                other_net = ipaddress.ip_network(other["body"]["properties"]["addressPrefix"])
                if net.overlaps(other_net):
                    raise bad(
                        "NetcfgSubnetRangesOverlap",
                        f"Subnet '{name}' is not valid in virtual network '{vnet}' because its IP address range "
                        f"overlaps with that of an existing subnet '{other['body']['name']}' ({other_net}). "
                        "Choose a free range.",
                    )
        if (
            rec
            and rec["body"]["properties"].get("ipConfigurations")
            and rec["body"]["properties"]["addressPrefix"] != prefix
        ):
            raise bad(
                "InUseSubnetCannotBeUpdated",
                f"Subnet {name} is in use by a virtual network gateway and its address prefix cannot be changed.",
            )
        if rec and (rec.get("pending") or {}).get("action") == "delete":
            raise ArmError(
                409,
                "AnotherOperationInProgress",
                f"Subnet {name} is being deleted; retry when it is gone.",
            )
        new_props = {
            k: v for k, v in props.items() if k not in ("provisioningState", "ipConfigurations")
        }
        new_props["addressPrefix"] = prefix
        new_props.pop("addressPrefixes", None)
        if rec and rec["body"]["properties"].get("ipConfigurations"):
            new_props["ipConfigurations"] = rec["body"]["properties"]["ipConfigurations"]
        body = {"name": name, "properties": new_props}
        return self._store_put("subnets", rid, body, rec)

    def _delete_subnet(self, rec: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        pending = rec.get("pending") or {}
        if pending.get("action") == "delete":
            op = self._state["operations"].get(pending.get("op", ""))
            if op:
                return 202, {"Location": self._op_urls(op)[1]}, None
        self._refuse_in_use(rec)
        duration = self._duration("subnets")
        rid = rec["body"]["id"]
        vnet = self._get(rid.rsplit("/subnets/", 1)[0])
        op = self._new_op(
            "delete", rid, "delete", duration, vnet["body"]["location"] if vnet else ""
        )
        rec["pending"] = {
            "action": "delete",
            "start": op["start"],
            "duration": duration,
            "op": op["id"],
        }
        rec["body"]["properties"]["provisioningState"] = "Deleting"
        self._save()
        return 202, {"Location": self._op_urls(op)[1]}, None

    # ------------------------------------------------------------------ validation per type

    def _validate(
        self,
        seg: str,
        rg: str,
        name: str,
        rid: str,
        payload: dict[str, Any],
        existing: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body = copy.deepcopy(payload)
        for ro in ("id", "etag", "type"):
            body.pop(ro, None)
        body["name"] = name
        body["location"] = rules.normalise_location(body.get("location"))
        if (
            existing
            and existing["body"].get("location")
            and existing["body"]["location"] != body["location"]
        ):
            raise bad(
                "InvalidResourceLocation",
                f"The resource '{name}' already exists in location '{existing['body']['location']}' in resource "
                f"group '{rg}'. A resource with the same name cannot be created in location '{body['location']}'. "
                "Please select a new resource name.",
            )
        props = body.setdefault("properties", {})
        for ro in ("provisioningState", "resourceGuid"):
            props.pop(ro, None)
        check = {
            "publicIPAddresses": self._check_pip,
            "virtualNetworkGateways": self._check_gateway,
            "localNetworkGateways": self._check_lng,
            "connections": self._check_connection,
        }[seg]
        check(name, rid, body, existing)
        return body

    def _check_pip(
        self, name: str, rid: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> None:
        props = body["properties"]
        sku = body.setdefault("sku", {"name": "Basic"})
        sku.setdefault("name", "Basic")
        sku.setdefault("tier", "Regional")
        if sku["name"] not in ("Basic", "Standard", "StandardV2"):
            raise bad(
                "InvalidPublicIPSku",
                f"Public IP {name}: sku {sku['name']!r} is not valid (Basic, Standard, StandardV2).",
            )
        if sku["tier"] not in ("Regional", "Global"):
            raise bad(
                "InvalidPublicIPSkuTier",
                f"Public IP {name}: sku tier {sku['tier']!r} is not valid (Regional, Global).",
            )
        method = props.setdefault(
            "publicIPAllocationMethod", "Dynamic" if sku["name"] == "Basic" else "Static"
        )
        if method not in ("Static", "Dynamic"):
            raise bad(
                "InvalidPublicIPAllocationMethod",
                f"Public IP {name}: allocation method must be Static or Dynamic.",
            )
        if sku["name"] != "Basic" and method != "Static":
            raise bad(
                "StandardSkuPublicIPAddressesMustBeStatic",
                f"Standard sku publicIp /{name} must have AllocationMethod set to Static.",
            )
        props.setdefault("publicIPAddressVersion", "IPv4")
        if props["publicIPAddressVersion"] not in ("IPv4", "IPv6"):
            raise bad(
                "InvalidPublicIPAddressVersion", f"Public IP {name}: version must be IPv4 or IPv6."
            )
        props.setdefault("idleTimeoutInMinutes", 4)
        idle = props["idleTimeoutInMinutes"]
        if not isinstance(idle, int) or not 4 <= idle <= 30:
            raise bad(
                "PublicIPIdleTimeoutIsOutOfRange",
                f"Public IP {name}: idleTimeoutInMinutes must be 4 to 30.",
            )
        zones = body.get("zones") or []
        if zones and sku["name"] == "Basic":
            raise bad(
                "ZonesNotAllowedOnBasicSkuPublicIP",
                f"Public IP {name}: Basic SKU public IPs cannot have zones; use Standard.",
            )
        if any(z not in ("1", "2", "3") for z in zones):
            raise bad(
                "InvalidAvailabilityZone", f"Public IP {name}: zones must be among '1', '2', '3'."
            )
        props.pop("ipAddress", None)
        props.pop("ipConfiguration", None)
        if existing:
            old = existing["body"]
            if old.get("sku", {}).get("name") != sku["name"]:
                raise bad(
                    "PublicIPSkuCannotBeChanged",
                    f"Public IP {name} has sku {old.get('sku', {}).get('name')}; the sku cannot be changed. Delete and recreate it.",
                )
            if sorted(old.get("zones") or []) != sorted(zones):
                raise bad(
                    "PublicIPZonesCannotBeChanged",
                    f"Public IP {name}: zones cannot be changed after creation.",
                )
            if (
                old["properties"].get("ipConfiguration")
                and old["properties"].get("publicIPAllocationMethod") != method
            ):
                raise bad(
                    "PublicIPAddressInUse",
                    f"Public IP {name} is in use; its allocation method cannot be changed.",
                )
            for keep in ("ipAddress", "ipConfiguration"):
                if keep in old["properties"]:
                    props[keep] = old["properties"][keep]

    def _check_gateway(
        self, name: str, rid: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> None:
        props = body["properties"]
        if existing:
            self._refuse_while_gateway_busy(existing)
        gtype = props.setdefault("gatewayType", "Vpn")
        if gtype != "Vpn":
            raise bad(
                "UnsupportedGatewayType",
                f"Gateway {name}: the sandbox models VPN gateways only (gatewayType Vpn), not {gtype}.",
            )
        vpn_type = props.setdefault("vpnType", "RouteBased")
        if vpn_type not in ("RouteBased", "PolicyBased"):
            raise bad(
                "InvalidVpnType", f"Gateway {name}: vpnType must be RouteBased or PolicyBased."
            )
        sku = props.get("sku") or {}
        sku_name = sku.get("name")
        if sku_name in rules.RETIRED_SKUS:
            raise bad(
                "GatewaySkuRetired",
                f"Gateway SKU {sku_name} is retired and cannot be used for new gateways. Use VpnGw1AZ or larger.",
            )
        if sku_name not in rules.ALL_SKUS:
            raise bad(
                "InvalidGatewaySku",
                f"Gateway {name}: sku {sku_name!r} is not a VPN gateway SKU (Basic, VpnGw1-5, VpnGw1AZ-5AZ).",
            )
        if sku.get("tier", sku_name) != sku_name:
            raise bad(
                "InvalidGatewaySku", f"Gateway {name}: sku.tier must equal sku.name ({sku_name})."
            )
        sku["tier"] = sku_name
        props["sku"] = {
            "name": sku_name,
            "tier": sku_name,
            "capacity": 2 if sku_name != "Basic" else 1,
        }
        props["vpnGatewayGeneration"] = rules.check_generation(
            sku_name, props.get("vpnGatewayGeneration")
        )
        basic = sku_name == "Basic"
        enable_bgp = bool(props.setdefault("enableBgp", False))
        active = bool(props.setdefault("activeActive", False))
        if basic and enable_bgp:
            raise bad(
                "BgpNotSupportedOnBasicGateway",
                f"Gateway {name}: BGP is not supported on the Basic SKU. Use VpnGw1AZ or larger.",
            )
        if basic and active:
            raise bad(
                "ActiveActiveNotSupportedOnBasicGateway",
                f"Gateway {name}: active-active is not supported on the Basic SKU.",
            )
        if enable_bgp and vpn_type != "RouteBased":
            raise bad(
                "BgpRequiresRouteBasedGateway",
                f"Gateway {name}: BGP requires a RouteBased gateway.",
            )
        ipcs = props.get("ipConfigurations") or []
        want = 2 if active else 1
        if len(ipcs) != want:
            raise bad(
                "InvalidNumberOfIpConfigurations"
                if not active
                else "ActiveActiveGatewayRequiresTwoIpConfigurations",
                f"Gateway {name}: {'an active-active' if active else 'an active-standby'} gateway needs exactly "
                f"{want} ipConfigurations (got {len(ipcs)}).",
            )
        subnet_ids = set()
        gw_key = _id_key(rid)
        for ipc in ipcs:
            if not ipc.get("name"):
                raise bad(
                    "InvalidRequestFormat", f"Gateway {name}: every ipConfiguration needs a name."
                )
            ip_props = ipc.setdefault("properties", {})
            ip_props.setdefault("privateIPAllocationMethod", "Dynamic")
            for ro in ("provisioningState", "privateIPAddress"):
                ip_props.pop(ro, None)
            sub_id = _ref_id(ip_props.get("subnet"))
            sub = self._get(sub_id) if sub_id else None
            if sub is None:
                raise bad(
                    "InvalidResourceReference",
                    f"Resource {sub_id or '(none)'} referenced by resource {rid} was not found. Create the GatewaySubnet first.",
                )
            if sub["body"]["name"] != "GatewaySubnet":
                raise bad(
                    "InvalidGatewaySubnetName",
                    f"Subnet '{sub['body']['name']}' cannot be used for virtual network gateway {name}: the "
                    "gateway subnet must be named exactly 'GatewaySubnet'.",
                )
            prefix = ipaddress.ip_network(sub["body"]["properties"]["addressPrefix"])
            limit = 29 if basic else 27
            if prefix.prefixlen > limit:
                raise bad(
                    "GatewaySubnetIsTooSmall",
                    f"GatewaySubnet {prefix} is too small for SKU {sku_name}: "
                    f"{'Basic needs at least a /29' if basic else 'VpnGw SKUs need a /27 or larger'}. Resize the GatewaySubnet.",
                )
            subnet_ids.add(_id_key(sub_id))
            users = [
                _id_key(_ref_id(r)) for r in sub["body"]["properties"].get("ipConfigurations", [])
            ]
            if any(not u.startswith(gw_key + "/") for u in users):
                raise bad(
                    "GatewaySubnetAlreadyInUse",
                    f"GatewaySubnet of this virtual network is already used by another gateway ({users[0]}). "
                    "A virtual network can have only one VPN gateway.",
                )
            pip_id = _ref_id(ip_props.get("publicIPAddress"))
            pip = self._get(pip_id) if pip_id else None
            if pip is None:
                raise bad(
                    "InvalidResourceReference",
                    f"Resource {pip_id or '(none)'} referenced by resource {rid} was not found. Create the public IP first.",
                )
            p_sku = pip["body"].get("sku", {}).get("name", "Basic")
            p_method = pip["body"]["properties"].get("publicIPAllocationMethod")
            if not basic and (p_sku != "Standard" or p_method != "Static"):
                raise bad(
                    "VirtualNetworkGatewayRequiresStandardStaticPublicIp",
                    f"Public IP {pip['body']['name']} is {p_sku}/{p_method}; VPN gateways need a Standard SKU, "
                    "Static public IP address. Create a Standard static public IP.",
                )
            used_by = _ref_id(pip["body"]["properties"].get("ipConfiguration"))
            if used_by and not _id_key(used_by).startswith(gw_key + "/"):
                raise bad(
                    "PublicIPAddressInUse",
                    f"Public IP {pip['body']['name']} is already used by {used_by}.",
                )
        if len(subnet_ids) != 1:
            raise bad(
                "IpConfigurationsMustUseSameSubnet",
                f"Gateway {name}: all ipConfigurations must use the same GatewaySubnet.",
            )
        pips = [_id_key(_ref_id(i["properties"].get("publicIPAddress"))) for i in ipcs]
        if len(set(pips)) != len(pips):
            raise bad(
                "DuplicatePublicIpInGateway",
                f"Gateway {name}: each ipConfiguration needs its own public IP.",
            )
        bgp = props.get("bgpSettings")
        if bgp is not None:
            rules.check_asn(
                bgp.get("asn", 65515), f"virtual network gateway {name}", allow_65515=True
            )
            bgp.pop("bgpPeeringAddress", None)
            ipc_ids = {_id_key(f"{rid}/ipConfigurations/{i['name']}") for i in ipcs}
            seen: set[str] = set()
            cleaned = []
            for entry in bgp.get("bgpPeeringAddresses") or []:
                ipc_id = entry.get("ipconfigurationId", "")
                if _id_key(ipc_id) not in ipc_ids:
                    raise bad(
                        "InvalidBgpPeeringAddressIpConfiguration",
                        f"Gateway {name}: bgpPeeringAddresses refers to unknown ipConfiguration {ipc_id}.",
                    )
                for ip in entry.get("customBgpIpAddresses") or []:
                    if not rules.is_apipa(ip):
                        raise bad(
                            "InvalidCustomBgpIpAddress",
                            f"Custom BGP IP address {ip} of gateway {name} is not valid: APIPA addresses must be "
                            "within 169.254.21.0 - 169.254.22.255.",
                        )
                    if ip in seen:
                        raise bad(
                            "DuplicateCustomBgpIpAddress",
                            f"Custom BGP IP address {ip} is used twice on gateway {name}.",
                        )
                    seen.add(ip)
                cleaned.append(
                    {
                        "ipconfigurationId": ipc_id,
                        "customBgpIpAddresses": list(entry.get("customBgpIpAddresses") or []),
                    }
                )
            bgp["bgpPeeringAddresses"] = cleaned
        else:
            props["bgpSettings"] = {"asn": 65515, "peerWeight": 0, "bgpPeeringAddresses": []}
        if existing:
            old = existing["body"]["properties"]
            for key in ("gatewayType", "vpnType", "vpnGatewayGeneration"):
                if old.get(key) != props.get(key):
                    raise bad(
                        "CannotChangeVirtualNetworkGatewayProperty",
                        f"Gateway {name}: {key} cannot be changed from {old.get(key)} to {props.get(key)}; delete and recreate the gateway.",
                    )
            old_sku = old["sku"]["name"]
            if old_sku.endswith("AZ") != sku_name.endswith("AZ") or (old_sku == "Basic") != basic:
                raise bad(
                    "GatewaySkuResizeNotAllowed",
                    f"Gateway {name} cannot be resized from {old_sku} to {sku_name}: resize only within the same family; delete and recreate instead.",
                )

    def _check_lng(
        self, name: str, rid: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> None:
        props = body["properties"]
        fqdn = props.get("fqdn")
        ip = props.get("gatewayIpAddress")
        if not fqdn and not ip:
            raise bad(
                "LocalNetworkGatewayMustHaveIpAddressOrFqdn",
                f"Local network gateway {name} needs either gatewayIpAddress or fqdn to reach the on-premises device.",
            )
        if ip:
            addr = rules.parse_ipv4(
                ip, f"local network gateway {name} gatewayIpAddress", "InvalidGatewayIpAddress"
            )
            if addr.is_private or addr.is_loopback or addr.is_unspecified:
                raise bad(
                    "InvalidGatewayIpAddress",
                    f"gatewayIpAddress {ip} of local network gateway {name} must be a public IPv4 address (the on-premises device's internet address).",
                )
        if fqdn and (not isinstance(fqdn, str) or not rules.hostname_ok(fqdn)):
            raise bad(
                "InvalidFqdn",
                f"fqdn {fqdn!r} of local network gateway {name} is not a valid DNS name.",
            )
        space = props.get("localNetworkAddressSpace") or {}
        prefixes = space.get("addressPrefixes") or []
        for p in prefixes:
            rules.parse_cidr(p, f"local network gateway {name}")
        props["localNetworkAddressSpace"] = {"addressPrefixes": list(prefixes)}
        bgp = props.get("bgpSettings")
        if bgp:
            rules.check_asn(bgp.get("asn", 0), f"local network gateway {rid}", allow_65515=False)
            peer = bgp.get("bgpPeeringAddress")
            if not peer:
                raise bad(
                    "LocalNetworkGatewayBgpPeeringAddressRequired",
                    f"Local network gateway {name}: bgpSettings.bgpPeeringAddress is required with BGP.",
                )
            rules.parse_ipv4(
                peer, f"local network gateway {name} bgpPeeringAddress", "InvalidBgpPeeringAddress"
            )
            bgp.setdefault("peerWeight", 0)
        if not prefixes and not bgp:
            raise bad(
                "LocalNetworkGatewayCannotHaveEmptyAddressPrefixAndBgpSettings",
                f"Local network gateway {rid} cannot have both empty address prefixes and empty BGP settings. "
                "Specify the on-premises address prefixes, or BGP settings (ASN and BGP peer IP), or both.",
            )

    def _check_connection(
        self, name: str, rid: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> None:
        props = body["properties"]
        for ro in (
            "connectionStatus",
            "ingressBytesTransferred",
            "egressBytesTransferred",
            "tunnelConnectionStatus",
        ):
            props.pop(ro, None)
        ctype = props.get("connectionType")
        if ctype is None:
            raise bad(
                "InvalidRequestFormat", f"Connection {name}: properties.connectionType is required."
            )
        if ctype != "IPsec":
            raise bad(
                "UnsupportedConnectionType",
                f"Connection {name}: the sandbox models IPsec site-to-site connections only, not {ctype}.",
            )
        gw_id = _ref_id(props.get("virtualNetworkGateway1"))
        gw = self._get(gw_id) if gw_id else None
        if gw is None:
            raise bad(
                "InvalidResourceReference",
                f"Resource {gw_id or '(none)'} referenced by resource {rid} was not found. Create the virtual network gateway first.",
            )
        lng_id = _ref_id(props.get("localNetworkGateway2"))
        lng = self._get(lng_id) if lng_id else None
        if lng is None:
            raise bad(
                "InvalidResourceReference",
                f"Resource {lng_id or '(none)'} referenced by resource {rid} was not found. Create the local network gateway first.",
            )
        props["virtualNetworkGateway1"] = {"id": gw["body"]["id"]}
        props["localNetworkGateway2"] = {"id": lng["body"]["id"]}
        self._refuse_while_gateway_busy({"seg": "connections", "body": body})
        if gw["body"]["properties"].get("provisioningState") != "Succeeded":
            raise ArmError(
                409,
                "AnotherOperationInProgress",
                f"Virtual network gateway {gw['body']['name']} is {gw['body']['properties'].get('provisioningState')}; "
                "connections can be created only when it is Succeeded.",
            )
        protocol = props.setdefault("connectionProtocol", "IKEv2")
        if protocol not in ("IKEv1", "IKEv2"):
            raise bad(
                "InvalidConnectionProtocol",
                f"Connection {name}: connectionProtocol must be IKEv2 or IKEv1.",
            )
        mode = props.setdefault("connectionMode", "Default")
        if mode not in ("Default", "ResponderOnly", "InitiatorOnly"):
            raise bad(
                "InvalidConnectionMode",
                f"Connection {name}: connectionMode must be Default, ResponderOnly or InitiatorOnly.",
            )
        gprops = gw["body"]["properties"]
        if mode != "Default" and (protocol != "IKEv2" or gprops.get("vpnType") != "RouteBased"):
            raise bad(
                "ConnectionModeNotSupported",
                f"Connection {name}: connectionMode {mode} requires IKEv2 on a RouteBased gateway.",
            )
        auth = props.get("authenticationType", "PSK")
        if auth not in ("PSK", "Certificate"):
            raise bad(
                "InvalidAuthenticationType",
                f"Connection {name}: authenticationType must be PSK or Certificate.",
            )
        psk = props.pop("sharedKey", None)
        if auth == "PSK":
            if psk is None:
                psk = (existing or {}).get("psk") or secrets.token_urlsafe(24).replace(
                    "-", "A"
                ).replace("~", "B")
            rules.check_shared_key(psk, f"connection {name}")
        body["_psk"] = psk or ""
        dpd = props.get("dpdTimeoutSeconds")
        if dpd is not None and (
            isinstance(dpd, bool) or not isinstance(dpd, int) or not 9 <= dpd <= 3600
        ):
            raise bad(
                "InvalidDpdTimeout",
                f"dpdTimeoutSeconds {dpd} of connection {name} is out of range: use 9 to 3600 seconds.",
            )
        props.setdefault("dpdTimeoutSeconds", 45)
        policies = props.setdefault("ipsecPolicies", [])
        if len(policies) > 1:
            raise bad(
                "OnlyOneIpsecPolicySupported",
                f"Connection {name} has {len(policies)} ipsecPolicies; only one custom IPsec/IKE policy is supported.",
            )
        for policy in policies:
            if gprops["sku"]["name"] == "Basic":
                raise bad(
                    "IpsecPolicyNotSupportedOnBasicGateway",
                    f"Connection {name}: custom IPsec/IKE policies are not supported on the Basic SKU.",
                )
            rules.check_ipsec_policy(policy, name)
        props.setdefault("usePolicyBasedTrafficSelectors", False)
        enable_bgp = bool(props.setdefault("enableBgp", False))
        lbgp = lng["body"]["properties"].get("bgpSettings")
        if enable_bgp:
            if not gprops.get("enableBgp"):
                raise bad(
                    "BgpNotEnabledOnVirtualNetworkGateway",
                    f"Connection {name} enables BGP but gateway {gw['body']['name']} has enableBgp false. Enable BGP on the gateway first.",
                )
            if not lbgp:
                raise bad(
                    "LocalNetworkGatewayBgpSettingsMissing",
                    f"Connection {name} enables BGP but local network gateway {lng['body']['name']} has no bgpSettings (ASN and BGP peer IP).",
                )
            if int(lbgp.get("asn", 0)) == int(gprops.get("bgpSettings", {}).get("asn", 65515)):
                raise bad(
                    "BgpAsnSameAsVirtualNetworkGateway",
                    f"Local network gateway {lng['body']['name']} uses ASN {lbgp.get('asn')}, the same as gateway {gw['body']['name']}; on-premises and Azure ASNs must differ.",
                )
        gw_ipcs = {
            _id_key(i.get("id", f"{gw['body']['id']}/ipConfigurations/{i['name']}")): i
            for i in gprops.get("ipConfigurations", [])
        }
        custom_by_ipc = {
            _id_key(p.get("ipconfigurationId", "")): p.get("customBgpIpAddresses", [])
            for p in (gprops.get("bgpSettings") or {}).get("bgpPeeringAddresses", [])
        }
        for entry in props.get("gatewayCustomBgpIpAddresses") or []:
            ipc_id, ip = entry.get("ipConfigurationId", ""), entry.get("customBgpIpAddress", "")
            if _id_key(ipc_id) not in gw_ipcs:
                raise bad(
                    "InvalidGatewayCustomBgpIpAddressIpConfiguration",
                    f"gatewayCustomBgpIpAddresses of connection {name} refers to ipConfiguration {ipc_id}, which gateway {gw['body']['name']} does not have.",
                )
            if not rules.is_apipa(ip):
                raise bad(
                    "InvalidCustomBgpIpAddress",
                    f"Custom BGP IP address {ip} of connection {name} must be within 169.254.21.0 - 169.254.22.255.",
                )
            configured = custom_by_ipc.get(_id_key(ipc_id)) or []
            if configured and ip not in configured:
                raise bad(
                    "GatewayCustomBgpIpAddressNotConfigured",
                    f"Custom BGP IP address {ip} of connection {name} is not configured on gateway {gw['body']['name']} (configured: {', '.join(configured)}).",
                )
        if existing:
            old = existing["body"]["properties"]
            if old.get("connectionProtocol") != protocol:
                raise bad(
                    "ConnectionProtocolCannotBeChanged",
                    f"Connection {name} uses {old.get('connectionProtocol')}; the protocol cannot be changed after creation. Delete and recreate the connection.",
                )
            for ref in ("virtualNetworkGateway1", "localNetworkGateway2"):
                if _id_key(_ref_id(old.get(ref))) != _id_key(_ref_id(props.get(ref))):
                    raise bad(
                        "CannotChangeConnectionEndpoints",
                        f"Connection {name}: {ref} cannot be changed; delete and recreate the connection.",
                    )

    # ------------------------------------------------------------------ shared key

    def _shared_key(
        self, method: str, rg: str, name: str, payload: Any
    ) -> tuple[int, dict[str, str], Any]:
        rec = self._get(self._rid(rg, "connections", name))
        if rec is None:
            raise self._not_found("connections", rg, name)
        if method == "GET":
            return 200, {}, {"id": "", "value": rec.get("psk", "")}
        if method != "PUT":
            raise self._method_not_allowed(method)
        if not isinstance(payload, dict) or "value" not in payload:
            raise bad(
                "InvalidRequestFormat",
                f'Setting the shared key of connection {name} needs a body {{"value": "<key>"}}.',
            )
        self._refuse_while_gateway_busy(rec)
        rec["psk"] = rules.check_shared_key(payload["value"], f"connection {name}")
        rec["body"]["etag"] = _etag()
        op = self._new_op(
            "put",
            rec["body"]["id"] + "/sharedkey",
            "sharedkey",
            self.timing.other_seconds,
            rec["body"].get("location", ""),
        )
        self._save()
        self._sync_world()
        return 200, {"Azure-AsyncOperation": self._op_urls(op)[0]}, {"id": "", "value": rec["psk"]}

    # ------------------------------------------------------------------ gateway actions

    def _gateway_sub(
        self, method: str, rg: str, name: str, action: str, query: dict[str, str], path: str
    ) -> tuple[int, dict[str, str], Any]:
        rid = self._rid(rg, "virtualNetworkGateways", name)
        rec = self._get(rid)
        if rec is None:
            raise self._not_found("virtualNetworkGateways", rg, name)
        if action == "connections" and method == "GET":
            recs = [
                r
                for r in self._of("connections")
                if _id_key(_ref_id(r["body"]["properties"].get("virtualNetworkGateway1")))
                == _id_key(rid)
            ]
            return self._list(recs, query, path)
        names = {
            "getbgppeerstatus": "getBgpPeerStatus",
            "getlearnedroutes": "getLearnedRoutes",
            "getadvertisedroutes": "getAdvertisedRoutes",
            "reset": "reset",
        }
        if action not in names:
            raise ArmError(
                404,
                "InvalidResourceType",
                f"The sandbox has no action {action} on virtual network gateways.",
            )
        if method != "POST":
            raise self._method_not_allowed(method)
        action = names[action]
        if action == "getAdvertisedRoutes" and not query.get("peer"):
            raise bad(
                "MissingParameter",
                "The 'peer' query parameter is required for getAdvertisedRoutes.",
            )
        duration = self.timing.other_seconds
        if action == "reset":
            self._refuse_while_gateway_busy(rec)
            rec["reset_counter"] = int(rec.get("reset_counter", 0)) + 1
            op = self._new_op("post", rid, "reset", duration, rec["body"].get("location", ""))
            rec["pending"] = {
                "action": "reset",
                "start": op["start"],
                "duration": duration,
                "op": op["id"],
            }
            rec["body"]["properties"]["provisioningState"] = "Updating"
            rec["body"]["etag"] = _etag()
            self._save()
            self._sync_world()
        else:
            op = self._new_op(
                "post",
                rid,
                action,
                min(duration, 5.0),
                rec["body"].get("location", ""),
                peer=query.get("peer", ""),
            )
            # A read-only action changes no resource: nothing to persist (a monitor polling many
            # sites would otherwise rewrite the whole state file three times per site and cycle).
        status_url, location = self._op_urls(op)
        return 202, {"Location": location, "Azure-AsyncOperation": status_url}, None

    def _action_result(self, op: dict[str, Any]) -> Any:
        rec = self._get(op["resource"])
        if rec is None:
            return {"value": []}
        if op["action"] == "reset":
            return self._render(rec)
        if op["action"] == "getBgpPeerStatus":
            return {"value": self._bgp_peers(rec, op.get("peer", ""))}
        if op["action"] == "getLearnedRoutes":
            return {"value": self._learned(rec)}
        return {"value": self._advertised(rec, op.get("peer", ""))}

    def _gateway_context(
        self, gw: dict[str, Any]
    ) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """(local BGP addresses, VNet prefixes, connections with BGP on this gateway)."""
        gprops = gw["body"]["properties"]
        local = [
            ip
            for p in (gprops.get("bgpSettings") or {}).get("bgpPeeringAddresses", [])
            for ip in p.get("defaultBgpIpAddresses", [])
        ]
        vnet_prefixes: list[str] = []
        ipcs = gprops.get("ipConfigurations", [])
        if ipcs:
            sub_id = _ref_id(ipcs[0].get("properties", {}).get("subnet"))
            vnet = self._get(sub_id.rsplit("/subnets/", 1)[0]) if sub_id else None
            if vnet:
                vnet_prefixes = list(vnet["body"]["properties"]["addressSpace"]["addressPrefixes"])
        conns = [
            r
            for r in self._of("connections")
            if _id_key(_ref_id(r["body"]["properties"].get("virtualNetworkGateway1")))
            == _id_key(gw["body"]["id"])
            and r["body"]["properties"].get("enableBgp")
        ]
        return local, vnet_prefixes, conns

    def _peer_of(self, conn: dict[str, Any], local: list[str]) -> tuple[str, str, int, list[str]]:
        """(local address, neighbour, neighbour ASN, LNG static prefixes) for one connection."""
        lng = self._get(_ref_id(conn["body"]["properties"].get("localNetworkGateway2")))
        lprops = lng["body"]["properties"] if lng else {}
        lbgp = lprops.get("bgpSettings") or {}
        neighbor = lbgp.get("bgpPeeringAddress", "")
        custom = [
            c.get("customBgpIpAddress", "")
            for c in conn["body"]["properties"].get("gatewayCustomBgpIpAddresses") or []
        ]
        local_addr = (
            custom[0] if custom and rules.is_apipa(neighbor) else (local[0] if local else "")
        )
        prefixes = list((lprops.get("localNetworkAddressSpace") or {}).get("addressPrefixes", []))
        return local_addr, neighbor, int(lbgp.get("asn", 0) or 0), prefixes

    def _bgp_peers(self, gw: dict[str, Any], peer: str) -> list[dict[str, Any]]:
        local, _, conns = self._gateway_context(gw)
        out = []
        for conn in conns:
            local_addr, neighbor, asn, _ = self._peer_of(conn, local)
            if peer and neighbor != peer:
                continue
            view = self._view_for(conn["body"]["id"])
            state = view.bgp_azure_state if view is not None else "Connecting"
            learned = len(view.azure_learned) if view is not None and state == "Connected" else 0
            since = self._connected_since.get(conn["body"]["id"])
            duration = "00:00:00"
            if state == "Connected" and since is not None:
                secs = int(self.clock() - since)
                duration = f"{secs // 86400}.{(secs % 86400) // 3600:02d}:{(secs % 3600) // 60:02d}:{secs % 60:02d}.0000000"
            out.append(
                {
                    "localAddress": local_addr,
                    "neighbor": neighbor,
                    "asn": asn,
                    "state": state,
                    "connectedDuration": duration,
                    "routesReceived": learned,
                    "messagesSent": 12 if state == "Connected" else 0,
                    "messagesReceived": 11 if state == "Connected" else 0,
                }
            )
        return out

    def _learned(self, gw: dict[str, Any]) -> list[dict[str, Any]]:
        local, vnet_prefixes, conns = self._gateway_context(gw)
        me = local[0] if local else ""
        routes = [
            {
                "localAddress": me,
                "network": p,
                "nextHop": "",
                "sourcePeer": me,
                "origin": "Network",
                "asPath": "",
                "weight": 32768,
            }
            for p in vnet_prefixes
        ]
        for conn in conns:
            local_addr, neighbor, asn, static = self._peer_of(conn, local)
            for p in [*static, f"{neighbor}/32"] if neighbor else static:
                routes.append(
                    {
                        "localAddress": local_addr,
                        "network": p,
                        "nextHop": "",
                        "sourcePeer": local_addr,
                        "origin": "Network",
                        "asPath": "",
                        "weight": 32768,
                    }
                )
            view = self._view_for(conn["body"]["id"])
            if view is not None and view.bgp_azure_state == "Connected":
                for p in view.azure_learned:
                    routes.append(
                        {
                            "localAddress": local_addr,
                            "network": p,
                            "nextHop": neighbor,
                            "sourcePeer": neighbor,
                            "origin": "EBgp",
                            "asPath": str(asn),
                            "weight": 32768,
                        }
                    )
        return routes

    def _advertised(self, gw: dict[str, Any], peer: str) -> list[dict[str, Any]]:
        local, vnet_prefixes, conns = self._gateway_context(gw)
        asn = int((gw["body"]["properties"].get("bgpSettings") or {}).get("asn", 65515))
        for conn in conns:
            local_addr, neighbor, _, _ = self._peer_of(conn, local)
            if neighbor == peer:
                return [
                    {
                        "localAddress": local_addr,
                        "network": p,
                        "nextHop": local_addr,
                        "sourcePeer": "",
                        "origin": "Igp",
                        "asPath": str(asn),
                        "weight": 0,
                    }
                    for p in vnet_prefixes
                ]
        return []


class _Server(ThreadingHTTPServer):
    """Threading HTTP server that does the TLS handshake in the connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True
    sandbox: ArmSandbox
    ssl_context: ssl.SSLContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(30)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        with self._open_lock:
            self._open.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except OSError:
            pass
        finally:
            with self._open_lock:
                self._open.discard(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def close_all(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall
    server: _Server
    server_version = "s2svpn-arm-sandbox"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .calls instead
        return

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        sandbox = self.server.sandbox
        fault = sandbox.draw_fault()
        if fault == "drop":
            with sandbox._lock:
                sandbox.calls.append((method, urlsplit(self.path).path))
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "slow":
            time.sleep(sandbox.faults.slow_seconds)
        if fault in ("429", "500"):
            with sandbox._lock:
                sandbox.calls.append((method, urlsplit(self.path).path))
            if fault == "429":
                status, headers, payload = (
                    429,
                    {"Retry-After": str(sandbox.faults.retry_after)}
                    if sandbox.faults.retry_after
                    else {},
                    {
                        "error": {
                            "code": "TooManyRequests",
                            "message": "The request is being throttled. Retry later.",
                            "details": [],
                        }
                    },
                )
            else:
                status, headers, payload = (
                    500,
                    {},
                    {
                        "error": {
                            "code": "InternalServerError",
                            "message": "An error occurred. Retry later.",
                            "details": [],
                        }
                    },
                )
        else:
            hdrs = {k.lower(): v for k, v in self.headers.items()}
            status, headers, payload = sandbox.handle(method, self.path, hdrs, body)
        data = b"" if payload is None or status == 204 else json.dumps(payload).encode()
        self.send_response(status)
        request_id = str(uuid.uuid4())
        self.send_header("x-ms-request-id", request_id)
        self.send_header(
            "x-ms-correlation-request-id", self.headers.get("x-ms-client-request-id", request_id)
        )
        for key, value in headers.items():
            self.send_header(key, value)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")
