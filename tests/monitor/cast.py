"""Readings of the canonical scenario (shared/design.md), as both clients return them.

Built from the shared contract types (``s2svpn.status``), so the monitor under test sees exactly
what the real clients hand it.
"""

from __future__ import annotations

from dataclasses import replace

from s2svpn.status import BgpPeer, BgpState, ChildSa, EndStatus, IkeSa, Route, TunnelState

AZURE_BGP_IP = "172.16.19.254"


def healthy_azure(**changes) -> EndStatus:
    end = EndStatus(
        tunnel=TunnelState.UP,
        bgp_peers=[
            BgpPeer(
                neighbor="10.0.0.1",
                asn=65010,
                state=BgpState.ESTABLISHED,
                local_address=AZURE_BGP_IP,
                prefixes_received=2,
                uptime_seconds=3600,
            )
        ],
        learned_routes=[
            Route("172.16.0.0/16", "", "", "Network"),
            Route("10.0.0.0/24", "10.0.0.1", "65010", "EBgp"),
            Route("192.168.2.0/24", "10.0.0.1", "65010", "EBgp"),
        ],
        advertised_routes=[Route("172.16.0.0/16", AZURE_BGP_IP, "65515")],
        bytes_in=1_000_000,
        bytes_out=2_000_000,
        details={"connection_status": "Connected"},
    )
    return replace(end, **changes)


def canonical_sa(**changes) -> IkeSa:
    sa = IkeSa(
        con_id="con1",
        state="ESTABLISHED",
        remote_host="20.50.60.70",
        local_host="192.168.178.10",
        nat_local=True,
        encr_alg="AES_CBC",
        encr_keysize=256,
        integ_alg="HMAC_SHA2_256_128",
        prf_alg="PRF_HMAC_SHA2_256",
        dh_group="MODP_2048",
        established_seconds=2890,
        children=(
            ChildSa(
                name="con1",
                state="INSTALLED",
                reqid=5001,
                encr_alg="AES_GCM_16",
                encr_keysize=256,
                bytes_in=1_952_934,
                bytes_out=1_397_428,
            ),
        ),
    )
    return replace(sa, **changes)


def healthy_pfsense(**changes) -> EndStatus:
    end = EndStatus(
        tunnel=TunnelState.UP,
        bgp_peers=[
            BgpPeer(
                neighbor=AZURE_BGP_IP,
                asn=65515,
                state=BgpState.ESTABLISHED,
                local_address="10.0.0.1",
                prefixes_received=1,
                prefixes_sent=2,
                uptime_seconds=3500,
            )
        ],
        learned_routes=[Route("172.16.0.0/16", AZURE_BGP_IP, "65515", "IGP")],
        advertised_routes=[Route("10.0.0.0/24"), Route("192.168.2.0/24")],
        sas=[canonical_sa()],
    )
    return replace(end, **changes)


def policy_trapped() -> tuple[EndStatus, EndStatus]:
    """BGP up, FRR's ebgp-requires-policy: nothing exchanged either way."""
    azure = healthy_azure(
        bgp_peers=[BgpPeer("10.0.0.1", 65010, BgpState.ESTABLISHED, AZURE_BGP_IP, 0)],
        learned_routes=[Route("172.16.0.0/16", "", "", "Network")],
    )
    pfsense = healthy_pfsense(
        bgp_peers=[BgpPeer(AZURE_BGP_IP, 65515, BgpState.POLICY, "10.0.0.1", 0, 0)],
        learned_routes=[],
        advertised_routes=[],
    )
    return azure, pfsense


def tunnel_down() -> tuple[EndStatus, EndStatus]:
    azure = EndStatus(tunnel=TunnelState.DOWN, details={"connection_status": "NotConnected"})
    pfsense = EndStatus(
        tunnel=TunnelState.DOWN, bgp_peers=[BgpPeer(AZURE_BGP_IP, 65515, BgpState.ACTIVE)]
    )
    return azure, pfsense
