"""The shared "physics" of the two sandboxes: does the tunnel come up, does BGP exchange routes.

The ARM sandbox describes the Azure end as an ``AzureEnd``, the pfSense sandbox describes the
firewall as a ``PfSenseEnd``; ``World`` combines them with the network between (DNS of the local
network gateway's FQDN, the home NAT router) and answers what each end would observe. The rules are
the domain checker's (``s2svpn.ipsec``), so the sandboxes never disagree with the wizard. In lab
mode (``manage.py sandbox --lab``) the same questions are answered by real strongSwan and FRR.

Contract (stable; both sandboxes and the lab depend on it):

* ``World.set_azure(key, AzureEnd | None)`` / ``World.set_pfsense(key, PfSenseEnd | None)``: each
  sandbox calls these whenever its configuration changes (key = connection id / firewall id).
* ``World.view() -> list[TunnelView]``: one view per Azure connection paired with the firewall
  whose phase 1 points at the Azure gateway's public IP.
* ``World.dns``: FQDN -> IPv4 map the ARM sandbox uses to resolve a local network gateway FQDN
  (tests move it to simulate a DDNS change); ``World.nat``: home NAT router facts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from s2svpn.intent import IpsecPolicy


@dataclass(frozen=True)
class AzureEnd:
    connection_id: str
    gateway_public_ips: tuple[str, ...]
    azure_asn: int
    azure_bgp_ips: tuple[str, ...]  # default BGP IPs or the APIPA ones in use
    lng_fqdn: str  # "" when the LNG uses an IP
    lng_ip: str
    lng_bgp_ip: str
    lng_asn: int
    connection_mode: str  # Default | ResponderOnly | InitiatorOnly
    psk: str
    policy: IpsecPolicy | None  # None = Azure's default offers
    enable_bgp: bool
    advertised_prefixes: tuple[str, ...]  # the VNet address space (+ LNG prefixes are static)
    gateway_ready: bool = True  # provisioningState Succeeded
    reset_counter: int = 0  # bumps when the gateway is reset (forces DNS re-resolution)


@dataclass(frozen=True)
class PfSenseEnd:
    firewall_id: str
    wan_public_ip: str  # the address the NAT router shows to the internet
    remote_gateway: str  # phase 1 remote gateway
    psk: str
    ike_proposals: tuple[tuple[str, int, str, int], ...]  # (encryption name, keylen, hash, dhgroup)
    esp_encryptions: tuple[tuple[str, int], ...]  # (name, keylen)
    esp_hashes: tuple[str, ...]
    pfs_group: int
    p2_local: str  # VTI local address (e.g. 172.16.19.253)
    p2_remote: str  # VTI remote address (e.g. 172.16.19.254)
    start_action: str  # start | none | trap | ""
    ikeid: int
    reqid: int
    phase1_disabled: bool = False
    vti_assigned: bool = True
    ipsec_rule: bool = True  # a pass rule on enc0 that admits BGP
    frr_running: bool = True
    frr_enabled: bool = True
    local_asn: int | None = None
    neighbor: str = ""
    neighbor_asn: int | None = None
    update_source_ip: str = ""
    ebgp_requires_policy: bool = True  # the FRR default under `frr defaults traditional`
    networks: tuple[str, ...] = ()


@dataclass
class NatRouter:
    public_ip: str = "203.0.113.2"
    behind_nat: bool = True
    ports_forwarded: bool = False  # UDP 500/4500 forwarded to pfSense


@dataclass
class TunnelView:
    azure_key: str
    pfsense_key: str | None
    ike_up: bool = False
    child_up: bool = False
    reason: str = ""  # why not up, in plain words
    negotiated: dict = field(default_factory=dict)  # algorithms that were agreed
    bgp_azure_state: str = "Idle"  # Azure words: Unknown|Stopped|Idle|Connecting|Connected
    bgp_pfsense_state: str = "Idle"  # FRR words: Idle|Connect|Active|OpenSent|Established
    bgp_policy_blocked: bool = False
    azure_learned: tuple[str, ...] = ()  # prefixes Azure learned from pfSense
    pfsense_learned: tuple[str, ...] = ()  # prefixes pfSense learned from Azure
    resolved_ip: str = ""  # what Azure resolved the LNG FQDN to


class World:
    """Thread-safe holder; the evaluation is implemented in ``evaluate``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.azure: dict[str, AzureEnd] = {}
        self.pfsense: dict[str, PfSenseEnd] = {}
        self.dns: dict[str, str] = {"home-s2s.example.net": "203.0.113.2"}
        self.nat = NatRouter()
        self.resolved: dict[str, str] = {}  # Azure's cached resolution per connection

    def set_azure(self, key: str, end: AzureEnd | None) -> None:
        with self.lock:
            if end is None:
                self.azure.pop(key, None)
            else:
                self.azure[key] = end

    def set_pfsense(self, key: str, end: PfSenseEnd | None) -> None:
        with self.lock:
            if end is None:
                self.pfsense.pop(key, None)
            else:
                self.pfsense[key] = end

    def view(self) -> list[TunnelView]:
        with self.lock:
            return evaluate(self)


def evaluate(world: World) -> list[TunnelView]:  # pragma: no cover - replaced by the implementation
    raise NotImplementedError
