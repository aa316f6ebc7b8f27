"""How the ARM sandbox meets the shared :class:`~s2svpn.sandbox.world.World`.

Each connection is published as an :class:`~s2svpn.sandbox.world.AzureEnd` (gateway public IPs,
BGP addresses, the local network gateway as Azure resolves it, PSK, IPsec policy); connection
status and byte counters are rendered from the world's :class:`~s2svpn.sandbox.world.TunnelView`.
"""

from __future__ import annotations

import copy
from typing import Any

from s2svpn.intent import IpsecPolicy
from s2svpn.sandbox import armstate as rules
from s2svpn.sandbox.arm.store import ArmStore, Record, id_key, ref_id
from s2svpn.sandbox.world import AzureEnd, TunnelView, World

# IpsecPolicy field -> ARM's name in ipsecPolicies[] (a table, not a parser shared with the client)
POLICY_WIRE = {
    "ike_encryption": "ikeEncryption",
    "ike_integrity": "ikeIntegrity",
    "dh_group": "dhGroup",
    "ipsec_encryption": "ipsecEncryption",
    "ipsec_integrity": "ipsecIntegrity",
    "pfs_group": "pfsGroup",
    "sa_lifetime_seconds": "saLifeTimeSeconds",
    "sa_data_size_kilobytes": "saDataSizeKilobytes",
}


def _status(views: list[TunnelView]) -> str:
    """Azure's connectionStatus: Connected while any instance's tunnel is up (an active-active
    connection stays Connected through one instance's maintenance - our reading; the per-tunnel
    truth is in tunnelConnectionStatus)."""
    if any(v.ike_up and v.child_up for v in views):
        return "Connected"
    if any(v.ike_up for v in views):
        return "Connecting"
    return "NotConnected"


class WorldLink(ArmStore):
    world: World | None
    _world_keys: set[str]
    _connected_since: dict[str, float]

    def _render(self, rec: Record) -> dict[str, Any]:
        body = copy.deepcopy(rec["body"])
        seg = rec["seg"]
        if seg == "virtualNetworks":
            prefix = id_key(body["id"]) + "/subnets/"
            body["properties"]["subnets"] = [
                copy.deepcopy(r["body"])
                for k, r in self._state["resources"].items()
                if k.startswith(prefix)
            ]
        elif seg == "connections":
            self._render_connection(rec, body)
        return body

    def _render_connection(self, rec: Record, body: dict[str, Any]) -> None:
        props = body["properties"]
        views = self._views_for(body["id"])
        status = _status(views)
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
        if len(views) > 1:
            # One entry per instance's tunnel (schema: tunnelConnectionStatus[] = {tunnel,
            # connectionStatus, ...}). The tunnel name format is our guess: "<connection>_<public
            # IP of the instance>"; s2svpn reads the public IP part only as a label.
            props["tunnelConnectionStatus"] = [
                {
                    "tunnel": f"{body['name']}_{view.azure_public_ip}",
                    "connectionStatus": _status([view]),
                    "ingressBytesTransferred": 0,
                    "egressBytesTransferred": 0,
                }
                for view in views
            ]
        props.pop("sharedKey", None)

    def _views(self) -> list[TunnelView]:
        if self.world is None:
            return []
        try:
            return list(self.world.view())
        except Exception:  # the evaluation is someone else's code; a broken world = no tunnel
            return []

    def _view_for(self, connection_id: str, instance: int = 0) -> TunnelView | None:
        for view in self._views_for(connection_id):
            if view.instance == instance:
                return view
        return None

    def _views_for(self, connection_id: str) -> list[TunnelView]:
        """The connection's tunnels, one per gateway instance."""
        return [v for v in self._views() if id_key(v.azure_key) == id_key(connection_id)]

    def _azure_end(self, rec: Record) -> AzureEnd | None:
        props = rec["body"]["properties"]
        gw = self._get(ref_id(props.get("virtualNetworkGateway1")))
        lng = self._get(ref_id(props.get("localNetworkGateway2")))
        if gw is None or lng is None:
            return None
        gprops, lprops = gw["body"]["properties"], lng["body"]["properties"]
        pips = []
        for ipc in gprops.get("ipConfigurations", []):
            pip = self._get(ref_id(ipc.get("properties", {}).get("publicIPAddress")))
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
            policy = IpsecPolicy(**{ours: policies[0][wire] for ours, wire in POLICY_WIRE.items()})
        fqdn = lprops.get("fqdn", "") if not lprops.get("gatewayIpAddress") else ""
        lng_ip = lprops.get("gatewayIpAddress", "")
        if fqdn and self.world is not None:
            lng_ip = self.world.lookup(fqdn)
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
            advertised_prefixes=tuple(self._vnet_prefixes_of(gprops)),
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
