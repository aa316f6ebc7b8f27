"""One monitor reading of the pfSense end: IPsec SAs from the REST API, BGP from FRR's vtysh JSON
(https://docs.frrouting.org/en/latest/bgp.html) through the command endpoint."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
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

    def read_status(self, intent: SiteIntent, memo: StatusMemo | None = None) -> EndStatus:
        """One reading for the monitor. ``error`` set means unknown (never "down").

        With a ``memo`` (the monitor's, one per tunnel, kept between polls) a healthy tunnel costs
        two requests: the SAs and FRR's BGP summary. The configuration (phase 1 and 2, the FRR
        neighbor) is reused for ``memo.max_age`` seconds, and the BGP tables while the summary's
        prefix counts for the neighbor stay the same; a reading that is not healthy (no
        installed child SA, the neighbor not Established) is taken again in full at once, so a
        changed configuration never shows as a stale state. Without a memo everything is read.
        """
        fresh = (
            memo is None or memo.config is None or not memo.healthy or memo.expired(memo.config_at)
        )
        status = self._read_status(intent, None if fresh else memo, memo)
        if not fresh and not status.error and not _healthy(status):
            # something changed since the last healthy reading: read it all again now
            status = self._read_status(intent, None, memo)
        if memo is not None:
            memo.healthy = not status.error and _healthy(status)
        return status

    def _read_status(
        self, intent: SiteIntent, reuse: StatusMemo | None, memo: StatusMemo | None
    ) -> EndStatus:
        status = EndStatus()
        try:
            config = reuse.config if reuse is not None else self._status_config(intent)
            if memo is not None and reuse is None:
                memo.config, memo.config_at = config, memo.stamp(memo.config_at)
            if config is None:
                status.error = (
                    f"s2svpn's phase 1 '{intent.descr}' is not on this firewall; push the site "
                    "(or check that nobody renamed it in VPN > IPsec)."
                )
                return status
            p1, neighbor = config
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
            status.details["neighbor"] = neighbor
            try:
                peers = [p for p in self.bgp_summary() if not neighbor or p.neighbor == neighbor]
                status.bgp_peers = peers
                if neighbor and not peers:
                    status.bgp_peers = [
                        BgpPeer(neighbor=neighbor, asn=intent.azure_asn, state=BgpState.IDLE)
                    ]
                up = [p for p in peers if p.state == BgpState.ESTABLISHED]
                if neighbor and up:
                    self._tables(status, neighbor, up[0], memo)
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

    def _status_config(self, intent: SiteIntent) -> tuple[dict, str] | None:
        """(s2svpn's phase 1, the Azure BGP neighbor) as configured, or None without the phase 1."""
        p1 = self.find_phase1(descr=intent.descr)
        if p1 is None:
            return None
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
        return p1, neighbor

    def _tables(
        self, status: EndStatus, neighbor: str, peer: BgpPeer, memo: StatusMemo | None
    ) -> None:
        """The neighbor's learned and advertised routes: from the memo while its prefix counts
        and age hold, else read (and remembered)."""
        counts = (neighbor, peer.prefixes_received, peer.prefixes_sent)
        if memo is not None and memo.tables_key == counts and not memo.expired(memo.tables_at):
            status.learned_routes, status.advertised_routes = (
                list(memo.learned),
                list(memo.advertised),
            )
            return
        status.learned_routes = self.bgp_routes(neighbor)
        status.advertised_routes = self.bgp_advertised(neighbor)
        if memo is not None:
            memo.tables_key, memo.tables_at = counts, memo.stamp(memo.tables_at)
            memo.learned = tuple(status.learned_routes)
            memo.advertised = tuple(status.advertised_routes)


@dataclass
class StatusMemo:
    """What :meth:`StatusReads.read_status` may reuse from the last reading of one tunnel: the
    configuration it read (``config``: phase 1, BGP neighbor) and the BGP tables with the prefix
    counts they were read at. Not thread-safe: one poll of a tunnel at a time (the monitor's
    poll leases)."""

    max_age: float
    healthy: bool = False  # the last reading: the configuration is reused only after a healthy one
    config: tuple[dict, str] | None = None
    config_at: float = 0.0
    tables_key: tuple = ()
    tables_at: float = 0.0
    learned: tuple[Route, ...] = ()
    advertised: tuple[Route, ...] = ()

    def expired(self, at: float) -> bool:
        return time.monotonic() - at >= self.max_age

    def stamp(self, before: float) -> float:
        """When a read is taken to have happened: now, except the first time, when it is dated
        up to ``max_age`` back at random, so that the sites a monitor starts with at once do
        not all read everything again in the same later cycle."""
        now = time.monotonic()
        return now if before else now - random.uniform(0, self.max_age)


def _healthy(status: EndStatus) -> bool:
    """An installed child SA and, when a neighbor is configured, that neighbor Established."""
    if status.tunnel != TunnelState.UP:
        return False
    neighbor = status.details.get("neighbor")
    return not neighbor or any(p.state == BgpState.ESTABLISHED for p in status.bgp_peers)


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
