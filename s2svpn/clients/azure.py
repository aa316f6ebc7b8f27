"""Typed client for the Azure end: a VNet's GatewaySubnet, public IPs, the VPN gateway, the local
network gateway and the connection, over ``azure-mgmt-network`` (api-version 2026-03-01).

Our own frozen dataclasses go in and out, never SDK objects. Every ``ensure_*`` reads, compares
with the desired state (a :class:`~s2svpn.intent.SiteIntent`), then creates, updates or leaves the
resource alone; an existing resource that matches is adopted, one that conflicts is refused with a
permanent :class:`~s2svpn.clients.errors.ClientError` naming the difference. The returned dataclass
carries ``action`` = ``"created" | "updated" | "unchanged" | "in_progress"``, so a Celery step can
call the same method again and again until ``provisioning_state == "Succeeded"``.

The VPN gateway build (20-45+ minutes) is never waited for: :meth:`AzureVpnClient.start_gateway`
sends the PUT and returns; callers re-check with :meth:`AzureVpnClient.get_gateway`.

Azure REST references (api-version 2026-03-01):

* Subnets: https://learn.microsoft.com/rest/api/virtualnetwork/subnets
* Public IPs: https://learn.microsoft.com/rest/api/virtualnetwork/public-ip-addresses
* VPN gateways: https://learn.microsoft.com/rest/api/network-gateway/virtual-network-gateways
* Local network gateways: https://learn.microsoft.com/rest/api/network-gateway/local-network-gateways
* Connections: https://learn.microsoft.com/rest/api/network-gateway/virtual-network-gateway-connections
* Async operations: https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations
* Wire details and SDK poller behaviour: ``shared/reference/azure.md``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.polling import LROPoller
from azure.mgmt.network import NetworkManagementClient

from s2svpn.clients.errors import ClientError
from s2svpn.intent import IpsecPolicy, SiteIntent
from s2svpn.status import BgpPeer, BgpState, EndStatus, Route, TunnelState

log = logging.getLogger(__name__)

T = TypeVar("T")

GATEWAY_SUBNET = "GatewaySubnet"
IPCONFIG_NAMES = ("default", "activeActive")
AZ_ZONES = ("1", "2", "3")

PERMANENT_409 = {"Conflict", "ResourceExists", "InUseSubnetCannotBeDeleted"}
TRANSIENT_CODES = {
    "AnotherOperationInProgress",
    "RetryableError",
    "TooManyRequests",
    "InternalServerError",
    "ServerTimeout",
    "OperationNotAllowedAsOperationIsInProgress",
    "ReferencedResourceNotProvisioned",
}

CONNECTION_STATES = {
    "connected": TunnelState.UP,
    "connecting": TunnelState.CONNECTING,
    "notconnected": TunnelState.DOWN,
    "unknown": TunnelState.UNKNOWN,
}
BGP_STATES = {
    "connected": BgpState.ESTABLISHED,
    "connecting": BgpState.CONNECT,
    "idle": BgpState.IDLE,
    "stopped": BgpState.STOPPED,
    "unknown": BgpState.UNKNOWN,
}

# ---------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class Subnet:
    id: str
    name: str
    address_prefix: str
    provisioning_state: str = ""
    ip_configuration_ids: tuple[str, ...] = ()
    action: str = ""


@dataclass(frozen=True)
class VNet:
    id: str
    name: str
    location: str
    resource_group: str
    address_prefixes: tuple[str, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    provisioning_state: str = ""

    def subnet(self, name: str) -> Subnet | None:
        return next((s for s in self.subnets if s.name.lower() == name.lower()), None)


@dataclass(frozen=True)
class PublicIp:
    id: str
    name: str
    location: str
    ip_address: str = ""
    sku: str = ""
    allocation: str = ""
    zones: tuple[str, ...] = ()
    provisioning_state: str = ""
    ip_configuration_id: str = ""
    action: str = ""


@dataclass(frozen=True)
class Gateway:
    id: str
    name: str
    location: str
    provisioning_state: str = ""
    gateway_type: str = ""
    vpn_type: str = ""
    sku: str = ""
    generation: str = ""
    active_active: bool = False
    enable_bgp: bool = False
    asn: int | None = None
    bgp_peering_address: str = ""
    default_bgp_ips: tuple[str, ...] = ()
    custom_bgp_ips: tuple[str, ...] = ()
    tunnel_ips: tuple[str, ...] = ()
    public_ip_ids: tuple[str, ...] = ()
    subnet_id: str = ""
    ip_configuration_ids: tuple[str, ...] = ()
    action: str = ""

    @property
    def ready(self) -> bool:
        return self.provisioning_state == "Succeeded"


@dataclass(frozen=True)
class LocalGateway:
    id: str
    name: str
    location: str
    provisioning_state: str = ""
    fqdn: str = ""
    gateway_ip: str = ""
    address_prefixes: tuple[str, ...] = ()
    bgp_asn: int | None = None
    bgp_peering_address: str = ""
    action: str = ""


@dataclass(frozen=True)
class Connection:
    id: str
    name: str
    location: str
    provisioning_state: str = ""
    connection_type: str = ""
    protocol: str = ""
    mode: str = ""
    enable_bgp: bool = False
    gateway_id: str = ""
    local_gateway_id: str = ""
    authentication_type: str = ""
    dpd_timeout_seconds: int | None = None
    use_policy_based_traffic_selectors: bool = False
    ipsec_policy: IpsecPolicy | None = None
    custom_bgp_ips: tuple[tuple[str, str], ...] = ()  # (ipConfigurationId, customBgpIpAddress)
    status: str = ""
    ingress_bytes: int = 0
    egress_bytes: int = 0
    action: str = ""


# ---------------------------------------------------------------------------- parsing (wire JSON -> ours)


def _p(body: dict[str, Any]) -> dict[str, Any]:
    return body.get("properties") or {}


def _ref(value: Any) -> str:
    return value.get("id", "") if isinstance(value, dict) else ""


def _rg_of(resource_id: str) -> str:
    m = re.search(r"/resourceGroups/([^/]+)", resource_id, re.IGNORECASE)
    return m.group(1) if m else ""


def parse_subnet(body: dict[str, Any]) -> Subnet:
    props = _p(body)
    prefix = props.get("addressPrefix") or next(iter(props.get("addressPrefixes") or []), "")
    return Subnet(
        id=body.get("id", ""),
        name=body.get("name", ""),
        address_prefix=prefix,
        provisioning_state=props.get("provisioningState", ""),
        ip_configuration_ids=tuple(_ref(r) for r in props.get("ipConfigurations") or []),
    )


def parse_vnet(body: dict[str, Any]) -> VNet:
    props = _p(body)
    return VNet(
        id=body.get("id", ""),
        name=body.get("name", ""),
        location=body.get("location", ""),
        resource_group=_rg_of(body.get("id", "")),
        address_prefixes=tuple((props.get("addressSpace") or {}).get("addressPrefixes") or []),
        subnets=tuple(parse_subnet(s) for s in props.get("subnets") or []),
        provisioning_state=props.get("provisioningState", ""),
    )


def parse_public_ip(body: dict[str, Any]) -> PublicIp:
    props = _p(body)
    return PublicIp(
        id=body.get("id", ""),
        name=body.get("name", ""),
        location=body.get("location", ""),
        ip_address=props.get("ipAddress", "") or "",
        sku=(body.get("sku") or {}).get("name", ""),
        allocation=props.get("publicIPAllocationMethod", ""),
        zones=tuple(body.get("zones") or ()),
        provisioning_state=props.get("provisioningState", ""),
        ip_configuration_id=_ref(props.get("ipConfiguration")),
    )


def parse_gateway(body: dict[str, Any]) -> Gateway:
    props = _p(body)
    bgp = props.get("bgpSettings") or {}
    peering = bgp.get("bgpPeeringAddresses") or []
    ipcs = props.get("ipConfigurations") or []
    return Gateway(
        id=body.get("id", ""),
        name=body.get("name", ""),
        location=body.get("location", ""),
        provisioning_state=props.get("provisioningState", ""),
        gateway_type=props.get("gatewayType", ""),
        vpn_type=props.get("vpnType", ""),
        sku=(props.get("sku") or {}).get("name", ""),
        generation=props.get("vpnGatewayGeneration", "") or "",
        active_active=bool(props.get("activeActive")),
        enable_bgp=bool(props.get("enableBgp")),
        asn=bgp.get("asn"),
        bgp_peering_address=bgp.get("bgpPeeringAddress", "") or "",
        default_bgp_ips=tuple(ip for p in peering for ip in p.get("defaultBgpIpAddresses") or []),
        custom_bgp_ips=tuple(ip for p in peering for ip in p.get("customBgpIpAddresses") or []),
        tunnel_ips=tuple(ip for p in peering for ip in p.get("tunnelIpAddresses") or []),
        public_ip_ids=tuple(_ref(_p(i).get("publicIPAddress")) for i in ipcs),
        subnet_id=_ref(_p(ipcs[0]).get("subnet")) if ipcs else "",
        ip_configuration_ids=tuple(i.get("id", "") for i in ipcs),
    )


def parse_local_gateway(body: dict[str, Any]) -> LocalGateway:
    props = _p(body)
    bgp = props.get("bgpSettings") or {}
    return LocalGateway(
        id=body.get("id", ""),
        name=body.get("name", ""),
        location=body.get("location", ""),
        provisioning_state=props.get("provisioningState", ""),
        fqdn=props.get("fqdn", "") or "",
        gateway_ip=props.get("gatewayIpAddress", "") or "",
        address_prefixes=tuple(
            (props.get("localNetworkAddressSpace") or {}).get("addressPrefixes") or []
        ),
        bgp_asn=bgp.get("asn"),
        bgp_peering_address=bgp.get("bgpPeeringAddress", "") or "",
    )


def parse_policy(policy: dict[str, Any]) -> IpsecPolicy:
    return IpsecPolicy(
        ike_encryption=policy["ikeEncryption"],
        ike_integrity=policy["ikeIntegrity"],
        dh_group=policy["dhGroup"],
        ipsec_encryption=policy["ipsecEncryption"],
        ipsec_integrity=policy["ipsecIntegrity"],
        pfs_group=policy["pfsGroup"],
        sa_lifetime_seconds=int(policy["saLifeTimeSeconds"]),
        sa_data_size_kilobytes=int(policy["saDataSizeKilobytes"]),
    )


def parse_connection(body: dict[str, Any]) -> Connection:
    props = _p(body)
    policies = props.get("ipsecPolicies") or []
    return Connection(
        id=body.get("id", ""),
        name=body.get("name", ""),
        location=body.get("location", ""),
        provisioning_state=props.get("provisioningState", ""),
        connection_type=props.get("connectionType", ""),
        protocol=props.get("connectionProtocol", ""),
        mode=props.get("connectionMode", "") or "Default",
        enable_bgp=bool(props.get("enableBgp")),
        gateway_id=_ref(props.get("virtualNetworkGateway1")),
        local_gateway_id=_ref(props.get("localNetworkGateway2")),
        authentication_type=props.get("authenticationType", "") or "PSK",
        dpd_timeout_seconds=props.get("dpdTimeoutSeconds"),
        use_policy_based_traffic_selectors=bool(props.get("usePolicyBasedTrafficSelectors")),
        ipsec_policy=parse_policy(policies[0]) if policies else None,
        custom_bgp_ips=tuple(
            (c.get("ipConfigurationId", ""), c.get("customBgpIpAddress", ""))
            for c in props.get("gatewayCustomBgpIpAddresses") or []
        ),
        status=props.get("connectionStatus", "") or "",
        ingress_bytes=int(props.get("ingressBytesTransferred") or 0),
        egress_bytes=int(props.get("egressBytesTransferred") or 0),
    )


def parse_timespan(value: Any) -> float | None:
    """Parse .NET TimeSpan text (``d.hh:mm:ss.fffffff`` or ``hh:mm:ss``) to seconds, leniently."""
    if not isinstance(value, str) or not value:
        return None
    m = re.fullmatch(r"(?:(\d+)\.)?(\d+):(\d{1,2}):(\d{1,2})(?:\.(\d+))?", value.strip())
    if not m:
        return None
    days, hours, minutes, seconds, frac = m.groups()
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return total + (float(f"0.{frac}") if frac else 0.0)


def parse_bgp_peers(body: dict[str, Any]) -> list[BgpPeer]:
    """``BgpPeerStatusListResult`` (reference section 4.6) -> our :class:`BgpPeer` list."""
    peers = []
    for item in (body or {}).get("value") or []:
        state = BGP_STATES.get(str(item.get("state", "")).lower(), BgpState.UNKNOWN)
        peers.append(
            BgpPeer(
                neighbor=item.get("neighbor", ""),
                asn=int(item.get("asn") or 0),
                state=state,
                local_address=item.get("localAddress", "") or "",
                prefixes_received=int(item.get("routesReceived") or 0),
                uptime_seconds=parse_timespan(item.get("connectedDuration"))
                if state == BgpState.ESTABLISHED
                else None,
                messages_received=item.get("messagesReceived"),
                messages_sent=item.get("messagesSent"),
            )
        )
    return peers


def parse_routes(body: dict[str, Any]) -> list[Route]:
    """``GatewayRouteListResult`` (reference section 4.7) -> our :class:`Route` list."""
    return [
        Route(
            prefix=item.get("network", ""),
            next_hop=item.get("nextHop", "") or "",
            as_path=item.get("asPath", "") or "",
            origin=item.get("origin", "") or "",
        )
        for item in (body or {}).get("value") or []
    ]


def _wire(model: Any) -> dict[str, Any]:
    """SDK hybrid model (or dict) -> plain wire-named dict."""
    if model is None:
        return {}
    if isinstance(model, dict) and not hasattr(model, "as_dict"):
        return model
    if isinstance(model, Iterator):  # a GET with stream=True: the raw body
        raw = b"".join(model)
        return json.loads(raw) if raw.strip() else {}
    return model.as_dict()


# ---------------------------------------------------------------------------- errors


def _error_code(err: HttpResponseError) -> str:
    code = getattr(getattr(err, "error", None), "code", None)
    if code:
        return str(code)
    try:
        return str(err.response.json()["error"]["code"])  # type: ignore[union-attr]
    except Exception:
        return ""


def _error_message(err: HttpResponseError) -> str:
    msg = getattr(getattr(err, "error", None), "message", None)
    if msg:
        return str(msg)
    try:
        return str(err.response.json()["error"]["message"])  # type: ignore[union-attr]
    except Exception:
        return (err.message or str(err)).splitlines()[0]


HINTS = {
    401: "Check the service principal's tenant id, client id and secret (or re-run `az login`).",
    403: "Give the identity the 'Network Contributor' role on the resource group.",
    429: "Azure is throttling requests; s2svpn will retry.",
}


def translate(err: Exception, what: str, secrets_: tuple[str, ...] = ()) -> ClientError:
    """Azure SDK exception -> :class:`ClientError` with Azure's code and message in plain words."""
    if isinstance(err, ClientError):
        return err
    if isinstance(err, ClientAuthenticationError):
        status = err.status_code or 401
        code = _error_code(err) or "AuthenticationFailed"
        msg = f"Azure refused to authenticate while {what}: {code}: {_error_message(err)} {HINTS[401]}"
        return ClientError(_scrub(msg, secrets_), permanent=True, code=code, status=status)
    if isinstance(err, HttpResponseError):
        status = err.status_code
        code = _error_code(err)
        text = _error_message(err)
        if status == 403:
            permanent = True
        elif status == 429 or (status is not None and status >= 500) or code in TRANSIENT_CODES:
            permanent = False
        elif status is None:
            permanent = code not in TRANSIENT_CODES
        else:
            permanent = True
        hint = HINTS.get(status or 0, "")
        if code in TRANSIENT_CODES and not hint:
            hint = "s2svpn will retry when the other operation is done."
        if "Quota" in code or "LimitReached" in code or "LimitExceeded" in code:
            hint = "Request a quota increase or delete unused resources."
        msg = f"Azure refused {what}: {code or status}: {text}"
        if hint:
            msg = f"{msg} {hint}"
        return ClientError(_scrub(msg, secrets_), permanent=permanent, code=code, status=status)
    if isinstance(err, ServiceRequestError) and "not permitted for non-TLS" in str(err):
        return ClientError(
            f"Refusing to send Azure credentials over plain HTTP while {what}: use an https:// base URL.",
            permanent=True,
            code="InsecureTransport",
        )
    if isinstance(err, ServiceRequestError | ServiceResponseError | TimeoutError | ConnectionError):
        return ClientError(
            _scrub(f"Could not reach Azure while {what}: {err}. s2svpn will retry.", secrets_),
            permanent=False,
            code="ConnectionError",
        )
    return ClientError(
        _scrub(f"Unexpected error while {what}: {type(err).__name__}: {err}", secrets_),
        permanent=False,
        code=type(err).__name__,
    )


def _retry_after(value: str | None) -> float:
    """Seconds from a ``Retry-After`` header (a number; an HTTP date counts as none), capped."""
    try:
        return min(max(float(value or 0), 0.0), 60.0)
    except ValueError:
        return 0.0


def _scrub(text: str, secrets_: tuple[str, ...]) -> str:
    for secret in secrets_:
        if secret:
            text = text.replace(secret, "***")
    return text


class _StaticToken:
    """A ``TokenCredential`` returning a fixed token (the sandbox accepts any bearer token)."""

    def __init__(self, token: str = "s2svpn-sandbox-token") -> None:  # noqa: S107 - not a secret
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, 4102444800)  # 2100-01-01

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self._token, 4102444800)


# ---------------------------------------------------------------------------- the client


class AzureVpnClient:
    """The Azure half of a site, one subscription. Thread-safe as the SDK client is."""

    def __init__(
        self,
        credential: Any,
        subscription_id: str,
        *,
        base_url: str | None = None,
        connection_verify: str | bool = True,
        polling_interval: float = 30,
        timeout: float = 30,
        lro_timeout: float = 900,
        **sdk_kwargs: Any,
    ) -> None:
        kwargs: dict[str, Any] = {"polling_interval": polling_interval, **sdk_kwargs}
        if base_url:
            kwargs["base_url"] = base_url
        if connection_verify is not True:
            kwargs["connection_verify"] = connection_verify
        self.subscription_id = subscription_id
        self.timeout = timeout
        self.polling_interval = polling_interval
        self.lro_timeout = lro_timeout
        self._sdk = NetworkManagementClient(credential, subscription_id, **kwargs)
        self._call = {"connection_timeout": timeout, "read_timeout": timeout}
        # GETs take the body as bytes: we parse the JSON into our own dataclasses anyway, and the
        # SDK's model deserialization is the largest CPU cost of a status check.
        self._read = {**self._call, "stream": True}

    # ---- constructors

    @classmethod
    def from_service_principal(
        cls, tenant_id: str, client_id: str, client_secret: str, subscription_id: str, **kw: Any
    ) -> AzureVpnClient:
        """Service principal login (https://learn.microsoft.com/entra/identity-platform/app-objects-and-service-principals)."""
        from azure.identity import ClientSecretCredential

        return cls(
            ClientSecretCredential(tenant_id, client_id, client_secret), subscription_id, **kw
        )

    @classmethod
    def from_default_credential(cls, subscription_id: str, **kw: Any) -> AzureVpnClient:
        """Environment, managed identity or ``az login`` (azure-identity ``DefaultAzureCredential``)."""
        from azure.identity import DefaultAzureCredential

        return cls(DefaultAzureCredential(), subscription_id, **kw)

    @classmethod
    def for_sandbox(
        cls, base_url: str, ca_file: str, subscription_id: str, **kw: Any
    ) -> AzureVpnClient:
        """Client for the ARM sandbox: static token, HTTPS verified against the sandbox CA.

        Bearer-over-plain-HTTP refusal stays on (the sandbox serves HTTPS). Pollers default to a
        1 s interval and retries back off quickly because the sandbox is local.
        """
        kw.setdefault("polling_interval", 1)
        kw.setdefault("retry_backoff_factor", 0.05)
        kw.setdefault("retry_backoff_max", 1)
        return cls(
            _StaticToken(), subscription_id, base_url=base_url, connection_verify=str(ca_file), **kw
        )

    # ---- plumbing

    def _do(self, what: str, fn: Callable[[], T], secrets_: tuple[str, ...] = ()) -> T:
        try:
            return fn()
        except ClientError:
            raise
        except Exception as err:
            raise translate(err, what, secrets_) from None

    def _maybe(self, what: str, fn: Callable[[], Any]) -> dict[str, Any] | None:
        """GET that returns ``None`` for 404."""
        try:
            return _wire(fn())
        except ResourceNotFoundError:
            return None
        except HttpResponseError as err:
            if err.status_code == 404:
                return None
            raise translate(err, what) from None
        except Exception as err:
            raise translate(err, what) from None

    def _finish(
        self, poller: LROPoller, what: str, wait: bool, timeout: float | None = None
    ) -> Any:
        if not wait:
            # Started with polling=False (no poller thread left asking Azure): the initial answer,
            # e.g. provisioningState Updating; a POST action's bodiless 202 gives nothing.
            try:
                return poller.result() if poller.done() else None
            except (ValueError, DecodeError):
                return None
        poller.wait(timeout if timeout is not None else self.lro_timeout)
        if not poller.done():
            raise ClientError(
                f"Azure did not finish {what} within {int(timeout or self.lro_timeout)} s; s2svpn will check again.",
                permanent=False,
                code="Timeout",
            )
        return poller.result()

    @staticmethod
    def _rid(intent: SiteIntent, sub: str, seg: str, name: str) -> str:
        return f"/subscriptions/{sub}/resourceGroups/{intent.resource_group}/providers/Microsoft.Network/{seg}/{name}"

    # ---- VNets

    def list_vnets(self, resource_group: str | None = None) -> list[VNet]:
        """GET .../virtualNetworks (all, or one resource group), following ``nextLink``."""
        if resource_group:
            return self._do(
                f"listing the virtual networks of {resource_group}",
                lambda: [
                    parse_vnet(_wire(v))
                    for v in self._sdk.virtual_networks.list(resource_group, **self._call)
                ],
            )
        return self._do(
            "listing the subscription's virtual networks",
            lambda: [
                parse_vnet(_wire(v)) for v in self._sdk.virtual_networks.list_all(**self._call)
            ],
        )

    def get_vnet(self, resource_group: str, name: str) -> VNet:
        """GET a VNet with its subnets; a missing VNet is a permanent error (fix the names)."""
        body = self._maybe(
            f"reading virtual network {name}",
            lambda: self._sdk.virtual_networks.get(resource_group, name, **self._read),
        )
        if body is None:
            raise ClientError(
                f"Virtual network {name} was not found in resource group {resource_group}. Check the resource "
                "group and VNet names in the site settings.",
                permanent=True,
                code="ResourceNotFound",
                status=404,
            )
        return parse_vnet(body)

    # ---- GatewaySubnet

    def get_gateway_subnet(self, intent: SiteIntent) -> Subnet | None:
        body = self._maybe(
            "reading the GatewaySubnet",
            lambda: self._sdk.subnets.get(
                intent.resource_group, intent.vnet_name, GATEWAY_SUBNET, **self._read
            ),
        )
        return parse_subnet(body) if body is not None else None

    def ensure_gateway_subnet(self, intent: SiteIntent, *, wait: bool = True) -> Subnet:
        """Create ``GatewaySubnet`` with the intent's prefix, or adopt an identical one.

        An existing GatewaySubnet with another prefix is a permanent conflict: Azure allows one per
        VNet and it cannot be resized while a gateway uses it.
        """
        existing = self.get_gateway_subnet(intent)
        if existing is not None:
            if existing.address_prefix != intent.gateway_subnet_prefix:
                raise ClientError(
                    f"VNet {intent.vnet_name} already has a GatewaySubnet {existing.address_prefix}, but this site "
                    f"wants {intent.gateway_subnet_prefix}. Use {existing.address_prefix} in the site settings, or "
                    "delete the existing GatewaySubnet if nothing uses it.",
                    permanent=True,
                    code="GatewaySubnetConflict",
                )
            return _with(
                existing,
                "in_progress" if existing.provisioning_state == "Updating" else "unchanged",
            )
        body = {"properties": {"addressPrefix": intent.gateway_subnet_prefix}}
        poller = self._do(
            "creating the GatewaySubnet",
            lambda: self._sdk.subnets.begin_create_or_update(
                intent.resource_group,
                intent.vnet_name,
                GATEWAY_SUBNET,
                body,
                polling=wait,
                **self._call,
            ),
        )
        result = self._do(
            "creating the GatewaySubnet",
            lambda: self._finish(poller, "creating the GatewaySubnet", wait),
        )
        subnet = (
            parse_subnet(_wire(result)) if result is not None else self.get_gateway_subnet(intent)
        )
        return _with(subnet, "created")  # type: ignore[arg-type]

    # ---- public IPs

    def get_public_ip(self, intent: SiteIntent, name: str) -> PublicIp | None:
        body = self._maybe(
            f"reading public IP {name}",
            lambda: self._sdk.public_ip_addresses.get(intent.resource_group, name, **self._read),
        )
        return parse_public_ip(body) if body is not None else None

    def ensure_public_ips(self, intent: SiteIntent, *, wait: bool = True) -> list[PublicIp]:
        """Standard, Static IPv4 public IP(s) for the gateway (two when active-active); zone-redundant
        for the AZ SKUs. Existing IPs are adopted when they match; a Basic/Dynamic or differently
        zoned IP with our name is a permanent conflict (SKU and zones cannot be changed)."""
        zones = list(AZ_ZONES) if intent.sku.endswith("AZ") else []
        out = []
        for name in intent.public_ip_names:
            existing = self.get_public_ip(intent, name)
            if existing is not None:
                problems = []
                if existing.sku != "Standard":
                    problems.append(f"SKU {existing.sku} (needs Standard)")
                if existing.allocation != "Static":
                    problems.append(f"allocation {existing.allocation} (needs Static)")
                if sorted(existing.zones) != zones:
                    problems.append(
                        f"zones {list(existing.zones) or 'none'} (needs {zones or 'none'})"
                    )
                if problems:
                    raise ClientError(
                        f"Public IP {name} already exists with {', '.join(problems)}. These cannot be changed: "
                        "delete it in the Azure portal, or pick another site name.",
                        permanent=True,
                        code="PublicIpConflict",
                    )
                out.append(
                    _with(
                        existing,
                        "in_progress" if existing.provisioning_state == "Updating" else "unchanged",
                    )
                )
                continue
            body: dict[str, Any] = {
                "location": intent.location,
                "sku": {"name": "Standard", "tier": "Regional"},
                "properties": {
                    "publicIPAllocationMethod": "Static",
                    "publicIPAddressVersion": "IPv4",
                },
                "tags": {"s2svpn": intent.slug},
            }
            if zones:
                body["zones"] = zones
            poller = self._do(
                f"creating public IP {name}",
                lambda n=name, b=body: self._sdk.public_ip_addresses.begin_create_or_update(
                    intent.resource_group, n, b, polling=wait, **self._call
                ),
            )
            result = self._do(
                f"creating public IP {name}",
                lambda p=poller, n=name: self._finish(p, f"creating public IP {n}", wait),
            )
            pip = (
                parse_public_ip(_wire(result))
                if result is not None
                else self.get_public_ip(intent, name)
            )
            out.append(_with(pip, "created"))  # type: ignore[arg-type]
        return out

    # ---- the VPN gateway

    def gateway_body(
        self, intent: SiteIntent, subnet_id: str, public_ip_ids: list[str] | tuple[str, ...]
    ) -> dict[str, Any]:
        """The gateway PUT body (reference section 4.3)."""
        gw_id = self._rid(
            intent, self.subscription_id, "virtualNetworkGateways", intent.gateway_name
        )
        wanted = 2 if intent.active_active else 1
        if len(public_ip_ids) != wanted:
            raise ClientError(
                f"The gateway needs {wanted} public IP(s) ({'active-active' if intent.active_active else 'active-standby'}), "
                f"got {len(public_ip_ids)}. Run the public IP step first.",
                permanent=True,
                code="PublicIpCountMismatch",
            )
        ipcs = [
            {
                "name": IPCONFIG_NAMES[i],
                "properties": {
                    "privateIPAllocationMethod": "Dynamic",
                    "subnet": {"id": subnet_id},
                    "publicIPAddress": {"id": pip_id},
                },
            }
            for i, pip_id in enumerate(public_ip_ids)
        ]
        bgp: dict[str, Any] = {"asn": intent.azure_asn}
        if intent.bgp_mode == "apipa" and intent.azure_apipa_ip:
            bgp["bgpPeeringAddresses"] = [
                {
                    "ipconfigurationId": f"{gw_id}/ipConfigurations/{IPCONFIG_NAMES[0]}",
                    "customBgpIpAddresses": [intent.azure_apipa_ip],
                }
            ]
        return {
            "location": intent.location,
            "tags": {"s2svpn": intent.slug},
            "properties": {
                "gatewayType": "Vpn",
                "vpnType": "RouteBased",
                "vpnGatewayGeneration": intent.generation,
                "sku": {"name": intent.sku, "tier": intent.sku},
                "activeActive": intent.active_active,
                "enableBgp": True,
                "bgpSettings": bgp,
                "ipConfigurations": ipcs,
            },
        }

    def get_gateway(self, intent: SiteIntent) -> Gateway | None:
        """GET the gateway (provisioning state, BGP IPs, public IPs); ``None`` when absent."""
        body = self._maybe(
            "reading the VPN gateway",
            lambda: self._sdk.virtual_network_gateways.get(
                intent.resource_group, intent.gateway_name, **self._read
            ),
        )
        return parse_gateway(body) if body is not None else None

    def _gateway_differences(
        self, gw: Gateway, intent: SiteIntent, subnet_id: str, pip_ids: list[str]
    ) -> tuple[list[str], list[str]]:
        """(changes Azure can apply in place, conflicts that need delete/recreate)."""
        conflicts, changes = [], []
        if gw.gateway_type and gw.gateway_type != "Vpn":
            conflicts.append(f"gateway type {gw.gateway_type} (wanted Vpn)")
        if gw.vpn_type != "RouteBased":
            conflicts.append(f"VPN type {gw.vpn_type} (wanted RouteBased)")
        if gw.generation and gw.generation not in ("None", intent.generation):
            conflicts.append(f"generation {gw.generation} (wanted {intent.generation})")
        if gw.sku != intent.sku:
            if gw.sku.endswith("AZ") != intent.sku.endswith("AZ") or "Basic" in (
                gw.sku,
                intent.sku,
            ):
                conflicts.append(
                    f"SKU {gw.sku} (wanted {intent.sku}; resizing across SKU families is not possible)"
                )
            else:
                changes.append(f"SKU {gw.sku} -> {intent.sku}")
        if gw.subnet_id.lower() != subnet_id.lower():
            conflicts.append(f"subnet {gw.subnet_id} (wanted {subnet_id})")
        if [p.lower() for p in gw.public_ip_ids] != [p.lower() for p in pip_ids]:
            changes.append("public IPs / active-active setting")
        if gw.active_active != intent.active_active:
            changes.append(f"active-active {gw.active_active} -> {intent.active_active}")
        if not gw.enable_bgp:
            changes.append("enable BGP")
        if gw.asn != intent.azure_asn:
            changes.append(f"ASN {gw.asn} -> {intent.azure_asn}")
        want_custom = (
            (intent.azure_apipa_ip,) if intent.bgp_mode == "apipa" and intent.azure_apipa_ip else ()
        )
        if tuple(gw.custom_bgp_ips) != want_custom:
            changes.append(f"custom BGP IPs {list(gw.custom_bgp_ips)} -> {list(want_custom)}")
        return changes, conflicts

    def start_gateway(
        self, intent: SiteIntent, subnet_id: str, public_ip_ids: list[str] | tuple[str, ...]
    ) -> Gateway:
        """Start creating (or updating) the VPN gateway and return at once; never waits for the build.

        Idempotent: an existing gateway that is ``Updating`` is returned as is (``in_progress``);
        one that matches the intent and ``Succeeded`` is ``unchanged`` (no PUT is sent); one that
        ``Failed`` or differs in an updatable setting is PUT again (``updated``); a difference Azure
        cannot apply in place is a permanent error.
        """
        pip_ids = list(public_ip_ids)
        existing = self.get_gateway(intent)
        action = "created"
        if existing is not None:
            if existing.provisioning_state in ("Updating", "Creating"):
                return _with(existing, "in_progress")
            if existing.provisioning_state == "Deleting":
                raise ClientError(
                    f"VPN gateway {intent.gateway_name} is being deleted; s2svpn will create it again once the "
                    "deletion has finished.",
                    permanent=False,
                    code="ResourceBeingDeleted",
                )
            changes, conflicts = self._gateway_differences(existing, intent, subnet_id, pip_ids)
            if conflicts:
                raise ClientError(
                    f"VPN gateway {intent.gateway_name} already exists with {'; '.join(conflicts)}. Azure cannot "
                    "change this in place: delete the gateway (teardown) and provision again, or adjust the site.",
                    permanent=True,
                    code="GatewayConflict",
                )
            if not changes and existing.provisioning_state == "Succeeded":
                return _with(existing, "unchanged")
            action = "updated"
        body = self.gateway_body(intent, subnet_id, pip_ids)
        poller = self._do(
            "starting the VPN gateway build",
            lambda: self._sdk.virtual_network_gateways.begin_create_or_update(
                intent.resource_group, intent.gateway_name, body, polling=False, **self._call
            ),
        )
        initial = self._do("starting the VPN gateway build", lambda: poller.result())
        gw = parse_gateway(_wire(initial)) if initial is not None else self.get_gateway(intent)
        log.info(
            "VPN gateway %s: %s (provisioningState %s)",
            intent.gateway_name,
            action,
            getattr(gw, "provisioning_state", "?"),
        )
        return _with(gw, action)  # type: ignore[arg-type]

    def reset_gateway(
        self, intent: SiteIntent, *, gateway_vip: str | None = None, wait: bool = False
    ) -> Gateway | None:
        """POST .../reset (forces the FQDN local gateway to be resolved again); non-blocking by default."""
        kwargs: dict[str, Any] = {**self._call, "polling": wait}
        if gateway_vip:
            kwargs["gateway_vip"] = gateway_vip
        poller = self._do(
            "resetting the VPN gateway",
            lambda: self._sdk.virtual_network_gateways.begin_reset(
                intent.resource_group, intent.gateway_name, **kwargs
            ),
        )
        result = self._do(
            "resetting the VPN gateway",
            lambda: self._finish(poller, "resetting the VPN gateway", wait),
        )
        return parse_gateway(_wire(result)) if result is not None else None

    # ---- local network gateway

    def local_gateway_body(self, intent: SiteIntent) -> dict[str, Any]:
        """The LNG PUT body (reference section 4.4): FQDN or IP, BGP ASN/peer, optional prefixes."""
        props: dict[str, Any] = {
            "localNetworkAddressSpace": {"addressPrefixes": list(intent.lng_prefixes)},
            "bgpSettings": {"asn": intent.onprem_asn, "bgpPeeringAddress": _onprem_bgp_ip(intent)},
        }
        if intent.onprem_public_ip:
            props["gatewayIpAddress"] = intent.onprem_public_ip
        else:
            props["fqdn"] = intent.onprem_fqdn
        return {"location": intent.location, "tags": {"s2svpn": intent.slug}, "properties": props}

    def get_local_gateway(self, intent: SiteIntent) -> LocalGateway | None:
        body = self._maybe(
            "reading the local network gateway",
            lambda: self._sdk.local_network_gateways.get(
                intent.resource_group, intent.lng_name, **self._read
            ),
        )
        return parse_local_gateway(body) if body is not None else None

    def ensure_local_gateway(self, intent: SiteIntent, *, wait: bool = True) -> LocalGateway:
        """Create, adopt or update the local network gateway (every field can be updated in place;
        a different location is a permanent conflict)."""
        existing = self.get_local_gateway(intent)
        action = "created"
        if existing is not None:
            if (
                existing.location
                and existing.location.replace(" ", "").lower()
                != intent.location.replace(" ", "").lower()
            ):
                raise ClientError(
                    f"Local network gateway {intent.lng_name} already exists in {existing.location}, not "
                    f"{intent.location}. Delete it or choose the same region.",
                    permanent=True,
                    code="LocalGatewayConflict",
                )
            if existing.provisioning_state == "Updating":
                return _with(existing, "in_progress")
            want_fqdn = "" if intent.onprem_public_ip else intent.onprem_fqdn
            same = (
                existing.fqdn == want_fqdn
                and existing.gateway_ip == intent.onprem_public_ip
                and tuple(existing.address_prefixes) == tuple(intent.lng_prefixes)
                and existing.bgp_asn == intent.onprem_asn
                and existing.bgp_peering_address == _onprem_bgp_ip(intent)
            )
            if same and existing.provisioning_state == "Succeeded":
                return _with(existing, "unchanged")
            action = "updated"
        body = self.local_gateway_body(intent)
        poller = self._do(
            "saving the local network gateway",
            lambda: self._sdk.local_network_gateways.begin_create_or_update(
                intent.resource_group, intent.lng_name, body, polling=wait, **self._call
            ),
        )
        result = self._do(
            "saving the local network gateway",
            lambda: self._finish(poller, "saving the local network gateway", wait),
        )
        lng = (
            parse_local_gateway(_wire(result))
            if result is not None
            else self.get_local_gateway(intent)
        )
        return _with(lng, action)  # type: ignore[arg-type]

    # ---- connection

    def connection_body(
        self, intent: SiteIntent, gateway_id: str, lng_id: str, psk: str
    ) -> dict[str, Any]:
        """The connection PUT body (reference section 4.5)."""
        p = intent.policy
        props: dict[str, Any] = {
            "connectionType": "IPsec",
            "connectionProtocol": "IKEv2",
            "connectionMode": intent.connection_mode,
            "virtualNetworkGateway1": {"id": gateway_id},
            "localNetworkGateway2": {"id": lng_id},
            "sharedKey": psk,
            "enableBgp": True,
            "usePolicyBasedTrafficSelectors": False,
            "dpdTimeoutSeconds": intent.dpd_timeout_seconds,
            "ipsecPolicies": [
                {
                    "saLifeTimeSeconds": p.sa_lifetime_seconds,
                    "saDataSizeKilobytes": p.sa_data_size_kilobytes,
                    "ipsecEncryption": p.ipsec_encryption,
                    "ipsecIntegrity": p.ipsec_integrity,
                    "ikeEncryption": p.ike_encryption,
                    "ikeIntegrity": p.ike_integrity,
                    "dhGroup": p.dh_group,
                    "pfsGroup": p.pfs_group,
                }
            ],
        }
        if intent.bgp_mode == "apipa" and intent.azure_apipa_ip:
            props["gatewayCustomBgpIpAddresses"] = [
                {
                    "ipConfigurationId": f"{gateway_id}/ipConfigurations/{IPCONFIG_NAMES[0]}",
                    "customBgpIpAddress": intent.azure_apipa_ip,
                }
            ]
        return {"location": intent.location, "tags": {"s2svpn": intent.slug}, "properties": props}

    def get_connection(self, intent: SiteIntent) -> Connection | None:
        """GET the connection: status, byte counters, provisioning state; ``None`` when absent."""
        body = self._maybe(
            "reading the connection",
            lambda: self._sdk.virtual_network_gateway_connections.get(
                intent.resource_group, intent.connection_name, **self._read
            ),
        )
        return parse_connection(body) if body is not None else None

    def ensure_connection(
        self, intent: SiteIntent, gateway_id: str, lng_id: str, psk: str, *, wait: bool = True
    ) -> Connection:
        """Create, adopt or update the IPsec connection (IKEv2, enableBgp, one custom policy).

        The PSK is not compared here (Azure does not return it on GET): call
        :meth:`set_shared_key` / :meth:`shared_key_matches`. Changing the protocol or the gateways
        a connection joins is impossible in place (permanent conflict).
        """
        existing = self.get_connection(intent)
        action = "created"
        if existing is not None:
            conflicts = []
            if existing.protocol and existing.protocol != "IKEv2":
                conflicts.append(
                    f"protocol {existing.protocol} (wanted IKEv2; cannot change after creation)"
                )
            if existing.gateway_id.lower() != gateway_id.lower():
                conflicts.append(f"gateway {existing.gateway_id}")
            if existing.local_gateway_id.lower() != lng_id.lower():
                conflicts.append(f"local network gateway {existing.local_gateway_id}")
            if existing.connection_type and existing.connection_type != "IPsec":
                conflicts.append(f"type {existing.connection_type}")
            if conflicts:
                raise ClientError(
                    f"Connection {intent.connection_name} already exists with {', '.join(conflicts)}. Delete the "
                    "connection (teardown) and provision again.",
                    permanent=True,
                    code="ConnectionConflict",
                )
            if existing.provisioning_state == "Updating":
                return _with(existing, "in_progress")
            want_custom = (
                (
                    (f"{gateway_id}/ipConfigurations/{IPCONFIG_NAMES[0]}").lower(),
                    intent.azure_apipa_ip,
                )
                if intent.bgp_mode == "apipa" and intent.azure_apipa_ip
                else None
            )
            have_custom = tuple((a.lower(), b) for a, b in existing.custom_bgp_ips)
            same = (
                existing.mode == intent.connection_mode
                and existing.enable_bgp
                and existing.ipsec_policy == intent.policy
                and existing.dpd_timeout_seconds == intent.dpd_timeout_seconds
                and not existing.use_policy_based_traffic_selectors
                and have_custom == ((want_custom,) if want_custom else ())
            )
            if same and existing.provisioning_state == "Succeeded":
                return _with(existing, "unchanged")
            action = "updated"
        body = self.connection_body(intent, gateway_id, lng_id, psk)
        poller = self._do(
            "saving the connection",
            lambda: self._sdk.virtual_network_gateway_connections.begin_create_or_update(
                intent.resource_group, intent.connection_name, body, polling=wait, **self._call
            ),
            (psk,),
        )
        result = self._do(
            "saving the connection",
            lambda: self._finish(poller, "saving the connection", wait),
            (psk,),
        )
        conn = (
            parse_connection(_wire(result)) if result is not None else self.get_connection(intent)
        )
        return _with(conn, action)  # type: ignore[arg-type]

    def set_shared_key(self, intent: SiteIntent, psk: str, *, wait: bool = True) -> None:
        """PUT .../connections/{name}/sharedkey. The key is never logged nor put in an error."""
        poller = self._do(
            "setting the connection's shared key",
            lambda: self._sdk.virtual_network_gateway_connections.begin_set_shared_key(
                intent.resource_group,
                intent.connection_name,
                {"value": psk},
                polling=wait,
                **self._call,
            ),
            (psk,),
        )
        self._do(
            "setting the connection's shared key",
            lambda: self._finish(poller, "setting the shared key", wait),
            (psk,),
        )

    def shared_key_matches(self, intent: SiteIntent, psk: str) -> bool:
        """GET .../sharedkey and compare with ``psk`` in constant time."""
        result = self._do(
            "reading back the connection's shared key",
            lambda: self._sdk.virtual_network_gateway_connections.get_shared_key(
                intent.resource_group, intent.connection_name, **self._read
            ),
            (psk,),
        )
        value = _wire(result).get("value", "") or ""
        return hmac.compare_digest(value.encode(), psk.encode())

    # ---- BGP and routes

    def _post_result(
        self, what: str, start: Callable[[], LROPoller], timeout: float | None = None
    ) -> dict[str, Any]:
        poller = self._do(what, start)
        return _wire(self._do(what, lambda: self._finish(poller, what, True, timeout)))

    def bgp_peer_status(self, intent: SiteIntent, *, timeout: float | None = None) -> list[BgpPeer]:
        """POST .../getBgpPeerStatus -> peers with their state normalised to :class:`BgpState`."""
        body = self._post_result(
            "reading BGP peer status",
            lambda: self._sdk.virtual_network_gateways.begin_get_bgp_peer_status(
                intent.resource_group, intent.gateway_name, **self._call
            ),
            timeout,
        )
        return parse_bgp_peers(body)

    def learned_routes(self, intent: SiteIntent, *, timeout: float | None = None) -> list[Route]:
        """POST .../getLearnedRoutes."""
        body = self._post_result(
            "reading learned routes",
            lambda: self._sdk.virtual_network_gateways.begin_get_learned_routes(
                intent.resource_group, intent.gateway_name, **self._call
            ),
            timeout,
        )
        return parse_routes(body)

    def advertised_routes(
        self, intent: SiteIntent, peer: str, *, timeout: float | None = None
    ) -> list[Route]:
        """POST .../getAdvertisedRoutes?peer=<ip>."""
        body = self._post_result(
            f"reading routes advertised to {peer}",
            lambda: self._sdk.virtual_network_gateways.begin_get_advertised_routes(
                intent.resource_group, intent.gateway_name, peer=peer, **self._call
            ),
            timeout,
        )
        return parse_routes(body)

    # ---- BGP reads that never hold a worker (start now, collect on a later check)

    def start_bgp_reads(self, intent: SiteIntent) -> dict[str, Any]:
        """Start getBgpPeerStatus, getLearnedRoutes and getAdvertisedRoutes without waiting.

        Returns ``{name: {"url": <Location to poll>, "retry_after": s} | {"body": <result>}}``
        (plain JSON, so a caller may keep it between checks); collect with
        :meth:`collect_bgp_reads`, or use :meth:`read_bgp` to wait for all three.
        """
        ops = self._sdk.virtual_network_gateways
        rg, gw = intent.resource_group, intent.gateway_name
        starts = {
            "peers": lambda: ops.begin_get_bgp_peer_status(rg, gw, polling=False, **self._call),
            "learned": lambda: ops.begin_get_learned_routes(rg, gw, polling=False, **self._call),
            "advertised": lambda: ops.begin_get_advertised_routes(
                rg, gw, peer=_onprem_bgp_ip(intent), polling=False, **self._call
            ),
        }
        out: dict[str, Any] = {}
        for name, start in starts.items():
            poller = self._do(f"starting the BGP read {name}", start)
            initial = poller.polling_method()._initial_response.http_response
            location = initial.headers.get("Location") or initial.headers.get("location")
            if initial.status_code == 202 and location:
                out[name] = {
                    "url": location,
                    "retry_after": _retry_after(initial.headers.get("Retry-After")),
                }
            else:
                out[name] = {"body": initial.json() if initial.text() else {}}
        return out

    def collect_bgp_reads(self, reads: dict[str, Any]) -> dict[str, Any] | None:
        """Poll each started read once; ``None`` while any is still running, else the results as
        ``{"peers": [BgpPeer], "learned": [Route], "advertised": [Route]}``."""
        from azure.core.rest import HttpRequest

        for item in reads.values():
            if "body" in item:
                continue
            response = self._do(
                "reading a BGP result",
                lambda url=item["url"]: self._sdk.send_request(
                    HttpRequest("GET", url), **self._call
                ),
            )
            if response.status_code == 202:
                item["url"] = response.headers.get("Location", item["url"])
                item["retry_after"] = _retry_after(response.headers.get("Retry-After"))
                continue
            if response.status_code >= 400:
                raise ClientError(
                    f"Azure answered {response.status_code} while reading BGP state; s2svpn "
                    "will ask again.",
                    permanent=False,
                    code="BgpReadFailed",
                    status=response.status_code,
                )
            item["body"] = response.json() if response.text() else {}
            item.pop("url", None)
        if any("body" not in item for item in reads.values()):
            return None
        return {
            "peers": parse_bgp_peers(reads["peers"]["body"]),
            "learned": parse_routes(reads["learned"]["body"]),
            "advertised": parse_routes(reads["advertised"]["body"]),
        }

    def read_bgp(self, intent: SiteIntent, *, timeout: float | None = None) -> dict[str, Any]:
        """The three BGP reads at once (Azure runs them side by side): one wait, not three.

        Polls at Azure's ``Retry-After`` when it sends one, else at the client's polling interval.
        """
        reads = self.start_bgp_reads(intent)
        deadline = time.monotonic() + (timeout if timeout is not None else self.lro_timeout)
        while True:
            result = self.collect_bgp_reads(reads)
            if result is not None:
                return result
            pause = max(
                [float(item.get("retry_after") or 0) for item in reads.values() if "url" in item]
                + [self.polling_interval]
            )
            if time.monotonic() + pause > deadline:
                raise ClientError(
                    "Azure did not finish reading the gateway's BGP state in time; s2svpn will "
                    "ask again.",
                    permanent=False,
                    code="Timeout",
                )
            time.sleep(pause)

    def read_status(self, intent: SiteIntent) -> EndStatus:
        """One reading for the monitor; failures come back as ``EndStatus(error=...)``, never raise."""
        try:
            conn = self.get_connection(intent)
            if conn is None:
                return EndStatus(
                    error=f"Connection {intent.connection_name} does not exist in Azure; provision the site first.",
                    details={"missing": "connection"},
                )
            status = EndStatus(
                tunnel=CONNECTION_STATES.get(conn.status.lower(), TunnelState.UNKNOWN),
                bytes_in=conn.ingress_bytes,
                bytes_out=conn.egress_bytes,
                details={
                    "connection_status": conn.status,
                    "provisioning_state": conn.provisioning_state,
                },
            )
            bgp = self.read_bgp(intent, timeout=self.timeout)
            status.bgp_peers = bgp["peers"]
            status.learned_routes = bgp["learned"]
            status.advertised_routes = bgp["advertised"]
            return status
        except ClientError as err:
            return EndStatus(
                error=err.message, details={"code": err.code, "permanent": err.permanent}
            )

    # ---- deletes

    def _delete(
        self,
        what: str,
        get: Callable[[], dict[str, Any] | None],
        start: Callable[[], LROPoller],
        wait: bool,
    ) -> str:
        body = get()
        if body is None:
            return "gone"
        if _p(body).get("provisioningState") == "Deleting" and not wait:
            return "deleting"
        poller = self._do(f"deleting {what}", start)
        if wait:
            self._do(f"deleting {what}", lambda: self._finish(poller, f"deleting {what}", True))
            return "deleted"
        return "deleted" if get() is None else "deleting"

    def _delete_named(self, ops: Any, what: str, path: tuple[str, ...], wait: bool) -> str:
        """DELETE the resource at ``ops`` / ``path`` (resource group first): see :meth:`_delete`."""
        return self._delete(
            what,
            lambda: self._maybe(f"reading {what}", lambda: ops.get(*path, **self._read)),
            lambda: ops.begin_delete(*path, polling=False, **self._call),
            wait,
        )

    def delete_connection(self, intent: SiteIntent, *, wait: bool = False) -> str:
        """DELETE the connection: ``"deleted" | "gone" | "deleting"`` (re-check until not deleting)."""
        return self._delete_named(
            self._sdk.virtual_network_gateway_connections,
            f"connection {intent.connection_name}",
            (intent.resource_group, intent.connection_name),
            wait,
        )

    def delete_local_gateway(self, intent: SiteIntent, *, wait: bool = False) -> str:
        return self._delete_named(
            self._sdk.local_network_gateways,
            f"local network gateway {intent.lng_name}",
            (intent.resource_group, intent.lng_name),
            wait,
        )

    def delete_gateway(self, intent: SiteIntent, *, wait: bool = False) -> str:
        return self._delete_named(
            self._sdk.virtual_network_gateways,
            f"VPN gateway {intent.gateway_name}",
            (intent.resource_group, intent.gateway_name),
            wait,
        )

    def delete_public_ips(self, intent: SiteIntent, *, wait: bool = False) -> str:
        """Delete every public IP of the site; ``"deleting"`` while any is still going away."""
        results = [
            self._delete_named(
                self._sdk.public_ip_addresses,
                f"public IP {name}",
                (intent.resource_group, name),
                wait,
            )
            for name in _all_pip_names(intent)
        ]
        if "deleting" in results:
            return "deleting"
        return "deleted" if "deleted" in results else "gone"

    def delete_gateway_subnet(self, intent: SiteIntent, *, wait: bool = False) -> str:
        return self._delete_named(
            self._sdk.subnets,
            "the GatewaySubnet",
            (intent.resource_group, intent.vnet_name, GATEWAY_SUBNET),
            wait,
        )

    def close(self) -> None:
        self._sdk.close()


# ---------------------------------------------------------------------------- helpers


def _with(obj: T, action: str) -> T:
    from dataclasses import replace

    return replace(obj, action=action)  # type: ignore[type-var]


def _onprem_bgp_ip(intent: SiteIntent) -> str:
    if intent.bgp_mode == "apipa" and intent.onprem_apipa_ip:
        return intent.onprem_apipa_ip
    return intent.onprem_bgp_ip


def _all_pip_names(intent: SiteIntent) -> tuple[str, ...]:
    """Both possible names, so teardown also removes a second IP left from an active-active past."""
    names = list(intent.public_ip_names)
    second = f"s2svpn-{intent.slug}-pip2"
    if second not in names:
        names.append(second)
    return tuple(names)
