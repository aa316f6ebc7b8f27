"""A stand-in for Azure Resource Manager (Microsoft.Network, api-version 2026-03-01).

Good enough that the real ``azure-mgmt-network`` SDK, with its long-running-operation pollers,
cannot tell it from Azure: HTTPS on loopback with a generated CA (``s2svpn.sandbox.tls``), bearer
tokens required, ARM ids and error envelopes, ``Azure-AsyncOperation`` / ``Location`` pollers,
``nextLink`` paging, 409 ``AnotherOperationInProgress`` while a gateway updates, and Azure-like
validation (``s2svpn.sandbox.armstate``). Wire contract: ``shared/reference/azure.md`` section 3
and https://learn.microsoft.com/rest/api/azure/#async-operations.

The parts, one concern each: ``store`` (state file, ids, lookups), ``routing`` (requests to
handlers), ``resources`` (PUT/DELETE, subnets, shared key), ``validate`` and ``gateways``
(Azure's rules per type, gateway actions), ``operations`` (time and long-running operations),
``bgp`` (BGP reads), ``groups`` (resource groups, VNet PUTs), ``world_link`` (the shared :class:`~s2svpn.sandbox.world.World`: the ARM
sandbox publishes its half as an ``AzureEnd`` and reads connection status back), ``authz`` (a role
definition enforced as ARM does, off by default) and ``throttle`` (ARM's token buckets, on in the
``real`` profile); HTTP through the listener shared with the pfSense sandbox
(:mod:`s2svpn.sandbox.https`).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from s2svpn.sandbox import armstate as rules
from s2svpn.sandbox.arm.authz import PRINCIPAL, Role
from s2svpn.sandbox.arm.bgp import BgpSimulation
from s2svpn.sandbox.arm.gateways import Gateways
from s2svpn.sandbox.arm.groups import Groups
from s2svpn.sandbox.arm.operations import Operations
from s2svpn.sandbox.arm.resources import Resources
from s2svpn.sandbox.arm.routing import Routing
from s2svpn.sandbox.arm.store import SUBSCRIPTION_ID, TYPES, id_key, new_etag, subnet_record
from s2svpn.sandbox.arm.throttle import Throttle, refusal_message
from s2svpn.sandbox.arm.validate import Validation
from s2svpn.sandbox.arm.world_link import WorldLink
from s2svpn.sandbox.https import Listener, Reply
from s2svpn.sandbox.tls import make_ca
from s2svpn.sandbox.world import World


@dataclass
class SandboxTiming:
    """How long operations take (seconds). Mutable at run time.

    ``bgp_read_seconds``: getBgpPeerStatus / getLearnedRoutes / getAdvertisedRoutes (None: as
    other operations, at most 5 s; real Azure takes tens of seconds), whose 202s carry
    ``Retry-After: bgp_retry_after`` when it is set. ``time_scale`` multiplies every duration and
    wait (and speeds up throttling's refill): 0.01 runs a profile 100 times faster, its waits then
    in ``retry-after-ms`` (see :func:`s2svpn.sandbox.arm.throttle.retry_after`).
    """

    gateway_seconds: float = 60.0
    other_seconds: float = 1.5
    bgp_read_seconds: float | None = None
    bgp_retry_after: float = 0.0
    time_scale: float = 1.0

    def bgp_seconds(self) -> float:
        if self.bgp_read_seconds is not None:
            return self.bgp_read_seconds
        return min(self.other_seconds, 5.0)


PROFILES = {
    # Azure's pace: a 30 min gateway, BGP reads of 30 s polled every 10 s, and ARM throttling on
    "real": SandboxTiming(1800.0, 20.0, bgp_read_seconds=30.0, bgp_retry_after=10.0),
    "default": SandboxTiming(gateway_seconds=60.0, other_seconds=1.5),
    "fast": SandboxTiming(gateway_seconds=0.0, other_seconds=0.0),
}
THROTTLED_PROFILES = {"real"}


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


def _subscription_of(target: str) -> str:
    parts = [p for p in urlsplit(target).path.split("/") if p]
    return parts[1].lower() if len(parts) > 1 and parts[0].lower() == "subscriptions" else ""


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": []}}


class ArmSandbox(
    Routing, Resources, Groups, Validation, Gateways, BgpSimulation, Operations, WorldLink
):
    """The ARM stand-in. ``start()`` serves HTTPS on ``host:port`` (0 = any free port)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        profile: str | SandboxTiming = "default",
        world: World | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        role: dict[str, Any] | str | Path | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(profile, str):
            if profile not in PROFILES:
                raise ValueError(
                    f"unknown sandbox profile {profile!r}: use one of {', '.join(PROFILES)}"
                )
            self.timing = replace(PROFILES[profile])
        else:
            self.timing = profile
        self.faults = SandboxFaults()
        self.throttle = Throttle(
            clock=lambda: self.clock(),
            scale=lambda: self.timing.time_scale,
            enabled=isinstance(profile, str) and profile in THROTTLED_PROFILES,
        )
        self.enforce_role(role)
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
        self._listener: Listener | None = None
        self.clock = time.time

    def enforce_role(self, definition: dict[str, Any] | str | Path | None) -> None:
        """Answer as ARM does for a principal holding this role (None: no authorization checks);
        see :mod:`s2svpn.sandbox.arm.authz`."""
        self.role = Role.parse(definition) if definition else None
        self.granted: set[str] = set()

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def start(self) -> None:
        self._listener = Listener(
            self.respond,
            name="arm-sandbox",
            host=self.host,
            port=self.port,
            cert_file=self._cert_file,
            key_file=self._key_file,
            server_version="s2svpn-arm-sandbox",
        )
        self.port = self._listener.start()
        self._rng.seed(self.faults.seed)
        with self._lock:
            self._tick()
            self._sync_world()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

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

    def resource_groups(self) -> list[str]:
        """The names of the subscription's resource groups (a delete in progress still counts)."""
        with self._lock:
            self._tick()
            return sorted(r["name"] for r in self._state["resource_groups"].values())

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
                "etag": new_etag(),
                "properties": {
                    "addressSpace": {"addressPrefixes": list(prefixes)},
                    "dhcpOptions": {"dnsServers": []},
                    "provisioningState": "Succeeded",
                    "resourceGuid": str(uuid.uuid4()),
                    "virtualNetworkPeerings": [],
                },
            }
            self._state["resources"][id_key(vnet_id)] = {"seg": "virtualNetworks", "body": body}
            items = subnets.items() if isinstance(subnets, dict) else (subnets or [])
            for sub_name, prefix in items:
                sub_id = f"{vnet_id}/subnets/{sub_name}"
                self._state["resources"][id_key(sub_id)] = subnet_record(
                    sub_id, sub_name, {"addressPrefix": prefix, "provisioningState": "Succeeded"}
                )
            self._save()
            return self._render(self._state["resources"][id_key(vnet_id)])

    # ------------------------------------------------------------------ HTTP

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

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> Reply | None:
        """One HTTP exchange: injected faults first, then :meth:`handle`; ARM's id headers."""
        fault = self.draw_fault()
        if fault in ("drop", "429", "500"):
            with self._lock:
                self.calls.append((method, urlsplit(target).path))
        if fault == "drop":
            return None
        if fault == "slow":
            time.sleep(self.faults.slow_seconds)
        limits, empty = self.throttle.take(_subscription_of(target), method)
        if fault == "429":
            retry = {"Retry-After": str(self.faults.retry_after)} if self.faults.retry_after else {}
            answer = (
                429,
                retry,
                _error("TooManyRequests", "The request is being throttled. Retry later."),
            )
        elif fault == "500":
            answer = 500, {}, _error("InternalServerError", "An error occurred. Retry later.")
        elif empty:
            with self._lock:
                self.calls.append((method, urlsplit(target).path))
            message = refusal_message(self.subscription_id, empty, PRINCIPAL, limits)
            answer = 429, {}, _error("SubscriptionRequestsThrottled", message)
        else:
            answer = self.handle(method, target, headers, body)
        status, extra, payload = answer
        extra = {**limits, **extra}
        data = b"" if payload is None or status == 204 else json.dumps(payload).encode()
        request_id = str(uuid.uuid4())
        out = {
            "x-ms-request-id": request_id,
            "x-ms-correlation-request-id": headers.get("x-ms-client-request-id", request_id),
            **extra,
        }
        if data:
            out["Content-Type"] = "application/json; charset=utf-8"
        return Reply(status, data, out)
