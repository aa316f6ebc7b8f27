"""Azure's "prefixes sent" on the status page (issue #15: it always showed "—"): Azure's
BgpPeerStatus has no sent count, so it is the number of prefixes getAdvertisedRoutes lists for the
site's BGP peer, read through azure-mgmt-network from the ARM sandbox, next to pfSense's view."""

from __future__ import annotations

import re

from monitor import azure_half, poller
from monitor.models import Snapshot
from monitor.observations import azure_peer, pfsense_peer
from monitor.serialize import end_from_dict
from s2svpn.status import BgpPeer, BgpState, Route
from tests.monitor.test_acceptance import unpaced_bgp_starts  # noqa: F401 (autouse fixture)


def test_the_status_page_shows_how_many_prefixes_azure_sends_next_to_pfsenses_view(
    provisioned, alice
):
    for _ in range(4):  # Azure's BGP tables arrive at Azure's pace: a few cycles
        poller.run_cycle([provisioned.pk])
        snap = Snapshot.objects.get(site=provisioned)
        if snap.verdict == "healthy" and snap.azure.get("details", {}).get("bgp_read_at"):
            break
    assert snap.verdict == "healthy", snap.reason
    intent = provisioned.get_intent()
    azure, pfsense = end_from_dict(snap.azure), end_from_dict(snap.pfsense)
    advertised = sorted({route.prefix for route in azure.advertised_routes})
    assert advertised == ["172.16.0.0/16"]  # the VNet, as getAdvertisedRoutes lists it
    assert azure_peer(azure, intent).prefixes_sent == 1
    # Azure sends what pfSense receives; pfSense sends what Azure receives (its two LANs).
    assert pfsense_peer(pfsense, intent).prefixes_received == 1
    assert azure_peer(azure, intent).prefixes_received == 2
    assert pfsense_peer(pfsense, intent).prefixes_sent == 2

    page = alice.get(f"/status/{provisioned.slug}/").content.decode()
    shown = re.findall(r"<dt>Prefixes received / sent</dt><dd>([^<]*)</dd>", page)
    assert shown == ["2 / 1", "1 / 2"], shown  # Azure's half, then pfSense's


def test_only_the_peer_the_routes_were_asked_for_gets_the_count():
    from s2svpn.intent import CANONICAL

    home = BgpPeer("10.0.0.1", 65010, BgpState.ESTABLISHED, prefixes_received=2)
    other = BgpPeer("10.9.9.9", 65020, BgpState.ESTABLISHED)
    routes = [Route("172.16.0.0/16", "172.16.19.254"), Route("172.16.0.0/16", "172.16.19.253")]
    peers = azure_half.with_prefixes_sent([home, other], routes, CANONICAL)
    assert [p.prefixes_sent for p in peers] == [1, None]  # each prefix once (active-active)
