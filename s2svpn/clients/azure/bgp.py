"""The gateway's BGP state: peer status, learned and advertised routes. Azure answers each as a
long-running POST action (tens of seconds on real Azure), so they are started together and polled
together, and the monitor's one reading never raises.

getBgpPeerStatus / getLearnedRoutes / getAdvertisedRoutes:
https://learn.microsoft.com/rest/api/network-gateway/virtual-network-gateways
"""

from __future__ import annotations

import time
from typing import Any

from s2svpn.clients.azure.connection import Connections
from s2svpn.clients.azure.errors import retry_after
from s2svpn.clients.azure.models import CONNECTION_STATES, onprem_bgp_ip
from s2svpn.clients.azure.parse import GATEWAYS, parse_bgp_peers, parse_routes
from s2svpn.clients.errors import ClientError
from s2svpn.intent import SiteIntent
from s2svpn.status import BgpPeer, EndStatus, Route, TunnelState

# name -> (the SDK's begin_* on virtual_network_gateways, the REST action, what it reads, parser)
READS = {
    "peers": (
        "begin_get_bgp_peer_status",
        "getBgpPeerStatus",
        "reading BGP peer status",
        parse_bgp_peers,
    ),
    "learned": (
        "begin_get_learned_routes",
        "getLearnedRoutes",
        "reading learned routes",
        parse_routes,
    ),
    "advertised": (
        "begin_get_advertised_routes",
        "getAdvertisedRoutes",
        "reading advertised routes",
        parse_routes,
    ),
}


def _wait(headers: Any) -> float:
    """Seconds Azure asks to wait: ``Retry-After`` (whole seconds, as ARM sends it), else
    ``retry-after-ms`` (honoured by azure-core too; the sandbox sends it when time is compressed)."""
    if headers.get("Retry-After"):
        return retry_after(headers.get("Retry-After"))
    try:
        return retry_after(str(float(headers.get("retry-after-ms") or 0) / 1000))
    except ValueError:
        return 0.0


class BgpReads(Connections):
    """BGP reads one by one or side by side, and the monitor's reading of the Azure end."""

    def _bgp_read(self, name: str, intent: SiteIntent, timeout: float | None, **kw: Any) -> Any:
        method, _action, what, parse = READS[name]
        begin = getattr(self._sdk.virtual_network_gateways, method)
        rg, gw = intent.resource_group, intent.gateway_name
        return parse(self._lro(what, begin, rg, gw, wait=True, timeout=timeout, **kw) or {})

    def bgp_peer_status(self, intent: SiteIntent, *, timeout: float | None = None) -> list[BgpPeer]:
        """POST .../getBgpPeerStatus -> peers with their state normalised to :class:`BgpState`."""
        return self._bgp_read("peers", intent, timeout)

    def learned_routes(self, intent: SiteIntent, *, timeout: float | None = None) -> list[Route]:
        """POST .../getLearnedRoutes."""
        return self._bgp_read("learned", intent, timeout)

    def advertised_routes(
        self, intent: SiteIntent, peer: str, *, timeout: float | None = None
    ) -> list[Route]:
        """POST .../getAdvertisedRoutes?peer=<ip>."""
        return self._bgp_read("advertised", intent, timeout, peer=peer)

    # ---- BGP reads that never hold a worker (start now, collect on a later check)

    def start_bgp_reads(self, intent: SiteIntent) -> dict[str, Any]:
        """Start getBgpPeerStatus, getLearnedRoutes and getAdvertisedRoutes without waiting.

        Returns ``{name: {"url": <Location to poll>, "retry_after": s} | {"body": <result>}}``
        (plain JSON, so a caller may keep it between checks); collect with
        :meth:`collect_bgp_reads`, or use :meth:`read_bgp` to wait for all three.
        """
        path = (intent.resource_group, intent.gateway_name)
        out: dict[str, Any] = {}
        for name, (_method, action, _what, _parse) in READS.items():
            params = {"peer": onprem_bgp_ip(intent)} if name == "advertised" else {}
            url = self._url(GATEWAYS, path, action)
            answer = self._send(f"starting the BGP read {name}", "POST", url, **params)
            out[name] = self._read_state(answer)
        return out

    @staticmethod
    def _read_state(answer: Any, url: str = "") -> dict[str, Any]:
        """A started read: where to ask again and when (202, at its Location or the URL just
        asked), or its result."""
        location = answer.headers.get("Location") or url
        if answer.status_code == 202 and location:
            return {"url": location, "retry_after": _wait(answer.headers)}
        return {"body": answer.json() if answer.text() else {}}

    def collect_bgp_reads(self, reads: dict[str, Any]) -> dict[str, Any] | None:
        """Poll each started read once; ``None`` while any is still running, else the results as
        ``{"peers": [BgpPeer], "learned": [Route], "advertised": [Route]}``."""
        for item in reads.values():
            if "url" in item:
                url = item.pop("url")
                answer = self._send("reading BGP state", "GET", url)
                item.update(self._read_state(answer, url))
        if any("body" not in item for item in reads.values()):
            return None
        return {name: READS[name][3](item["body"]) for name, item in reads.items()}

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
                    **({"tunnels": [list(t) for t in conn.tunnels]} if conn.tunnels else {}),
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
