"""Run one site in the lab and read back what really happened.

``ends_for(intent, psk=...)`` builds the same objects the rest of s2svpn uses — the pfSense desired
state (``s2svpn.pfsense_plan.desired_pfsense``) and the Azure end (``AzureEnd``, as the ARM sandbox
describes it) — plus the ``PfSenseEnd`` the pfSense sandbox would report for that desired state.
``run_case(case)`` renders both ends (``s2svpn.lab.render``), brings them up in a fresh ``Lab`` and
returns a ``LabOutcome``; ``world_view(case)`` asks ``World`` the same question, so tests can
compare the two verdicts field by field.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2svpn.intent import IpsecPolicy, SiteIntent
from s2svpn.lab import render
from s2svpn.lab.harness import (
    AZURE_PUBLIC_IP,
    NAT_PUBLIC_IP,
    PFSENSE_WAN_IP,
    Lab,
    wait_for,
)
from s2svpn.sandbox.world import AzureEnd, NatRouter, PfSenseEnd, TunnelView, World

_UNSET = object()


@dataclass
class LabCase:
    """Everything one lab run needs. ``desired`` is a ``PfSenseDesired`` (or any object with
    ``phase1``, ``phase2``, ``interface``, ``rule``, ``frr``)."""

    name: str
    intent: SiteIntent
    azure: AzureEnd
    desired: Any
    dns: dict[str, str] = field(default_factory=lambda: {"home-s2s.example.net": NAT_PUBLIC_IP})
    nat: NatRouter = field(default_factory=NatRouter)
    rekey: bool = False  # force a CHILD_SA rekey and report whether it worked
    bgp: bool = True  # start FRR once the child SA is up
    apipa_allowed: bool = False  # "Allow APIPA" already on before the push (pfSense's default: off)
    # Firewall > NAT > Outbound mode before the push (a fresh pfSense: automatic), and whether to
    # ping the VNet from the firewall itself (source chosen by the kernel: the VTI address)
    outbound_nat_mode: str = "automatic"
    self_ping: bool = False
    mss_probe: bool = False  # read the MSS of a LAN -> VNet TCP SYN where it leaves the tunnel

    @property
    def vti_max_mss(self) -> int | None:
        """The max-mss pf applies on the VTI after the push: the interface's MSS field minus 40
        (``filter.inc`` ``filter_generate_scrubing()``; s2svpn.pfsense_system)."""
        from s2svpn.pfsense_system import interface_max_mss

        return interface_max_mss(getattr(self.desired, "interface", None) or {})

    @property
    def link_local_blocked(self) -> bool:
        """Does the lab's pfSense drop 169.254.0.0/16 (filter.inc), after what the push wrote?"""
        system = getattr(self.desired, "system", None) or {}
        return not (self.apipa_allowed or system.get("no_apipa_block"))

    @property
    def outbound_nat_rules(self) -> list[tuple[str, str, str]]:
        """(source, destination, translation) pf would run on the VTI after the push.

        ``filter.inc`` (RELENG_2_7_2) ``filter_nat_rules_generate()``: manual mappings only in
        hybrid/advanced mode (the push turns automatic into hybrid: ``pfsense_nat.mode_after``,
        so a push that forgot the switch would leave the mappings without effect here);
        ``filter_nat_rules_generate_if()``: an address target is used as ``<ip>/<bits>``, any
        other target means the mapping interface's own address (the VTI's)."""
        from s2svpn.pfsense_nat import mode_after

        mappings = tuple(getattr(self.desired, "nat", ()) or ())
        if mode_after(self.outbound_nat_mode, mappings) not in ("hybrid", "advanced"):
            return []
        vti = str(self.desired.phase2.get("localid_address", ""))
        rules = []
        for m in mappings:
            if m.get("disabled") or m.get("nonat"):
                continue
            target = str(m.get("target") or "")
            try:
                ipaddress.ip_address(target)
            except ValueError:
                target = vti
            rules.append(
                (m["source"], m["destination"], f"{target}/{m.get('target_subnet') or 32}")
            )
        return rules


@dataclass
class LabOutcome:
    ike_up: bool = False
    child_up: bool = False
    nat_detected: bool = False
    ike: dict = field(default_factory=dict)  # Azure side's IKE SA (decoded vici)
    child: dict = field(default_factory=dict)  # Azure side's CHILD SA
    errors: tuple[str, ...] = ()  # notable charon log lines (AUTHENTICATION_FAILED, ...)
    rekey_ok: bool | None = None  # None = not tried
    rekey_child: dict = field(default_factory=dict)
    bgp_pfsense_state: str = ""
    bgp_azure_state: str = ""
    policy_blocked: bool = False
    azure_learned: tuple[str, ...] = ()
    pfsense_learned: tuple[str, ...] = ()
    ping_ok: bool | None = None
    self_ping_ok: bool | None = None  # the firewall itself -> a VNet address (case.self_ping)
    self_ping_source: str = ""  # the source address the kernel chose for it
    syn_mss: int | None = None  # MSS of a LAN -> VNet SYN as Azure receives it (case.mss_probe)
    timings: dict = field(default_factory=dict)
    base: Path | None = None


# ---- building the ends -------------------------------------------------------------------------


def azure_bgp_ip(intent: SiteIntent) -> str:
    if intent.bgp_mode == "apipa":
        return intent.azure_apipa_ip
    from s2svpn.netplan import azure_default_bgp_ip

    return azure_default_bgp_ip(intent.gateway_subnet_prefix)


def azure_end_for(
    intent: SiteIntent, *, psk: str, policy: IpsecPolicy | object | None = _UNSET, **changes: Any
) -> AzureEnd:
    """The Azure end for a site, as the ARM sandbox would describe it after provisioning."""
    end = AzureEnd(
        connection_id=intent.connection_name,
        gateway_public_ips=(AZURE_PUBLIC_IP,),
        azure_asn=intent.azure_asn,
        azure_bgp_ips=(azure_bgp_ip(intent),),
        lng_fqdn="" if intent.onprem_public_ip else intent.onprem_fqdn,
        lng_ip=intent.onprem_public_ip,
        lng_bgp_ip=intent.onprem_bgp_ip,
        lng_asn=intent.onprem_asn,
        connection_mode=intent.connection_mode,
        psk=psk,
        policy=intent.policy if policy is _UNSET else policy,  # type: ignore[arg-type]
        enable_bgp=True,
        advertised_prefixes=tuple(intent.vnet_prefixes),
    )
    return dataclasses.replace(end, **changes) if changes else end


def desired_for(intent: SiteIntent, *, psk: str, azure: AzureEnd) -> Any:
    """pfSense's desired state from s2svpn's own planner (the bodies the client pushes)."""
    from s2svpn.pfsense_plan import desired_pfsense

    return desired_pfsense(
        intent,
        azure_public_ip=azure.gateway_public_ips[0],
        azure_bgp_ip=azure.azure_bgp_ips[0],
        psk=psk,
    )


def interface_ips(intent: SiteIntent, desired: Any) -> dict[str, str]:
    """Current IPv4 of each pfSense interface id FRR's update-source may name."""
    p2_local = str(desired.phase2.get("localid_address", ""))
    lan_ip = intent.onprem_bgp_ip if intent.bgp_mode == "azure_default" else ""
    lan_ip = lan_ip or render.first_host(intent.lan_prefixes[0])
    ips = {"wan": PFSENSE_WAN_IP, "lan": lan_ip}
    iface = getattr(desired, "interface", None) or {}
    for key in ("if", "id", "descr"):
        if iface.get(key):
            ips[str(iface[key])] = p2_local
            ips[str(iface[key]).lower()] = p2_local
    return ips


def pfsense_end_for(
    case_intent: SiteIntent, desired: Any, dns: Mapping[str, str], *, apipa_allowed: bool = True
) -> PfSenseEnd:
    """What the pfSense sandbox would report for these REST bodies and FRR sections."""
    p1, p2, frr = desired.phase1, desired.phase2, desired.frr or {}
    crypto = render.pfsense_crypto(p1, p2)
    glob = (render._section(frr, "frr") or [{}])[0]
    bgp = (render._section(frr, "frrbgp") or [{}])[0]
    adv = (render._section(frr, "frrbgpadvanced") or [{}])[0]
    neighbors = render._section(frr, "frrbgpneighbors")
    nb = neighbors[0] if neighbors else {}
    ips = interface_ips(case_intent, desired)
    source = nb.get("updatesource", "")
    if source in ("", "default"):
        # no update-source line: the kernel picks the address of the route to the neighbor,
        # which is the VTI's own address when the neighbor sits on the /30
        local = str(p2.get("localid_address", ""))
        on_vti = nb.get("peer") and local and render.same_30(local, str(nb.get("peer")))
        update_source = local if on_vti else ""
    else:
        update_source = ips.get(source, "")
    maps = {m.get("name") for m in render._section(frr, "frrglobalroutemaps")}
    has_policy = render._on(adv.get("disableebgprequirepolicy")) or (
        nb.get("routemap_in", "none") in maps and nb.get("routemap_out", "none") in maps
    )
    rule = getattr(desired, "rule", None) or {}
    return PfSenseEnd(
        firewall_id="lab",
        wan_public_ip=NAT_PUBLIC_IP,
        remote_gateway=str(p1.get("remote_gateway", "")),
        psk=str(p1.get("pre_shared_key", "")),
        ike_proposals=crypto.ike_proposals,
        esp_encryptions=crypto.esp_encryptions,
        esp_hashes=crypto.esp_hashes,
        pfs_group=crypto.pfs_group,
        p2_local=str(p2.get("localid_address", "")),
        p2_remote=str(p2.get("remoteid_address", "")),
        start_action=str(p1.get("startaction", "")),
        ikeid=int(p1.get("ikeid", 1) or 1),
        reqid=int(p2.get("reqid", 1) or 1),
        phase1_disabled=bool(p1.get("disabled")),
        ipsec_rule=bool(rule) and rule.get("type", "pass") == "pass" and not rule.get("disabled"),
        frr_running=True,
        frr_enabled=render._on(glob.get("enable")) and render._on(bgp.get("enable")),
        local_asn=int(bgp["asnum"]) if bgp.get("asnum") else None,
        neighbor=str(nb.get("peer", "")),
        neighbor_asn=int(nb["asnum"]) if nb.get("asnum") else None,
        update_source_ip=update_source,
        ebgp_requires_policy=not has_policy,
        networks=tuple(
            r["distributeroutevalue"]
            for r in bgp.get("row", ()) or ()
            if r.get("distributeroutevalue")
        ),
        ike_lifetime=crypto.ike_lifetime,
        child_lifetime=crypto.child_lifetime,
        ike_id=pfsense_local_id(p1, dns),
        apipa_allowed=apipa_allowed,
    )


def pfsense_local_id(phase1: Mapping[str, Any], dns: Mapping[str, str]) -> str:
    """The IKE identity pfSense sends (``ipsec_find_id()``: "My IP address" is the private WAN
    address behind the NAT; ``dyn_dns`` goes out as ``dns:<fqdn>``, unresolved)."""
    local, _ = render.pfsense_identity(phase1, PFSENSE_WAN_IP, dns)
    return local


def world_view(case: LabCase) -> TunnelView:
    """``World``'s verdict for the case."""
    world = World()
    world.dns = dict(case.dns)
    world.nat = dataclasses.replace(case.nat)
    world.set_azure(case.azure.connection_id, case.azure)
    world.set_pfsense(
        "lab",
        pfsense_end_for(
            case.intent, case.desired, case.dns, apipa_allowed=not case.link_local_blocked
        ),
    )
    return world.view()[0]


# ---- running -----------------------------------------------------------------------------------

_ERROR_PATTERNS = (
    "AUTHENTICATION_FAILED",
    "NO_PROPOSAL_CHOSEN",
    "TS_UNACCEPTABLE",
    "no IKE config found",
    "no matching peer config",
    "tried .* shared key",
    "giving up after",
    "retransmit 1 of request",
    "received (?:NO_PROPOSAL_CHOSEN|AUTHENTICATION_FAILED)",
    "failed to establish CHILD_SA",
)
_ERROR_RE = re.compile("|".join(f"(?:{p})" for p in _ERROR_PATTERNS))


def log_errors(lab: Lab) -> tuple[str, ...]:
    found = []
    for node in ("az", "onprem"):
        for line in lab.log(node).splitlines():
            if _ERROR_RE.search(line):
                found.append(f"{node}: {line.strip()}")
    return tuple(found)


def _child_installed(lab: Lab, node: str) -> dict:
    for sa in lab.list_sas(node):
        if sa.get("state") == "ESTABLISHED":
            for child in (sa.get("child-sas") or {}).values():
                if child.get("state") == "INSTALLED":
                    return {"ike": sa, "child": child}
    return {}


def _ike_established(lab: Lab, node: str) -> dict:
    for sa in lab.list_sas(node):
        if sa.get("state") == "ESTABLISHED":
            return sa
    return {}


def _plumb(lab: Lab, case: LabCase) -> None:
    """What pfSense's VTI and Azure's gateway routing do, on the lab's ipsec0 devices."""
    intent, azure, p2 = case.intent, case.azure, case.desired.phase2
    bgp_ip = azure.azure_bgp_ips[0]
    lab.add_local("az", bgp_ip)
    lab.add_local("az", render.vnet_probe_address(intent.vnet_prefixes))
    for prefix in azure.advertised_prefixes:
        # the VNet: whatever is addressed inside it stays in it (Azure delivers it there), so a
        # reply to pfSense's VTI address in default BGP mode never goes back through the tunnel
        lab.add_blackhole("az", prefix)
    lan_ip = render.first_host(intent.lan_prefixes[0])
    for prefix in intent.lan_prefixes:
        lab.add_local("onprem", render.first_host(prefix))
        lab.add_blackhole("onprem", prefix)
    if intent.onprem_bgp_ip and intent.onprem_bgp_ip not in (
        lan_ip,
        p2.get("localid_address"),
        *[render.first_host(p) for p in intent.lan_prefixes],
    ):
        lab.add_local("onprem", intent.onprem_bgp_ip)
    if case.link_local_blocked:
        lab.block_link_local("onprem")
    for node in ("az", "onprem"):
        lab.wait_ipsec0(node)
    # pfSense: ipsec<reqid> gets the P2 local address; IPv4 VTIs are /30 point-to-point
    local = p2.get("localid_address")
    if local:
        bits = int(p2.get("localid_netbits") or 30)
        if p2.get("localid_type") == "address":
            bits = 30
        lab.ip("onprem", "addr", "add", f"{local}/{bits}", "dev", "ipsec0")
    if case.outbound_nat_rules:
        lab.outbound_snat("onprem", case.outbound_nat_rules)
    if case.vti_max_mss is not None:
        lab.clamp_mss("onprem", case.vti_max_mss)
    # Azure: a host route to the local network gateway's BGP peer address through the tunnel
    if azure.lng_bgp_ip:
        lab.ip("az", "route", "add", f"{azure.lng_bgp_ip}/32", "dev", "ipsec0", "src", bgp_ip)
    for prefix in intent.lng_prefixes:
        lab.ip("az", "route", "add", prefix, "dev", "ipsec0", "src", bgp_ip)


def _peer_address(case: LabCase) -> str:
    if case.azure.lng_fqdn:
        return case.dns.get(case.azure.lng_fqdn, "0.0.0.0")
    return case.azure.lng_ip


def _bgp_state(lab: Lab, node: str, peer: str) -> dict:
    data = lab.vtysh_json(node, f"show bgp neighbors {peer} json")
    return data.get(peer, {})


def _learned(lab: Lab, node: str) -> tuple[str, ...]:
    routes = lab.vtysh_json(node, "show ip bgp json").get("routes", {})
    learned = []
    for prefix, paths in routes.items():
        if any(p.get("valid") and p.get("path") for p in paths):
            learned.append(prefix)
    return tuple(sorted(learned))


def run_case(case: LabCase, *, ike_timeout: float = 4.0, bgp_timeout: float = 8.0) -> LabOutcome:
    """Bring the case up in a fresh lab, observe, tear down. Negative outcomes return as soon
    as charon logs the failure (AUTHENTICATION_FAILED, NO_PROPOSAL_CHOSEN, retransmits)."""
    outcome = LabOutcome()
    t0 = time.monotonic()
    intent, azure, desired = case.intent, case.azure, case.desired
    with Lab() as lab:
        outcome.base = lab.base
        lab.build(
            ports_forwarded=case.nat.ports_forwarded,
            azure_drops_ike_init=azure.connection_mode == "InitiatorOnly",
        )
        ips = interface_ips(intent, desired)
        lab.start_charon("az", render.azure_swanctl(azure, peer_address=_peer_address(case)))
        onprem_conf = render.for_libipsec(
            render.pfsense_swanctl(
                desired.phase1, desired.phase2, wan_address=PFSENSE_WAN_IP, dns=case.dns
            )
        )
        if desired.phase1.get("disabled"):
            onprem_conf = "connections {\n}\n"
        lab.start_charon("onprem", onprem_conf)
        _plumb(lab, case)
        outcome.timings["daemons"] = time.monotonic() - t0

        started = time.monotonic()

        def settled() -> bool:
            both = _child_installed(lab, "az") and _child_installed(lab, "onprem")
            if both or log_errors(lab):
                return True
            # nobody initiates at all: no IKE_SA, not even CONNECTING, on either end
            quiet = not lab.list_sas("az") and not lab.list_sas("onprem")
            return quiet and time.monotonic() - started > 1.5

        with contextlib.suppress(TimeoutError):
            wait_for(settled, ike_timeout, interval=0.05, what="IKE to settle")
        time.sleep(0.1)  # let a just-failed exchange finish logging
        ike = _ike_established(lab, "az")
        installed = _child_installed(lab, "az")
        outcome.ike_up = bool(ike) and bool(_ike_established(lab, "onprem"))
        outcome.child_up = bool(installed) and bool(_child_installed(lab, "onprem"))
        outcome.ike = ike
        outcome.child = installed.get("child", {})
        outcome.nat_detected = ike.get("nat-remote") == "yes"
        outcome.timings["ike"] = time.monotonic() - t0

        if outcome.child_up and case.rekey:
            outcome.rekey_ok, outcome.rekey_child = _rekey(lab, desired)
        if outcome.child_up and case.bgp:
            _run_bgp(lab, case, ips, outcome, bgp_timeout)
            outcome.timings["bgp"] = time.monotonic() - t0
        outcome.errors = log_errors(lab)
    outcome.timings["total"] = time.monotonic() - t0
    return outcome


def _rekey(lab: Lab, desired: Any) -> tuple[bool, dict]:
    """Force pfSense to rekey its CHILD_SA (it rekeys first: 3,600 s vs Azure's 27,000 s) and
    report whether a new child with fresh SPIs is installed on both ends."""
    ikeid = int(desired.phase1.get("ikeid", 1) or 1)
    before = _child_installed(lab, "onprem").get("child", {}).get("spi-in")
    lab.swanctl("onprem", "--rekey", "--child", f"con{ikeid}", check=False)

    def done() -> Any:
        text = lab.log("onprem") + lab.log("az")
        if "NO_PROPOSAL_CHOSEN" in text or "failed to establish CHILD_SA" in text:
            return "failed"
        now = _child_installed(lab, "onprem").get("child", {})
        if now.get("spi-in") and now.get("spi-in") != before:
            return "ok"
        return None

    try:
        result = wait_for(done, 4, interval=0.05, what="the child rekey")
    except TimeoutError:
        result = "failed"
    child = _child_installed(lab, "az").get("child", {})
    return result == "ok", child


def _run_bgp(lab: Lab, case: LabCase, ips: dict, outcome: LabOutcome, timeout: float) -> None:
    azure, desired, intent = case.azure, case.desired, case.intent
    lab.start_frr("az", render.azure_frr(azure, passive=intent.bgp_mode == "apipa"))
    lab.start_frr("onprem", render.pfsense_frr(desired.frr or {}, interface_ips=ips))
    pf_peer = (render._section(desired.frr or {}, "frrbgpneighbors") or [{}])[0].get("peer", "")
    az_peer = azure.lng_bgp_ip
    expect_az = set(intent.lan_prefixes)
    expect_pf = set(azure.advertised_prefixes)

    def state() -> tuple[dict, dict]:
        pf = _bgp_state(lab, "onprem", pf_peer) if pf_peer else {}
        az = _bgp_state(lab, "az", az_peer) if az_peer else {}
        return pf, az

    def settled() -> bool:
        pf, az = state()
        if pf.get("bgpState") == "Established" and az.get("bgpState") == "Established":
            if _policy_blocked(pf):
                return True
            return expect_az <= set(_learned(lab, "az")) and expect_pf <= set(
                _learned(lab, "onprem")
            )
        # a rejected OPEN shows up as a NOTIFICATION on either side
        return bool(pf.get("lastNotificationReason") or az.get("lastNotificationReason"))

    with contextlib.suppress(TimeoutError):
        wait_for(settled, timeout, interval=0.1, what="BGP to settle")
    pf, az = state()
    outcome.bgp_pfsense_state = pf.get("bgpState", "Idle") if pf_peer else "Idle"
    outcome.bgp_azure_state = az.get("bgpState", "Idle")
    outcome.policy_blocked = outcome.bgp_pfsense_state == "Established" and _policy_blocked(pf)
    outcome.azure_learned = _learned(lab, "az")
    outcome.pfsense_learned = _learned(lab, "onprem")
    if outcome.bgp_pfsense_state == "Established" and not outcome.policy_blocked:
        source = render.first_host(intent.lan_prefixes[0])
        target = render.vnet_probe_address(intent.vnet_prefixes)
        ping = lab.x(
            "onprem", "ping", "-c", "2", "-i", "0.2", "-W", "1", "-I", source, target, check=False
        )
        outcome.ping_ok = ping.returncode == 0
        if case.mss_probe:
            outcome.syn_mss = lab.syn_mss("az", "onprem", source, target)
    if outcome.bgp_pfsense_state == "Established" and case.self_ping:
        _self_ping(lab, case, outcome)


def _self_ping(lab: Lab, case: LabCase, outcome: LabOutcome) -> None:
    """What DNS, NTP or a Diagnostics ping from pfSense itself does: no source given, so the
    kernel picks the address of the outgoing interface (the VTI). In default BGP mode that address
    lies inside the VNet, and the lab's Azure routes the reply into the VNet (its blackholed VNet
    prefixes), not through the tunnel, as Azure delivers it."""
    target = render.vnet_probe_address(case.intent.vnet_prefixes)
    route = lab.ip("onprem", "-o", "route", "get", target, check=False).stdout
    match = re.search(r"\bsrc (\S+)", route)
    outcome.self_ping_source = match.group(1) if match else ""
    ping = lab.x("onprem", "ping", "-c", "2", "-i", "0.2", "-W", "1", target, check=False)
    outcome.self_ping_ok = ping.returncode == 0


def _policy_blocked(peer: Mapping[str, Any]) -> bool:
    af = peer.get("addressFamilyInfo", {}).get("ipv4Unicast", {})
    return bool(af.get("inboundEbgpRequiresPolicy") or af.get("outboundEbgpRequiresPolicy"))
