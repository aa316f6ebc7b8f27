"""``LabWorld``: the sandboxes' World backed by real strongSwan and FRR (``manage.py sandbox --lab``).

The sandboxes keep calling ``set_azure`` / ``set_pfsense`` with what they hold; LabWorld renders
both ends (``s2svpn.lab.render``) and (re)builds a lab in the background whenever what it would
render changes; ``view()`` answers from the daemons: IKE/child SAs over vici, BGP state and learned
prefixes over vtysh. Where the lab is not running (gateway still building, no firewall paired) or
the tunnel is down, the reason comes from the model (``World.evaluate``), so the words stay the
same in both modes.

Limits: one Azure connection with its paired firewall runs in the lab (the first, by key); the home
router always masquerades (``World.nat.behind_nat=False`` is not modelled); a pfSense PfSenseEnd
is turned back into phase 1/2 bodies and FRR sections for rendering (``pfsense_sections``).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import ipaddress
import threading
import time
from pathlib import Path
from typing import Any

from s2svpn.lab import render
from s2svpn.lab.harness import PFSENSE_WAN_IP, Lab, missing_requirements, traversable, wait_for
from s2svpn.sandbox.world import (
    AzureEnd,
    PfSenseEnd,
    TunnelView,
    World,
    evaluate,
    pair_firewall,
)

# FRR's words for the Azure side's peer, in Azure's getBgpPeerStatus words
AZURE_BGP_WORDS = {
    "Established": "Connected",
    "Idle": "Idle",
    "Connect": "Connecting",
    "Active": "Connecting",
    "OpenSent": "Connecting",
    "OpenConfirm": "Connecting",
}


def pfsense_sections(end: PfSenseEnd) -> tuple[dict, dict, dict, dict]:
    """(phase1, phase2, frr sections, interface ips) pfSense would hold for a ``PfSenseEnd``."""
    phase1 = {
        "ikeid": end.ikeid or 1,
        "iketype": "ikev2",
        "remote_gateway": end.remote_gateway,
        # the sandbox hands over the identity already rendered as ipsec_find_id() +
        # ipsec_fixup_id() would ("192.168.178.10", "dns:home.example.net", ...); "address"
        # passes it through unchanged
        "myid_type": "address",
        "myid_data": end.ike_id or PFSENSE_WAN_IP,
        "peerid_type": "peeraddress",
        "pre_shared_key": end.psk,
        "lifetime": end.ike_lifetime,
        "rekey_time": end.ike_lifetime * 9 // 10,
        "reauth_time": 0,
        "rand_time": end.ike_lifetime // 10,
        "startaction": end.start_action,
        "closeaction": "",
        "nat_traversal": "on",
        "dpd_delay": 10,
        "encryption": [
            {
                "encryption_algorithm_name": name,
                "encryption_algorithm_keylen": keylen,
                "hash_algorithm": hash_alg,
                "dhgroup": dh,
            }
            for name, keylen, hash_alg, dh in end.ike_proposals
        ],
    }
    phase2 = {
        "ikeid": end.ikeid or 1,
        "reqid": end.reqid or 1,
        "mode": "vti",
        "localid_type": "network",
        "localid_address": end.p2_local,
        "localid_netbits": 30,
        "remoteid_type": "address",
        "remoteid_address": end.p2_remote,
        "encryption_algorithm_option": [{"name": n, "keylen": k} for n, k in end.esp_encryptions],
        "hash_algorithm_option": list(end.esp_hashes),
        "pfsgroup": end.pfs_group,
        "lifetime": end.child_lifetime,
        "rekey_time": end.child_lifetime * 9 // 10,
        "rand_time": end.child_lifetime // 10,
    }
    on_vti = end.update_source_ip in ("", end.p2_local)
    neighbor = {
        "peer": end.neighbor,
        "asnum": end.neighbor_asn or "",
        "updatesource": "default" if on_vti else "bgpsource",
        "softreconfigurationinbound": "on",
    }
    if not on_vti:
        neighbor["ebgpmultihop"] = "2"
    frr = {
        "frr": {"enable": "on" if end.frr_enabled else ""},
        "frrbgp": {
            "enable": "on" if end.frr_enabled else "",
            "asnum": end.local_asn or "",
            "routerid": end.update_source_ip or end.p2_local,
            "row": [
                {"distributeroutevalue": n, "distributeroutemap": "none"} for n in end.networks
            ],
        },
        "frrbgpadvanced": {"disableebgprequirepolicy": "" if end.ebgp_requires_policy else "on"},
        "frrbgpneighbors": [neighbor] if end.neighbor else [],
    }
    return phase1, phase2, frr, {"bgpsource": end.update_source_ip}


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Everything the running lab was built from; a different plan means a rebuild."""

    azure_key: str
    pfsense_key: str
    azure: AzureEnd
    pfsense: PfSenseEnd
    peer_address: str
    ports_forwarded: bool
    nat_public_ip: str


class LabWorld(World):
    """A World whose tunnel and BGP answers come from real daemons in network namespaces."""

    def __init__(self, base: Path | str | None = None) -> None:
        super().__init__()
        reason = missing_requirements()
        if reason:
            raise RuntimeError(f"lab mode cannot run here: {reason}")
        self.base = Path(base) if base else None
        if self.base:
            self.base.mkdir(parents=True, exist_ok=True)
        self.lab: Lab | None = None
        self.plan: _Plan | None = None
        self.lab_lock = threading.RLock()  # held while the lab is replaced or read
        self.applying = False
        self.last_error = ""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="lab-world", daemon=True)
        self._worker.start()
        atexit.register(self.close)  # never leave daemons or namespaces behind

    # ---- the contract ------------------------------------------------------------------------
    def set_azure(self, key: str, end: AzureEnd | None) -> None:
        super().set_azure(key, end)
        self._wake.set()

    def set_pfsense(self, key: str, end: PfSenseEnd | None) -> None:
        super().set_pfsense(key, end)
        self._wake.set()

    def view(self) -> list[TunnelView]:
        with self.lock:
            model = evaluate(self)
        self._wake.set()
        if not self._acquire_for_reading():  # the worker is rebuilding the lab
            return [self._starting(v) for v in model]
        try:
            plan, lab = self.plan, self.lab
            out = []
            for v in model:
                if plan is None or v.azure_key != plan.azure_key:
                    out.append(v)
                elif lab is None:  # the lab failed to start: say so, never claim "up"
                    out.append(self._starting(v, self.last_error))
                else:
                    out.append(self._observe(v, lab))
            return out
        finally:
            self.lab_lock.release()

    def _acquire_for_reading(self, patience: float = 10.0) -> bool:
        """The lab lock for one read. Readers queue behind each other (a read asks charon and
        vtysh, ~0.1 s, longer on a busy machine; the sandboxes read concurrently): only a
        rebuild by the worker makes a reader give up and answer "restarting"."""
        deadline = time.monotonic() + patience
        while not self.lab_lock.acquire(timeout=0.2):
            if self.applying or time.monotonic() > deadline:
                return False
        return True

    @staticmethod
    def _starting(model: TunnelView, reason: str = "") -> TunnelView:
        if not model.ike_up:
            return model
        return dataclasses.replace(
            model,
            ike_up=False,
            child_up=False,
            bgp_azure_state="Connecting",
            bgp_pfsense_state="Idle",
            bgp_policy_blocked=False,
            azure_learned=(),
            pfsense_learned=(),
            reason=reason
            or "the lab is (re)starting strongSwan and FRR with the new configuration",
        )

    def close(self) -> None:
        """Stop the background worker and tear the lab down (by PID, then namespaces)."""
        atexit.unregister(self.close)
        self._stop.set()
        self._wake.set()
        self._worker.join(timeout=30)
        with self.lab_lock:
            if self.lab is not None:
                self.lab.close()
            self.lab, self.plan = None, None

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until the lab reflects the latest configuration (for tests and the CLI)."""
        self._wake.set()
        wait_for(
            lambda: not self.applying and self._desired_plan() == self.plan,
            timeout,
            interval=0.05,
            what="the lab to apply the latest configuration",
        )

    # ---- the background worker ---------------------------------------------------------------
    def _desired_plan(self) -> _Plan | None:
        with self.lock:
            for key in sorted(self.azure):
                azure = self.azure[key]
                if not azure.gateway_ready:
                    continue
                fw_key, end = pair_firewall(self, azure)
                if end is None or end.phase1_disabled:
                    continue
                peer = self.resolved.get(azure.connection_id) if azure.lng_fqdn else azure.lng_ip
                if azure.lng_fqdn and not peer:
                    peer = self.dns.get(azure.lng_fqdn, "")
                return _Plan(
                    key,
                    fw_key or "",
                    azure,
                    end,
                    peer or "",
                    self.nat.ports_forwarded,
                    self.nat.public_ip,
                )
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._stop.is_set():
                break
            with self.lock:
                evaluate(self)  # keeps Azure's DNS cache current
            plan = self._desired_plan()
            if plan == self.plan:
                continue
            self.applying = True
            try:
                self._apply(plan)
                self.last_error = ""
            except Exception as exc:  # a daemon that would not start: keep serving the model
                self.last_error = f"the lab could not apply the configuration: {exc}"
            finally:
                self.applying = False

    def _apply(self, plan: _Plan | None) -> None:
        with self.lab_lock:
            if self.lab is not None:
                self.lab.close()
            self.lab, self.plan = None, plan
            if plan is None:
                return
            lab = Lab(self._run_dir())
            self.lab = lab
            try:
                self._bring_up(lab, plan)
            except Exception:
                lab.close()
                self.lab = None
                raise

    def _run_dir(self) -> Path | None:
        """A per-run directory under ``base`` when FRR (user frr) can reach it, else in /tmp."""
        if self.base is None or not traversable(self.base):
            return None
        import tempfile

        return Path(tempfile.mkdtemp(prefix="run-", dir=self.base))

    def _bring_up(self, lab: Lab, plan: _Plan) -> None:
        azure, end = plan.azure, plan.pfsense
        lab.build(
            ports_forwarded=plan.ports_forwarded,
            azure_drops_ike_init=azure.connection_mode == "InitiatorOnly",
            azure_public_ip=azure.gateway_public_ips[0],
            nat_public_ip=plan.nat_public_ip,
        )
        if not end.ipsec_rule:
            lab.block_inbound_tunnel("onprem")  # pf: no pass rule on enc0, states still pass
        if not end.apipa_allowed:
            lab.block_link_local("onprem")  # filter.inc's link-local block (Allow APIPA off)
        phase1, phase2, frr, ips = pfsense_sections(end)
        lab.start_charon(
            "az", render.azure_swanctl(azure, peer_address=plan.peer_address or "0.0.0.0")
        )
        lab.start_charon(
            "onprem",
            render.for_libipsec(render.pfsense_swanctl(phase1, phase2, wan_address=PFSENSE_WAN_IP)),
        )
        # addresses the ends own, the VTI and Azure's route to the LNG BGP peer
        for bgp_ip in azure.azure_bgp_ips[:1]:
            lab.add_local("az", bgp_ip)
        for prefix in azure.advertised_prefixes:
            lab.add_blackhole("az", prefix)
            lab.add_local("az", render.vnet_probe_address([prefix]))
        for prefix in end.networks:
            lab.add_blackhole("onprem", prefix)
            lab.add_local("onprem", render.first_host(prefix))
        source = end.update_source_ip
        if source and source != end.p2_local and not _is_local_to(source, end.networks):
            lab.add_local("onprem", source)
        for node in ("az", "onprem"):
            lab.wait_ipsec0(node)
        if end.p2_local and end.vti_assigned:
            lab.ip("onprem", "addr", "add", f"{end.p2_local}/30", "dev", "ipsec0")
        if azure.lng_bgp_ip and azure.azure_bgp_ips:
            lab.ip(
                "az",
                "route",
                "add",
                f"{azure.lng_bgp_ip}/32",
                "dev",
                "ipsec0",
                "src",
                azure.azure_bgp_ips[0],
            )
        # FRR once the child SA carries traffic (pfSense's FRR retries only every 120 s)
        with contextlib.suppress(TimeoutError):
            wait_for(lambda: _child_up(lab, "onprem") and _child_up(lab, "az"), 5)
        if azure.enable_bgp:
            passive = bool(azure.azure_bgp_ips) and azure.azure_bgp_ips[0].startswith("169.254.")
            lab.start_frr("az", render.azure_frr(azure, passive=passive))
        if end.frr_enabled and end.frr_running:
            lab.start_frr("onprem", render.pfsense_frr(frr, interface_ips=ips))

    # ---- reading the daemons -----------------------------------------------------------------
    def _observe(self, model: TunnelView, lab: Lab) -> TunnelView:
        plan = self.plan
        assert plan is not None
        view = dataclasses.replace(model, negotiated=dict(model.negotiated))
        try:
            az_sa = _established(lab, "az")
            pf_sa = _established(lab, "onprem")
        except Exception:  # charon gone or being replaced
            az_sa = pf_sa = {}
        view.ike_up = bool(az_sa) and bool(pf_sa)
        child = _installed_child(az_sa)
        view.child_up = view.ike_up and bool(child) and bool(_installed_child(pf_sa))
        if view.ike_up:
            view.negotiated["ike_sa"] = {
                k: az_sa.get(k, "")
                for k in ("encr-alg", "encr-keysize", "integ-alg", "prf-alg", "dh-group")
            }
        if child:
            view.negotiated["child_sa"] = {
                k: child.get(k, "") for k in ("encr-alg", "encr-keysize", "integ-alg", "dh-group")
            }
        view.bgp_pfsense_state, view.bgp_azure_state = "Idle", "Idle"
        view.bgp_policy_blocked = False
        view.azure_learned, view.pfsense_learned = (), ()
        pf_peer = _frr_peer(lab, "onprem", plan.pfsense.neighbor)
        az_peer = _frr_peer(lab, "az", plan.azure.lng_bgp_ip)
        if pf_peer is not None:
            view.bgp_pfsense_state = pf_peer.get("bgpState", "Idle")
        if az_peer is not None:
            view.bgp_azure_state = AZURE_BGP_WORDS.get(az_peer.get("bgpState", ""), "Unknown")
        elif not plan.azure.enable_bgp:
            view.bgp_azure_state = "Stopped"
        if view.bgp_pfsense_state == "Established" and pf_peer is not None:
            af = pf_peer.get("addressFamilyInfo", {}).get("ipv4Unicast", {})
            view.bgp_policy_blocked = bool(
                af.get("inboundEbgpRequiresPolicy") or af.get("outboundEbgpRequiresPolicy")
            )
            view.azure_learned = _learned(lab, "az")
            view.pfsense_learned = _learned(lab, "onprem")
        if (
            view.child_up
            and view.bgp_pfsense_state == "Established"
            and not view.bgp_policy_blocked
        ):
            view.reason = model.reason if "rekey" in model.reason else ""
        elif not model.reason:
            view.reason = self.last_error or (
                "the lab is still bringing the tunnel up"
                if self.applying or not view.child_up
                else "BGP is not established yet in the lab"
            )
        return view


def _is_local_to(address: str, prefixes: tuple[str, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip == ipaddress.ip_address(render.first_host(p)) for p in prefixes)


def _established(lab: Lab, node: str) -> dict[str, Any]:
    for sa in lab.list_sas(node):
        if sa.get("state") == "ESTABLISHED":
            return sa
    return {}


def _installed_child(sa: dict[str, Any]) -> dict[str, Any]:
    for child in (sa.get("child-sas") or {}).values():
        if child.get("state") == "INSTALLED":
            return child
    return {}


def _child_up(lab: Lab, node: str) -> bool:
    return bool(_installed_child(_established(lab, node)))


def _frr_peer(lab: Lab, node: str, peer: str) -> dict[str, Any] | None:
    if not peer or not lab.path(node, "frr", "bgpd.vty").exists():
        return None
    try:
        return lab.vtysh_json(node, f"show bgp neighbors {peer} json").get(peer)
    except Exception:
        return None


def _learned(lab: Lab, node: str) -> tuple[str, ...]:
    try:
        routes = lab.vtysh_json(node, "show ip bgp json").get("routes", {})
    except Exception:
        return ()
    return tuple(
        sorted(
            p for p, paths in routes.items() if any(x.get("valid") and x.get("path") for x in paths)
        )
    )
