"""The cast of the world tests: the canonical Azure end and home firewall, each a dataclass
``replace`` away from the variant a test needs."""

from __future__ import annotations

import dataclasses

from s2svpn.intent import IpsecPolicy
from s2svpn.ipsec import to_pfsense
from s2svpn.sandbox.world import AzureEnd, PfSenseEnd

AZURE_IP = "198.51.100.20"
PSK = "Canonical0Psk0With0Enough0Length"


def azure_end(**changes) -> AzureEnd:
    end = AzureEnd(
        connection_id="conn",
        gateway_public_ips=(AZURE_IP,),
        azure_asn=65515,
        azure_bgp_ips=("172.16.19.254",),
        lng_fqdn="home-s2s.example.net",
        lng_ip="",
        lng_bgp_ip="10.0.0.1",
        lng_asn=65010,
        connection_mode="ResponderOnly",
        psk=PSK,
        policy=IpsecPolicy(),
        enable_bgp=True,
        advertised_prefixes=("172.16.0.0/16",),
    )
    return dataclasses.replace(end, **changes)


def pfsense_end(policy: IpsecPolicy | None = None, **changes) -> PfSenseEnd:
    crypto = to_pfsense(policy or IpsecPolicy())
    end = PfSenseEnd(
        firewall_id="fw",
        wan_public_ip="203.0.113.2",
        remote_gateway=AZURE_IP,
        psk=PSK,
        ike_proposals=crypto.ike_proposals,
        esp_encryptions=crypto.esp_encryptions,
        esp_hashes=crypto.esp_hashes,
        pfs_group=crypto.pfs_group,
        p2_local="172.16.19.253",
        p2_remote="172.16.19.254",
        start_action="start",
        ikeid=1,
        reqid=1,
        local_asn=65010,
        neighbor="172.16.19.254",
        neighbor_asn=65515,
        update_source_ip="10.0.0.1",
        ebgp_requires_policy=False,
        networks=("10.0.0.0/24", "192.168.2.0/24"),
        child_lifetime=crypto.child_lifetime,
    )
    return dataclasses.replace(end, **changes)
