"""BGP as the ARM sandbox's gateways report it: ``getBgpPeerStatus``, ``getLearnedRoutes`` and
``getAdvertisedRoutes`` (results of the gateway's POST operations), built from the gateway, its
BGP connections and the shared world's view of each tunnel.

Shapes: https://learn.microsoft.com/rest/api/network-gateway/virtual-network-gateways/get-bgp-peer-status
and the ``shared/fixtures/azure-examples`` payloads.
"""

from __future__ import annotations

from typing import Any

from s2svpn.sandbox import armstate as rules
from s2svpn.sandbox.arm.store import ArmStore, Record, id_key, ref_id


def _route(
    local: str, network: str, next_hop: str, source: str, origin: str, as_path: str, weight: int
) -> dict[str, Any]:
    return {
        "localAddress": local,
        "network": network,
        "nextHop": next_hop,
        "sourcePeer": source,
        "origin": origin,
        "asPath": as_path,
        "weight": weight,
    }


class BgpSimulation(ArmStore):
    def _action_result(self, op: dict[str, Any]) -> Any:
        """What a finished POST operation answers on its result URL."""
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

    def _gateway_context(self, gw: Record) -> tuple[list[str], list[str], list[Record]]:
        """(local BGP addresses, VNet prefixes, connections with BGP on this gateway)."""
        gprops = gw["body"]["properties"]
        local = [
            ip
            for p in (gprops.get("bgpSettings") or {}).get("bgpPeeringAddresses", [])
            for ip in p.get("defaultBgpIpAddresses", [])
        ]
        conns = [
            r
            for r in self._of("connections")
            if id_key(ref_id(r["body"]["properties"].get("virtualNetworkGateway1")))
            == id_key(gw["body"]["id"])
            and r["body"]["properties"].get("enableBgp")
        ]
        return local, self._vnet_prefixes_of(gprops), conns

    def _peer_of(
        self, conn: Record, local: list[str], instance: int = 0
    ) -> tuple[str, str, int, list[str]]:
        """(local address of gateway instance ``instance``, neighbour, neighbour ASN, LNG static
        prefixes) for one connection."""
        lng = self._get(ref_id(conn["body"]["properties"].get("localNetworkGateway2")))
        lprops = lng["body"]["properties"] if lng else {}
        lbgp = lprops.get("bgpSettings") or {}
        neighbor = lbgp.get("bgpPeeringAddress", "")
        custom = [
            c.get("customBgpIpAddress", "")
            for c in conn["body"]["properties"].get("gatewayCustomBgpIpAddresses") or []
        ]
        mine = custom if custom and rules.is_apipa(neighbor) else local
        local_addr = mine[instance] if instance < len(mine) else (mine[0] if mine else "")
        prefixes = list((lprops.get("localNetworkAddressSpace") or {}).get("addressPrefixes", []))
        return local_addr, neighbor, int(lbgp.get("asn", 0) or 0), prefixes

    def _tunnels(self, gw: Record, conn: Record) -> list[tuple[int, Any]]:
        """(instance, the world's view of its tunnel) for each instance of the gateway: one row
        per instance in every BGP answer (BgpPeerStatus.localAddress tells them apart)."""
        count = max(1, len(gw["body"]["properties"].get("ipConfigurations") or []))
        return [(i, self._view_for(conn["body"]["id"], i)) for i in range(count)]

    def _bgp_peers(self, gw: Record, peer: str) -> list[dict[str, Any]]:
        local, _, conns = self._gateway_context(gw)
        out = []
        for conn in conns:
            for instance, view in self._tunnels(gw, conn):
                local_addr, neighbor, asn, _ = self._peer_of(conn, local, instance)
                if peer and neighbor != peer:
                    continue
                state = view.bgp_azure_state if view is not None else "Connecting"
                learned = (
                    len(view.azure_learned) if view is not None and state == "Connected" else 0
                )
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

    def _learned(self, gw: Record) -> list[dict[str, Any]]:
        local, vnet_prefixes, conns = self._gateway_context(gw)
        routes = []
        for me in local or [""]:
            routes += [_route(me, p, "", me, "Network", "", 32768) for p in vnet_prefixes]
        for conn in conns:
            for instance, view in self._tunnels(gw, conn):
                local_addr, neighbor, asn, static = self._peer_of(conn, local, instance)
                for p in [*static, f"{neighbor}/32"] if neighbor else static:
                    routes.append(_route(local_addr, p, "", local_addr, "Network", "", 32768))
                if view is not None and view.bgp_azure_state == "Connected":
                    for p in view.azure_learned:
                        routes.append(
                            _route(local_addr, p, neighbor, neighbor, "EBgp", str(asn), 32768)
                        )
        return routes

    def _advertised(self, gw: Record, peer: str) -> list[dict[str, Any]]:
        local, vnet_prefixes, conns = self._gateway_context(gw)
        asn = int((gw["body"]["properties"].get("bgpSettings") or {}).get("asn", 65515))
        for conn in conns:
            routes = []
            for instance, _view in self._tunnels(gw, conn):
                local_addr, neighbor, _, _ = self._peer_of(conn, local, instance)
                if neighbor == peer:
                    routes += [
                        _route(local_addr, p, local_addr, "", "Igp", str(asn), 0)
                        for p in vnet_prefixes
                    ]
            if routes:
                return routes
        return []
