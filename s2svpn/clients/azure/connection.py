"""The IPsec connection between the VPN gateway and the local network gateway (IKEv2, BGP, one
custom IPsec/IKE policy), and its pre-shared key through the ``sharedkey`` operation. The key is
never logged nor put in an error message.

Connections: https://learn.microsoft.com/rest/api/network-gateway/virtual-network-gateway-connections
"""

from __future__ import annotations

import hmac
from typing import Any

from s2svpn.clients.azure.models import (
    Connection,
    custom_bgp_ips,
    custom_bgp_pairs,
    with_action,
)
from s2svpn.clients.azure.parse import CONNECTIONS, policy_wire
from s2svpn.clients.azure.session import ArmSession
from s2svpn.clients.errors import ClientError
from s2svpn.intent import SiteIntent


class Connections(ArmSession):
    """The connection and its shared key."""

    def connection_body(
        self, intent: SiteIntent, gateway_id: str, lng_id: str, psk: str
    ) -> dict[str, Any]:
        """The connection PUT body (reference section 4.5)."""
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
            "ipsecPolicies": [policy_wire(intent.policy)],
        }
        if custom_bgp_ips(intent):
            props["gatewayCustomBgpIpAddresses"] = [
                {"ipConfigurationId": ipc_id, "customBgpIpAddress": ip}
                for ipc_id, ip in custom_bgp_pairs(intent, gateway_id)
            ]
        return {"location": intent.location, "tags": {"s2svpn": intent.slug}, "properties": props}

    def get_connection(self, intent: SiteIntent) -> Connection | None:
        """GET the connection: status, byte counters, provisioning state; ``None`` when absent."""
        path = (intent.resource_group, intent.connection_name)
        return self._get(CONNECTIONS, "the connection", path)

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
                return with_action(existing, "in_progress")
            want_custom = tuple((a.lower(), b) for a, b in custom_bgp_pairs(intent, gateway_id))
            have_custom = tuple((a.lower(), b) for a, b in existing.custom_bgp_ips)
            same = (
                existing.mode == intent.connection_mode
                and existing.enable_bgp
                and existing.ipsec_policy == intent.policy
                and existing.dpd_timeout_seconds == intent.dpd_timeout_seconds
                and not existing.use_policy_based_traffic_selectors
                and have_custom == want_custom
            )
            if same and existing.provisioning_state == "Succeeded":
                return with_action(existing, "unchanged")
            action = "updated"
        path = (intent.resource_group, intent.connection_name)
        body = self.connection_body(intent, gateway_id, lng_id, psk)
        return self._save(
            CONNECTIONS, "the connection", path, body, action=action, wait=wait, secrets_=(psk,)
        )

    def set_shared_key(self, intent: SiteIntent, psk: str, *, wait: bool = True) -> None:
        """PUT .../connections/{name}/sharedkey. The key is never logged nor put in an error."""
        self._lro(
            "setting the connection's shared key",
            self._sdk.virtual_network_gateway_connections.begin_set_shared_key,
            intent.resource_group,
            intent.connection_name,
            {"value": psk},
            wait=wait,
            secrets_=(psk,),
        )

    def shared_key_matches(self, intent: SiteIntent, psk: str) -> bool:
        """GET .../sharedkey and compare with ``psk`` in constant time."""
        url = self._url(CONNECTIONS, (intent.resource_group, intent.connection_name), "sharedkey")
        response = self._send("reading back the connection's shared key", "GET", url)
        value = str(response.json().get("value", "") or "")
        return hmac.compare_digest(value.encode(), psk.encode())
