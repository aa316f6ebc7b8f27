"""One monitor reading of the pfSense end: IPsec SAs from the REST API, BGP from FRR's vtysh JSON
(https://docs.frrouting.org/en/latest/bgp.html) through the command endpoint."""

from __future__ import annotations

from typing import Any

from s2svpn import frr as frr_parse
from s2svpn import pfsense_plan as plan
from s2svpn.clients.errors import ClientError
from s2svpn.clients.pfsense.commands import FrrAndCheckpoints
from s2svpn.intent import SiteIntent
from s2svpn.status import BgpPeer, BgpState, ChildSa, EndStatus, IkeSa, Route, TunnelState


class StatusReads(FrrAndCheckpoints):
    """SAs, interface status, FRR's BGP tables and the monitor's one reading."""

    def ipsec_sas(self) -> list[IkeSa]:
        data = self.request("GET", "/api/v2/status/ipsec/sas") or []
        return [_ike_sa(item) for item in data if isinstance(item, dict)]

    def interface_status(self) -> list[dict]:
        return list(self.request("GET", "/api/v2/status/interfaces") or [])

    def _vtysh(self, kind: str, ip: str | None = None) -> Any:
        output, code = self.command(plan.vtysh_command(kind, ip))
        return frr_parse.load_output(output, code)

    def bgp_summary(self) -> list[BgpPeer]:
        return frr_parse.parse_summary(self._vtysh("summary"))

    def bgp_neighbor(self, ip: str) -> BgpPeer | None:
        peers = frr_parse.parse_neighbors(self._vtysh("neighbor", ip))
        return next((p for p in peers if p.neighbor == ip), None)

    def bgp_routes(self, ip: str) -> list[Route]:
        return frr_parse.parse_routes(self._vtysh("routes", ip))

    def bgp_advertised(self, ip: str) -> list[Route]:
        return frr_parse.parse_advertised_routes(self._vtysh("advertised", ip))

    def read_status(self, intent: SiteIntent) -> EndStatus:
        """One reading for the monitor. ``error`` set means unknown (never "down")."""
        status = EndStatus()
        try:
            p1 = self.find_phase1(descr=intent.descr)
            if p1 is None:
                status.error = (
                    f"s2svpn's phase 1 '{intent.descr}' is not on this firewall; push the site "
                    "(or check that nobody renamed it in VPN > IPsec)."
                )
                return status
            con_id = f"con{p1.get('ikeid')}"
            status.sas = [sa for sa in self.ipsec_sas() if sa.con_id == con_id]
            status.tunnel = _tunnel_state(status.sas, disabled=bool(p1.get("disabled")))
            children = [child for sa in status.sas for child in sa.children]
            if children:
                status.bytes_in = sum(c.bytes_in for c in children)
                status.bytes_out = sum(c.bytes_out for c in children)
            status.details["phase1"] = {
                "ikeid": p1.get("ikeid"),
                "remote_gateway": p1.get("remote_gateway"),
            }
            p2 = self.find_phase2(intent.descr, p1.get("ikeid"))
            neighbor = (p2 or {}).get("remoteid_address") or ""
            try:
                sections = self.read_frr_sections()
                mine = [
                    n
                    for n in sections["frrbgpneighbors"]
                    if n.get("descr") == plan.frr_description(intent.descr)
                ]
                if mine:
                    neighbor = mine[0].get("peer") or neighbor
            except ClientError:
                pass
            status.details["neighbor"] = neighbor
            try:
                peers = [p for p in self.bgp_summary() if not neighbor or p.neighbor == neighbor]
                status.bgp_peers = peers
                if neighbor and not peers:
                    status.bgp_peers = [
                        BgpPeer(neighbor=neighbor, asn=intent.azure_asn, state=BgpState.IDLE)
                    ]
                if neighbor and any(p.state == BgpState.ESTABLISHED for p in peers):
                    status.learned_routes = self.bgp_routes(neighbor)
                    status.advertised_routes = self.bgp_advertised(neighbor)
            except frr_parse.FrrNotRunning as error:
                status.bgp_peers = [
                    BgpPeer(
                        neighbor=neighbor or "", asn=intent.azure_asn, state=BgpState.NOT_RUNNING
                    )
                ]
                status.details["frr"] = str(error)
        except ClientError as error:
            status.error = error.message
            status.tunnel = TunnelState.UNKNOWN
        return status


def _tunnel_state(sas: list[IkeSa], *, disabled: bool) -> TunnelState:
    if disabled or not sas:
        return TunnelState.DOWN
    for sa in sas:
        if sa.state == "ESTABLISHED" and any(c.state == "INSTALLED" for c in sa.children):
            return TunnelState.UP
    return TunnelState.CONNECTING


def _ike_sa(item: dict) -> IkeSa:
    return IkeSa(
        con_id=str(item.get("con_id") or ""),
        state=str(item.get("state") or ""),
        remote_host=str(item.get("remote_host") or ""),
        local_host=str(item.get("local_host") or ""),
        nat_remote=bool(item.get("nat_remote")),
        nat_local=bool(item.get("nat_any")),
        encr_alg=str(item.get("encr_alg") or ""),
        encr_keysize=item.get("encr_keysize"),
        integ_alg=str(item.get("integ_alg") or ""),
        prf_alg=str(item.get("prf_alg") or ""),
        dh_group=str(item.get("dh_group") or ""),
        established_seconds=item.get("established"),
        children=tuple(
            ChildSa(
                name=str(child.get("name") or ""),
                state=str(child.get("state") or ""),
                reqid=child.get("reqid"),
                encr_alg=str(child.get("encr_alg") or ""),
                encr_keysize=child.get("encr_keysize"),
                integ_alg=str(child.get("integ_alg") or ""),
                dh_group=str(child.get("dh_group") or ""),
                bytes_in=int(child.get("bytes_in") or 0),
                bytes_out=int(child.get("bytes_out") or 0),
                local_ts=tuple(child.get("local_ts") or ()),
                remote_ts=tuple(child.get("remote_ts") or ()),
            )
            for child in item.get("child_sas") or []
            if isinstance(child, dict)
        ),
    )
