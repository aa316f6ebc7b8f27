"""The shared "physics" of the two sandboxes: does the tunnel come up, does BGP exchange routes.

The ARM sandbox describes the Azure end as an ``AzureEnd``, the pfSense sandbox describes the
firewall as a ``PfSenseEnd``; ``World`` combines them with the network between (DNS of the local
network gateway's FQDN, the home NAT router) and answers what each end would observe. The rules are
the domain checker's (``s2svpn.ipsec``), so the sandboxes never disagree with the wizard. In lab
mode (``manage.py sandbox --lab``) the same questions are answered by real strongSwan and FRR.

Contract (stable; both sandboxes and the lab depend on it):

* ``World.set_azure(key, AzureEnd | None)`` / ``World.set_pfsense(key, PfSenseEnd | None)``: each
  sandbox calls these whenever its configuration changes (key = connection id / firewall id).
* ``World.view() -> list[TunnelView]``: one view per Azure connection and gateway instance (two
  for an active-active gateway), paired with the firewall phase 1 that points at that instance's
  public IP.
* ``World.dns``: the sandbox's DNS zone (FQDN -> IPv4), served on loopback by
  ``s2svpn.sandbox.dns`` (tests move it to simulate a DDNS change); ``World.lookup(name)`` is how
  the stand-in Azure resolves a local network gateway FQDN: through ``World.nameservers`` when the
  runtime set them (the served zone, like everyone else), else the zone itself (a bare World in a
  unit test); ``World.nat``: home NAT router facts.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field, replace
from typing import Any

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
    # Additions (defaults keep every existing caller valid):
    ike_lifetime: int = 28800  # phase 1 lifetime (s)
    child_lifetime: int = 3600  # phase 2 lifetime (s)
    ike_id: str = ""  # the IKE identity pfSense sends (Azure accepts any; shown, not judged)
    # "Allow APIPA" (system/no_apipa_block) on; off -> filter.inc drops 169.254.0.0/16 inbound
    apipa_allowed: bool = True


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
    # Which gateway instance this tunnel belongs to (an active-active gateway has two, each with
    # its own public IP and BGP address: one view per instance) and that instance's public IP.
    instance: int = 0
    azure_public_ip: str = ""


class World:
    """Thread-safe holder; the evaluation is implemented in ``evaluate``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.azure: dict[str, AzureEnd] = {}
        self.pfsense: dict[str, PfSenseEnd] = {}
        self.dns: dict[str, str] = {"home-s2s.example.net": "203.0.113.2"}
        self.nameservers: list[str] = []
        self.nat = NatRouter()
        # Further homes, each behind a NAT router of its own, by firewall id (the pfSense
        # sandbox's ``firewall_id``): several homes on one Azure gateway. Others use ``nat``.
        self.homes: dict[str, NatRouter] = {}
        self.resolved: dict[str, str] = {}  # Azure's cached resolution per connection
        # reset_counter seen when each connection last resolved, and whether it was up last time
        self.resolved_at_reset: dict[str, int] = {}
        self.was_up: dict[str, bool] = {}
        # Gateway instances that are stopped (by public IP): what Azure's planned maintenance
        # does to one instance of an active-active gateway. Tests and the sandbox command set it.
        self.stopped_instances: set[str] = set()

    def lookup(self, name: str) -> str:
        """What ``name`` resolves to ("" when nothing): asked of ``nameservers`` if set."""
        if self.nameservers:
            from s2svpn.sandbox.dns import lookup

            return lookup(name, self.nameservers)
        return self.dns.get(name, "")

    def nat_for(self, firewall_key: str) -> NatRouter:
        """The NAT router in front of a firewall (its end's key: ``<firewall_id>[#con<ikeid>]``)."""
        return self.homes.get(firewall_key.split("#", 1)[0], self.nat)

    def set_azure(self, key: str, end: AzureEnd | None) -> None:
        self._publish(self.azure, key, end)

    def set_pfsense(self, key: str, end: PfSenseEnd | None) -> None:
        self._publish(self.pfsense, key, end)

    def _publish(self, ends: dict[str, Any], key: str, end: Any) -> None:
        """Publish one end (``None`` withdraws it)."""
        with self.lock:
            if end is None:
                ends.pop(key, None)
            else:
                ends[key] = end

    def view(self) -> list[TunnelView]:
        with self.lock:
            return evaluate(self)


# ---------------------------------------------------------------------------------------------
# The physics. Each rule mirrors something the lab (s2svpn.lab) shows real strongSwan and FRR do;
# tests/lab/test_verdicts.py checks that both agree.
# ---------------------------------------------------------------------------------------------


def crypto_of(end: PfSenseEnd) -> Any:
    """The firewall's proposals as ``s2svpn.ipsec.PfSenseCrypto`` (what ``check_negotiation`` reads)."""
    from s2svpn.ipsec import PfSenseCrypto

    return PfSenseCrypto(
        ike_proposals=tuple(end.ike_proposals),
        esp_encryptions=tuple(end.esp_encryptions),
        esp_hashes=tuple(end.esp_hashes),
        pfs_group=end.pfs_group,
        ike_lifetime=end.ike_lifetime,
        child_lifetime=end.child_lifetime,
    )


def pair_firewall(world: World, azure: AzureEnd) -> tuple[str, PfSenseEnd] | tuple[None, None]:
    """The firewall whose phase 1 remote gateway is one of the Azure gateway's public IPs.

    Several homes on one gateway all point their phase 1 at it: Azure tells them apart by the
    address of each connection's local network gateway (an IKE peer is its public address), so
    the firewall at the home this connection's local network gateway names is preferred."""
    found = [
        (key, world.pfsense[key])
        for key in sorted(world.pfsense)
        if world.pfsense[key].remote_gateway
        and world.pfsense[key].remote_gateway in azure.gateway_public_ips
    ]
    if len(found) > 1:
        peer = world.resolved.get(azure.connection_id) or (
            world.lookup(azure.lng_fqdn) if azure.lng_fqdn else azure.lng_ip
        )
        at_home = [(key, end) for key, end in found if home_address(world, end) == peer]
        found = at_home or found
    return found[0] if found else (None, None)


def home_address(world: World, end: PfSenseEnd) -> str:
    """Where the internet sees the firewall: the NAT router's public IP, or its own WAN IP."""
    nat = world.nat_for(end.firewall_id)
    if nat.behind_nat:
        return nat.public_ip
    return end.wan_public_ip or nat.public_ip


def _link_local(address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network("169.254.0.0/16")
    except ValueError:
        return False


def _same_30(a: str, b: str) -> bool:
    try:
        net_a = ipaddress.ip_interface(f"{a}/30").network
        return a != b and ipaddress.ip_address(b) in net_a
    except ValueError:
        return False


def _peer_address(world: World, azure: AzureEnd) -> tuple[str, str]:
    """(address Azure talks to, reason if it cannot find one), with Azure's DNS cache.

    Azure resolves an FQDN local network gateway to one IPv4, caches it and re-resolves only for a
    disconnected tunnel or after a gateway reset (azure.md §6, "Local network gateway with FQDN").
    """
    if not azure.lng_fqdn:
        return azure.lng_ip, ""
    key = azure.connection_id
    must_resolve = (
        key not in world.resolved
        or not world.was_up.get(key, False)
        or world.resolved_at_reset.get(key) != azure.reset_counter
    )
    if must_resolve:
        address = world.lookup(azure.lng_fqdn)
        if address:
            world.resolved[key] = address
        else:
            world.resolved.pop(key, None)
        world.resolved_at_reset[key] = azure.reset_counter
    address = world.resolved.get(key, "")
    if not address:
        return "", (
            f"Azure cannot resolve {azure.lng_fqdn}: the name has no A record. Check that the "
            "dynamic DNS client on the home router or pfSense is updating it."
        )
    return address, ""


def _initiation_reason(world: World, azure: AzureEnd, end: PfSenseEnd) -> str:
    """Why nobody can start IKE, or "" when someone can.

    pfSense initiates with start action ``start`` (``''`` also renders as start for a VTI). Azure
    initiates unless the connection is ResponderOnly and answers unless it is InitiatorOnly. Behind
    a NAT router without UDP 500/4500 forwarded, Azure's IKE_SA_INIT cannot reach pfSense.
    """
    pfsense_initiates = end.start_action in ("start", "")
    azure_answers = azure.connection_mode != "InitiatorOnly"
    azure_initiates = azure.connection_mode != "ResponderOnly"
    nat = world.nat_for(end.firewall_id)
    reachable = not nat.behind_nat or nat.ports_forwarded
    if pfsense_initiates and azure_answers:
        return ""
    if azure_initiates and reachable:
        return ""
    if azure.connection_mode == "ResponderOnly":
        return (
            "nobody starts the tunnel: the Azure connection is ResponderOnly and pfSense's phase 1 "
            f"start action is '{end.start_action}'. Set the phase 1 start action to 'start' "
            "(Initiate at start)."
        )
    if azure.connection_mode == "InitiatorOnly" and not reachable:
        return (
            "the home router drops Azure's IKE_SA_INIT: the connection is InitiatorOnly (Azure "
            "does not answer pfSense) and UDP 500/4500 are not forwarded to pfSense. Set the "
            "connection mode to ResponderOnly or Default and let pfSense initiate."
        )
    if not reachable:
        return (
            "the home router drops Azure's IKE_SA_INIT and pfSense does not initiate (start action "
            f"'{end.start_action}'). Set the phase 1 start action to 'start'."
        )
    return (
        "Azure's connection mode InitiatorOnly ignores pfSense's IKE_SA_INIT and pfSense "
        f"does not answer (start action '{end.start_action}')."
    )


def _bgp(world: World, azure: AzureEnd, end: PfSenseEnd, view: TunnelView) -> None:
    """BGP over the tunnel; only called when the child SA is up."""
    reason = ""
    if not azure.enable_bgp:
        reason = "BGP is disabled on the Azure connection; enable it on the gateway and connection."
    elif not (end.frr_enabled and end.frr_running):
        reason = "FRR (bgpd) is not running on pfSense; enable the FRR package and BGP."
    elif not end.local_asn or not end.neighbor:
        reason = "pfSense has no BGP neighbor configured for Azure."
    elif end.neighbor not in azure.azure_bgp_ips:
        reason = (
            f"pfSense's BGP neighbor {end.neighbor} is not Azure's BGP address "
            f"({', '.join(azure.azure_bgp_ips)}); set the neighbor to Azure's BGP IP."
        )
    elif end.p2_remote not in azure.azure_bgp_ips and not any(
        _same_30(end.p2_local, ip) for ip in azure.azure_bgp_ips
    ):
        reason = (
            f"pfSense's VTI ({end.p2_local} -> {end.p2_remote}) does not reach Azure's BGP address "
            f"{', '.join(azure.azure_bgp_ips)}; the phase 2 remote address must be Azure's BGP IP."
        )
    elif not end.ipsec_rule:
        reason = (
            "pfSense's IPsec tab has no pass rule, so the BGP session (TCP 179) from Azure is "
            "blocked; add a pass rule on the IPsec (enc0) tab."
        )
    elif not end.apipa_allowed and any(
        _link_local(ip) for ip in (end.neighbor, end.update_source_ip, end.p2_local)
    ):
        reason = (
            "pfSense drops the BGP session: 'Allow APIPA' (System > Advanced > Firewall & NAT) is "
            "off, so its ruleset blocks 169.254.0.0/16 before any rule. Switch on Allow APIPA "
            "(s2svpn's push does this in APIPA mode) and reload the filter."
        )
    elif not end.vti_assigned:
        reason = "the VTI interface is not assigned on pfSense, so FRR cannot source BGP from it."
    elif end.update_source_ip != azure.lng_bgp_ip:
        reason = (
            f"pfSense sources BGP from {end.update_source_ip or 'the VTI address'} but Azure's "
            f"local network gateway expects BGP from {azure.lng_bgp_ip}; set the neighbor's "
            "update-source to the interface holding that address."
        )
    elif end.local_asn != azure.lng_asn:
        reason = (
            f"Azure rejects pfSense's BGP OPEN (bad peer AS): pfSense uses AS {end.local_asn} but "
            f"the local network gateway says AS {azure.lng_asn}; make them equal."
        )
    elif end.neighbor_asn != azure.azure_asn:
        reason = (
            f"pfSense rejects Azure's BGP OPEN (bad peer AS): the neighbor is configured with "
            f"remote-as {end.neighbor_asn} but Azure uses AS {azure.azure_asn}; make them equal."
        )
    if reason:
        view.bgp_azure_state = "Connecting" if azure.enable_bgp else "Stopped"
        running = end.frr_enabled and end.frr_running
        view.bgp_pfsense_state = "Active" if running and end.neighbor else "Idle"
        view.reason = reason
        return
    view.bgp_azure_state = "Connected"
    view.bgp_pfsense_state = "Established"
    if end.ebgp_requires_policy:
        view.bgp_policy_blocked = True
        view.reason = (
            "BGP is established but FRR exchanges no prefixes (ebgp-requires-policy): enable "
            "'Disable eBGP Require Policy' in FRR BGP Advanced or add permit route-maps."
        )
        return
    view.azure_learned = tuple(end.networks)
    view.pfsense_learned = tuple(azure.advertised_prefixes)


def _instances(azure: AzureEnd) -> list[AzureEnd]:
    """One AzureEnd per gateway instance: instance ``i`` has the ``i``-th public IP and BGP
    address (Azure lists both in ipConfiguration order; s2svpn.activeactive has the sources)."""
    pips = azure.gateway_public_ips
    if len(pips) < 2:
        return [azure]
    bgp = azure.azure_bgp_ips
    return [
        replace(
            azure,
            gateway_public_ips=(pip,),
            azure_bgp_ips=(bgp[i],) if len(bgp) == len(pips) else bgp,
        )
        for i, pip in enumerate(pips)
    ]


def _evaluate_one(world: World, azure_key: str, azure: AzureEnd, instance: int = 0) -> TunnelView:
    key, end = pair_firewall(world, azure)
    pip = azure.gateway_public_ips[0] if len(azure.gateway_public_ips) == 1 else ""
    view = TunnelView(azure_key=azure_key, pfsense_key=key, instance=instance, azure_public_ip=pip)
    if pip and pip in world.stopped_instances:
        view.reason = (
            f"Azure gateway instance {instance} ({pip}) is stopped (planned maintenance or a "
            "failure); its tunnel and BGP session are down until it is back."
        )
        return view
    if not azure.gateway_ready:
        view.reason = "the VPN gateway is still being built (this takes 20-45 minutes)."
        return view
    if end is None:
        view.reason = (
            "no pfSense phase 1 points at the VPN gateway's public IP "
            f"({', '.join(azure.gateway_public_ips) or 'none yet'}); create the phase 1 with that "
            "remote gateway."
        )
        return view
    if end.phase1_disabled:
        view.reason = "pfSense's phase 1 for Azure is disabled; enable it."
        return view

    peer, reason = _peer_address(world, azure)
    view.resolved_ip = peer if azure.lng_fqdn else ""
    if reason:
        view.reason = reason
        return view
    home = home_address(world, end)
    if peer != home:
        name = azure.lng_fqdn or "the local network gateway"
        view.reason = (
            f"Azure resolved {name} to {peer} but the home router is at {home}, so Azure talks to "
            "the wrong peer. Update the DNS record (or the gateway IP); Azure re-resolves only "
            "while the tunnel is down or after a gateway reset."
            if azure.lng_fqdn
            else f"the local network gateway's IP is {peer} but the home router is at {home}; "
            "update the local network gateway's IP address."
        )
        return view

    reason = _initiation_reason(world, azure, end)
    if reason:
        view.reason = reason
        return view

    # No identity check: Azure accepts whatever IDi pfSense sends (the seed tunnel came up with
    # pfSense's private WAN address as its identity behind the NAT).
    if end.psk != azure.psk:
        view.reason = (
            "authentication failed: pre-shared keys differ. Set the same key on the Azure "
            "connection and on pfSense's phase 1."
        )
        return view

    from s2svpn.ipsec import check_negotiation

    neg = check_negotiation(azure.policy, crypto_of(end))
    view.negotiated = {"ike": neg.ike, "esp": neg.esp}
    if not neg.ike_ok:
        view.reason = "; ".join(neg.reasons) or "IKE proposals do not match (NO_PROPOSAL_CHOSEN)."
        return view
    view.ike_up = True
    if not neg.child_ok:
        view.reason = "; ".join(neg.reasons) or "ESP proposals do not match (NO_PROPOSAL_CHOSEN)."
        return view
    view.child_up = True
    rekey_note = "" if neg.rekey_ok else "; ".join(neg.reasons) or "the first child rekey fails."
    _bgp(world, azure, end, view)
    if rekey_note:
        view.reason = f"{rekey_note} {view.reason}".strip()
    return view


def evaluate(world: World) -> list[TunnelView]:
    """One ``TunnelView`` per Azure connection: what each end would observe right now.

    Called with ``world.lock`` held (``World.view``). Mutates only Azure's DNS cache
    (``world.resolved``) and the remembered up/down state that drives it.
    """
    views = []
    for key in sorted(world.azure):
        azure = world.azure[key]
        mine = [_evaluate_one(world, key, one, i) for i, one in enumerate(_instances(azure))]
        world.was_up[azure.connection_id] = any(view.child_up for view in mine)
        views.extend(mine)
    return views
