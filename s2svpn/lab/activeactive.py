"""The active-active lab: two Azure gateway instances, both tunnels from one pfSense, a failover.

Topology (seven namespaces, the single-tunnel lab's four plus three)::

    vnet (172.16.20.4, a VM)  ==  az  (instance 0, 198.51.100.10) --+
                              ==  az2 (instance 1, 192.0.2.10)   ---+-- inet -- nat -- onprem (pfSense) -- lan
                                                                                         10.0.0.1        10.0.0.10

Each Azure instance runs its own charon and FRR (Azure's BGP speaker at the instance's address,
rendered by ``s2svpn.lab.render`` as for one instance). pfSense is one namespace with one FRR
(both neighbours, from s2svpn's own ``desired_pfsense`` for each tunnel, merged as the push
merges them) and two charons: kernel-libipsec has one TUN device per charon (``ipsec0`` and
``ipsec1``, the lab's stand-ins for pfSense's ``ipsec<reqid>`` VTIs), and a charon picks a child
SA by selectors, which are 0.0.0.0/0 on both of pfSense's VTI children - so each tunnel gets its
own charon (the second on other local UDP ports; the NAT router hides them). The VNet side routes
the home prefixes to both instances (equal cost, as Azure's SDN does); stopping an instance
kills its daemons and takes its link into the VNet down, as a maintained instance disappears.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from s2svpn import activeactive
from s2svpn.intent import SiteIntent
from s2svpn.lab import render
from s2svpn.lab.harness import NAT_PUBLIC_IP, PFSENSE_WAN_IP, Lab, wait_for
from s2svpn.lab.scenario import azure_end_for
from s2svpn.pfsense_plan import desired_pfsense, merge_frr

AZ_PUBLIC_IPS = ("198.51.100.10", "192.0.2.10")
AZ_NODES = ("az", "az2")
LAN_HOST = "10.0.0.10"
VNET_LINKS = (("100.64.0.1", "100.64.0.2"), ("100.64.0.5", "100.64.0.6"))  # (az side, vnet side)
SECOND_CHARON = {"port": 1500, "port_nat_t": 14500, "table": 221}
PSK = "LabActiveActiveKey0123456789abcdefABCDEF"
DNS = {"home-s2s.example.net": NAT_PUBLIC_IP}


class AaLab(Lab):
    """A :class:`Lab` whose ``onprem2`` node is a second charon inside the ``onprem`` namespace."""

    def ns(self, node: str) -> str:
        return super().ns("onprem" if node == "onprem2" else node)

    def veth(self, a: str, a_if: str, a_ip: str, b: str, b_if: str, b_ip: str) -> None:
        self._veth(a, a_if, a_ip, b, b_if, b_ip)

    def wait_tun(self, node: str, device: str) -> None:
        wait_for(
            lambda: self.ip(node, "link", "show", device, check=False).returncode == 0,
            10,
            what=f"the TUN device {device} in {node}",
        )
        self.ip(node, "link", "set", device, "up")


@dataclass
class AaOutcome:
    """What both ends showed once both tunnels had settled."""

    pfsense_sessions: dict[str, str] = field(default_factory=dict)  # Azure address -> state
    azure_sessions: dict[str, str] = field(default_factory=dict)  # instance node -> state
    pfsense_learned: dict[str, list[str]] = field(default_factory=dict)  # prefix -> nexthops
    azure_learned: dict[str, tuple[str, ...]] = field(default_factory=dict)  # node -> prefixes
    ping_ok: bool = False
    hold_time_ms: int | None = None
    failover: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def tunnels_for(intent: SiteIntent) -> list[activeactive.Tunnel]:
    return activeactive.tunnels(intent, AZ_PUBLIC_IPS)


def _frr_sections(desireds: list[Any]) -> dict:
    """Both tunnels' FRR sections merged as the push merges them into the firewall's."""
    sections: dict = {"frr": None, "frrbgp": None, "frrbgpadvanced": None, "frrbgpneighbors": []}
    for desired in desireds:
        sections, _ = merge_frr(sections, desired.frr, password="lab")
    return sections


def _vti_address(lab: AaLab, device: str, p2: dict) -> None:
    """pfSense's ``ifconfig ipsecN inet <local>/<bits> <remote>`` (interface_ipsec_vti_configure)."""
    local, bits, remote = p2["localid_address"], int(p2["localid_netbits"]), p2["remoteid_address"]
    if bits == 32:
        lab.ip("onprem", "addr", "add", local, "peer", f"{remote}/32", "dev", device)
    else:
        lab.ip("onprem", "addr", "add", f"{local}/{bits}", "dev", device)


def _bgp(lab: AaLab, node: str, peer: str) -> dict:
    return lab.vtysh_json(node, f"show bgp neighbors {peer} json").get(peer, {})


def _routes(lab: AaLab, node: str) -> dict[str, list[str]]:
    """Kernel-bound BGP routes: prefix -> nexthop addresses (two for equal-cost multipath)."""
    data = lab.vtysh_json(node, "show ip route bgp json")
    out = {}
    for prefix, entries in data.items():
        for entry in entries:
            if entry.get("selected"):
                out[prefix] = sorted(
                    nh.get("ip", "") for nh in entry.get("nexthops", []) if nh.get("active")
                )
    return out


def _learned(lab: AaLab, node: str) -> tuple[str, ...]:
    routes = lab.vtysh_json(node, "show ip bgp json").get("routes", {})
    return tuple(sorted(p for p, paths in routes.items() if any(x.get("path") for x in paths)))


def bring_up(lab: AaLab, intent: SiteIntent) -> tuple[list[activeactive.Tunnel], list[Any]]:
    """Build the topology and start every daemon from s2svpn's own desired state."""
    tunnels = tunnels_for(intent)
    desireds = [
        desired_pfsense(
            t.intent, azure_public_ip=t.azure_public_ip, azure_bgp_ip=t.azure_bgp_ip, psk=PSK
        )
        for t in tunnels
    ]
    lab.build(azure_public_ip=AZ_PUBLIC_IPS[0])
    for node in ("az2", "vnet", "lan"):
        lab.add_node(node)
    lab.veth("az2", "az-wan", f"{AZ_PUBLIC_IPS[1]}/24", "inet", "inet-az2", "192.0.2.1/24")
    lab.ip("az2", "route", "add", "default", "via", "192.0.2.1")
    for index, node in enumerate(AZ_NODES):
        az_ip, vnet_ip = VNET_LINKS[index]
        lab.veth(node, "az-vnet", f"{az_ip}/30", "vnet", f"vnet-{node}", f"{vnet_ip}/30")
    lan_ip = render.first_host(intent.lan_prefixes[0])
    lab.veth("onprem", "op-lan", f"{lan_ip}/24", "lan", "lan0", f"{LAN_HOST}/24")
    lab.ip("lan", "route", "add", "default", "via", lan_ip)
    # The VNet: a VM at 172.16.20.4 and the home prefixes towards both instances (equal cost).
    probe = render.vnet_probe_address(intent.vnet_prefixes)
    lab.add_local("vnet", probe)
    for prefix in intent.lan_prefixes:
        lab.ip("vnet", "route", "add", prefix, "nexthop", "via", VNET_LINKS[0][0],
               "nexthop", "via", VNET_LINKS[1][0])  # fmt: skip
    for prefix in intent.lan_prefixes[1:]:
        lab.add_blackhole("onprem", prefix)
    if (
        intent.onprem_bgp_ip
        and intent.bgp_mode == "azure_default"
        and intent.onprem_bgp_ip != lan_ip
    ):
        lab.add_local("onprem", intent.onprem_bgp_ip)

    ends = []
    for index, (t, node) in enumerate(zip(tunnels, AZ_NODES, strict=True)):
        end = azure_end_for(
            intent,
            psk=PSK,
            gateway_public_ips=(t.azure_public_ip,),
            azure_bgp_ips=(t.azure_bgp_ip,),
        )
        ends.append(end)
        lab.add_local(node, t.azure_bgp_ip)
        for prefix in end.advertised_prefixes:
            lab.add_blackhole(node, prefix)
        lab.ip(node, "route", "add", f"{probe}/32", "via", VNET_LINKS[index][1])
        lab.start_charon(node, render.azure_swanctl(end, peer_address=NAT_PUBLIC_IP))
        lab.wait_tun(node, "ipsec0")
        lab.ip(node, "route", "add", f"{end.lng_bgp_ip}/32", "dev", "ipsec0", "src", t.azure_bgp_ip)
    for index, (desired, node, device) in enumerate(
        zip(desireds, ("onprem", "onprem2"), ("ipsec0", "ipsec1"), strict=True)
    ):
        conf = render.for_libipsec(
            render.pfsense_swanctl(
                desired.phase1, desired.phase2, wan_address=PFSENSE_WAN_IP, dns=DNS
            )
        )
        lab.start_charon(node, conf, **(SECOND_CHARON if index else {}))
        lab.wait_tun("onprem", device)  # started in turn: the first charon's TUN is ipsec0
        _vti_address(lab, device, desired.phase2)

    def both_children() -> bool:
        return all(_child_up(lab, node) for node in (*AZ_NODES, "onprem", "onprem2"))

    wait_for(both_children, 20, what="both tunnels' child SAs")
    for end, node in zip(ends, AZ_NODES, strict=True):
        lab.start_frr(node, render.azure_frr(end, passive=intent.bgp_mode == "apipa"))
    ips = {"wan": PFSENSE_WAN_IP, "lan": lan_ip}
    lab.start_frr("onprem", render.pfsense_frr(_frr_sections(desireds), interface_ips=ips))
    return tunnels, desireds


def _child_up(lab: AaLab, node: str) -> bool:
    for sa in lab.list_sas(node):
        if sa.get("state") == "ESTABLISHED":
            if any(c.get("state") == "INSTALLED" for c in (sa.get("child-sas") or {}).values()):
                return True
    return False


def observe(lab: AaLab, intent: SiteIntent, tunnels: list[activeactive.Tunnel]) -> AaOutcome:
    outcome = AaOutcome()
    for t, node in zip(tunnels, AZ_NODES, strict=True):
        outcome.pfsense_sessions[t.azure_bgp_ip] = _bgp(lab, "onprem", t.azure_bgp_ip).get(
            "bgpState", "Idle"
        )
        peer = intent.onprem_bgp_ip
        outcome.azure_sessions[node] = _bgp(lab, node, peer).get("bgpState", "Idle")
        outcome.azure_learned[node] = _learned(lab, node)
    outcome.pfsense_learned = _routes(lab, "onprem")
    first = _bgp(lab, "onprem", tunnels[0].azure_bgp_ip)
    outcome.hold_time_ms = first.get("bgpTimerHoldTimeMsecs")
    return outcome


def settled(lab: AaLab, intent: SiteIntent, tunnels: list[activeactive.Tunnel]) -> bool:
    seen = observe(lab, intent, tunnels)
    vnet = set(intent.vnet_prefixes)
    return (
        all(s == "Established" for s in seen.pfsense_sessions.values())
        and all(s == "Established" for s in seen.azure_sessions.values())
        and all(set(intent.lan_prefixes) <= set(p) for p in seen.azure_learned.values())
        and all(len(seen.pfsense_learned.get(p, [])) == 2 for p in vnet)
    )


def ping(lab: AaLab, intent: SiteIntent, count: int = 3) -> bool:
    probe = render.vnet_probe_address(intent.vnet_prefixes)
    done = lab.x("lan", "ping", "-c", str(count), "-i", "0.2", "-W", "1", probe, check=False)
    return done.returncode == 0


def carrying_instance(lab: AaLab, intent: SiteIntent, tunnels: list[activeactive.Tunnel]) -> int:
    """Which tunnel pfSense sends the LAN -> VNet flow through (ECMP picks one per flow)."""
    probe = render.vnet_probe_address(intent.vnet_prefixes)
    out = lab.ip("onprem", "route", "get", probe, "from", LAN_HOST, "iif", "op-lan").stdout
    return 1 if " dev ipsec1" in out else 0


def stop_instance(lab: AaLab, index: int, *, abrupt: bool = False) -> None:
    """Instance ``index`` goes away and leaves the VNet. Gracefully (a planned stop): its daemons
    stop in order, so bgpd's session closes through the still-working tunnel and pfSense
    withdraws at once. ``abrupt`` (a failure): the instance's network goes first, nothing more
    reaches pfSense, and only the BGP hold timer tells."""
    node = AZ_NODES[index]
    if abrupt:
        lab.ip(node, "link", "set", "az-wan", "down")
        lab.ip("vnet", "link", "set", f"vnet-{node}", "down")
    for key in (f"{node}/bgpd", f"{node}/zebra", f"{node}/charon"):
        proc = lab.procs.get(key)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
    lab.ip("vnet", "link", "set", f"vnet-{node}", "down")


_REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=(\d+)")


def failover(
    lab: AaLab,
    intent: SiteIntent,
    tunnels: list[activeactive.Tunnel],
    *,
    limit: float,
    abrupt: bool = False,
) -> dict[str, Any]:
    """Ping the VNet VM from the LAN every 0.1 s (bounded by ``limit``), stop the instance that
    carries the flow, and measure the longest gap between two replies."""
    probe = render.vnet_probe_address(intent.vnet_prefixes)
    victim = carrying_instance(lab, intent, tunnels)
    interval = 0.1
    proc = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("lan"), "ping", "-D", "-n", "-i", str(interval),
         "-W", "1", "-w", str(int(limit)), probe],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        time.sleep(2.0)
        stopped_at = time.time()
        stop_instance(lab, victim, abrupt=abrupt)
        survivor = tunnels[1 - victim].azure_bgp_ip

        def withdrawn() -> bool:
            routes = _routes(lab, "onprem")
            return all(routes.get(p) == [survivor] for p in intent.vnet_prefixes)

        wait_for(withdrawn, limit, interval=0.2, what="BGP to withdraw the stopped instance")
        withdrawn_at = time.time()
        time.sleep(2.0)  # replies flow again over the other tunnel
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        out, _ = proc.communicate(timeout=10)
        lines = out.splitlines()
    replies = [(float(m[1]), int(m[2])) for line in lines if (m := _REPLY.match(line))]
    before = [t for t, _ in replies if t < stopped_at]
    after = [t for t, _ in replies if t >= stopped_at]
    gap = (after[0] - before[-1]) if before and after else None
    return {
        "stopped_instance": victim,
        "how": "abrupt" if abrupt else "graceful",
        "surviving_bgp_ip": tunnels[1 - victim].azure_bgp_ip,
        "interruption_seconds": round(gap, 2) if gap is not None else None,
        "withdrawn_after_seconds": round(withdrawn_at - stopped_at, 2),
        "replies_after": len(after),
        "interval_seconds": interval,
    }
