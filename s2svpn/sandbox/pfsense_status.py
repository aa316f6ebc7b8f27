"""Tunnel and BGP state of the pfSense sandbox, from the shared
:class:`~s2svpn.sandbox.world.World`: the applied configuration is published as a
:class:`~s2svpn.sandbox.world.PfSenseEnd`, and the status endpoints (IPsec SAs, interfaces) and
``vtysh`` answers are built from ``world.view()``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from s2svpn import pfsense_plan as cmds
from s2svpn.pfsense_identity import identity
from s2svpn.pfsense_system import interface_max_mss
from s2svpn.sandbox.pfsense_state import FRR_PACKAGE, PfSenseStore
from s2svpn.sandbox.world import PfSenseEnd

_INTEG = {
    "hmac_sha1": "HMAC_SHA1_96",
    "hmac_sha256": "HMAC_SHA2_256_128",
    "hmac_sha384": "HMAC_SHA2_384_192",
    "hmac_sha512": "HMAC_SHA2_512_256",
}
_SHA = {"sha1": "SHA1", "sha256": "SHA2_256", "sha384": "SHA2_384", "sha512": "SHA2_512"}
_DH = {2: "MODP_1024", 14: "MODP_2048", 19: "ECP_256", 20: "ECP_384", 24: "MODP_2048_256"}


def _rule_admits(rule: dict, source_ip: str) -> bool:
    if (
        rule.get("type") != "pass"
        or rule.get("disabled")
        or "enc0" not in (rule.get("interface") or [])
    ):
        return False
    source = str(rule.get("source") or "")
    if source == "any":
        return True
    try:
        return ipaddress.ip_address(source_ip) in ipaddress.ip_network(source, strict=False)
    except ValueError:
        return False


class Status(PfSenseStore):
    def frr_daemons_running(self) -> bool:
        """Are pfSense-pkg-frr's daemons running (as ``frr_generate_config()`` left them)?"""
        with self.lock:
            return self._frr_running()

    # ---- pf's MSS clamps (src/etc/inc/filter.inc filter_generate_scrubing(), RELENG_2_7_2) ----
    def vpn_networks(self) -> list[str]:
        """The ``<vpn_networks>`` table as ``filter_get_vpns_list()`` fills it from IPsec.

        Per live phase 2 that is not mobile, not transport and not disabled, its remote id through
        ``ipsec_idinfo_to_cidr($remoteid, true)`` (``src/etc/inc/ipsec.inc``; called without a
        mode, so an "address" id is ``/32``, ``/128`` for tunnel6; "network" is
        address/netbits); ``0.0.0.0/0`` is left out. Only when IPsec is enabled (a phase 1 that
        is not disabled). Interface-name remote ids (s2svpn never pushes them) are not modelled."""
        with self.lock:
            ipsec = self.state["running"].get("ipsec") or {}
            if not any(not p1.get("disabled") for p1 in ipsec.get("phase1") or []):
                return []
            out: list[str] = []
            for p2 in ipsec.get("phase2") or []:
                if p2.get("mobile") or p2.get("mode") == "transport" or p2.get("disabled"):
                    continue
                kind, address = p2.get("remoteid_type"), p2.get("remoteid_address")
                if kind == "address" and address:
                    bits = 128 if p2.get("mode") == "tunnel6" else 32
                    out.append(f"{address}/{bits}")
                elif kind == "network" and address:
                    out.append(f"{address}/{p2.get('remoteid_netbits')}")
            return [n for n in out if n not in ("0.0.0.0/0", "::/0")]

    def vpn_max_mss(self) -> tuple[int | None, list[str]]:
        """(max-mss, networks) of ``scrub from any to <vpn_networks>`` / ``from <vpn_networks>
        to any``: IPsec Advanced's maximum MSS as given (None: clamp off)."""
        with self.lock:
            value = cmds.effective_maxmss(self.state["running"].get("system") or {})
        return value, self.vpn_networks()

    def interface_max_mss(self, port: str) -> int | None:
        """The IPv4 max-mss of ``scrub on $<if> inet all`` for the live interface on ``port``
        (e.g. ``ipsec1``): its MSS field minus 40; None without one (or when scrub is disabled
        and no MSS is set, the same)."""
        with self.lock:
            interfaces = self.state["running"].get("interfaces") or {}
            found = next((o for o in interfaces.values() if o.get("if") == port), None)
        return None if found is None else interface_max_mss(found)

    def syn_max_mss(self, source: str, destination: str, *, port: str, inbound: bool = False):
        """The lowest max-mss pf applies to a TCP SYN from ``source`` to ``destination`` that
        crosses the VTI ``port`` (outbound into the tunnel unless ``inbound``); None: unclamped.

        The ``<vpn_networks>`` scrub matches either address; the VTI's interface scrub applies
        outbound, and inbound only in the ``if_ipsec`` filter mode: in the default ``enc`` mode
        pfSense sets ``net.inet.ipsec.filtertunnel`` 0 (``globals.inc`` ``$ipsec_filter_sysctl``),
        so decapsulated packets skip pf (FreeBSD ``ipsec4_capability()``,
        IPSEC_CAP_BYPASS_FILTER). Other interfaces the SYN crosses (LAN) are not modelled."""
        clamps: list[int] = []
        value, networks = self.vpn_max_mss()
        if value is not None and any(
            ipaddress.ip_address(address) in ipaddress.ip_network(net, strict=False)
            for net in networks
            for address in (source, destination)
        ):
            clamps.append(value)
        with self.lock:
            mode = (self.state["running"].get("ipsec") or {}).get("filtermode") or "enc"
        if not inbound or mode == "if_ipsec":
            on_vti = self.interface_max_mss(port)
            if on_vti is not None:
                clamps.append(on_vti)
        return min(clamps) if clamps else None

    def apipa_allowed(self) -> bool:
        """Is "Allow APIPA" live (the filter reloaded with system/no_apipa_block set)?"""
        with self.lock:
            return (self.state["running"].get("system") or {}).get("no_apipa_block") is not None

    def _frr_running(self) -> bool:
        running = self.state["running"].get("frr") or {}
        return (
            self.faults.frr_running
            and FRR_PACKAGE in self.state["packages"]
            and (running.get("frr") or {}).get("enable") == "on"
        )

    def _ends(self) -> dict[str, PfSenseEnd]:
        running = self.state["running"]
        ipsec = running.get("ipsec") or {"phase1": [], "phase2": []}
        frr = running.get("frr") or {}
        interfaces = running.get("interfaces") or {}
        rules = (running.get("filter") or {}).get("rule") or []
        wan_ip = (self.config["interfaces"].get("wan") or {}).get("ipaddr", "")
        ends: dict[str, PfSenseEnd] = {}
        for index, p1 in enumerate(ipsec.get("phase1") or []):
            p2 = next(
                (
                    p
                    for p in ipsec.get("phase2") or []
                    if p.get("ikeid") == p1.get("ikeid") and p.get("mode") == "vti"
                ),
                None,
            )
            if p2 is None:
                continue
            key = self.firewall_id if index == 0 else f"{self.firewall_id}#con{p1['ikeid']}"
            ends[key] = self._end(key, p1, p2, frr, interfaces, rules, wan_ip)
        return ends

    def _end(self, key, p1, p2, frr, interfaces, rules, wan_ip) -> PfSenseEnd:
        bgp = frr.get("frrbgp") or {}
        advanced = frr.get("frrbgpadvanced") or {}
        neighbors = frr.get("frrbgpneighbors") or []
        neighbor = next(
            (n for n in neighbors if n.get("peer") == p2.get("remoteid_address")),
            neighbors[0] if neighbors else {},
        )
        vti = f"ipsec{p2.get('reqid')}"
        vti_id = next(
            (i for i, o in interfaces.items() if o.get("if") == vti and o.get("enable")), None
        )
        source = neighbor.get("updatesource") or "default"
        if source in ("default", "") or source == vti_id:
            update_ip = p2.get("localid_address", "")
        else:
            update_ip = (interfaces.get(source) or {}).get("ipaddr", "")
        policy = advanced.get("disableebgprequirepolicy") != "on" and not (
            neighbor.get("routemap_in") and neighbor.get("routemap_out")
        )
        peer_ip = neighbor.get("peer") or p2.get("remoteid_address", "")
        # what pfSense sends: src/etc/inc/ipsec.inc ipsec_find_id() + ipsec_fixup_id()
        # (My IP address = the WAN interface's own, private address; dyn_dns = "dns:<name>")
        ike_id = identity(p1.get("myid_type"), p1.get("myid_data"), wan_ip)
        system = self.state["running"].get("system") or {}
        frr_bgp_on = (frr.get("frr") or {}).get("enable") == "on" and bgp.get("enable") == "on"
        return PfSenseEnd(
            firewall_id=key,
            wan_public_ip=wan_ip,
            remote_gateway=p1.get("remote_gateway", ""),
            psk=p1.get("pre_shared_key", ""),
            ike_proposals=tuple(
                (
                    e["encryption_algorithm_name"],
                    int(e.get("encryption_algorithm_keylen") or 0),
                    e["hash_algorithm"],
                    int(e["dhgroup"]),
                )
                for e in p1.get("encryption") or []
            ),
            esp_encryptions=tuple(
                (e["name"], int(e.get("keylen") or 0))
                for e in p2.get("encryption_algorithm_option") or []
            ),
            esp_hashes=tuple(p2.get("hash_algorithm_option") or ()),
            pfs_group=int(p2.get("pfsgroup") or 0),
            p2_local=p2.get("localid_address", ""),
            p2_remote=p2.get("remoteid_address", ""),
            start_action=p1.get("startaction", ""),
            ikeid=int(p1.get("ikeid") or 0),
            reqid=int(p2.get("reqid") or 0),
            phase1_disabled=bool(p1.get("disabled")) or bool(p2.get("disabled")),
            vti_assigned=vti_id is not None,
            ipsec_rule=any(_rule_admits(rule, peer_ip) for rule in rules),
            frr_running=self._frr_running(),
            frr_enabled=frr_bgp_on,
            local_asn=int(bgp["asnum"]) if str(bgp.get("asnum", "")).isdigit() else None,
            neighbor=neighbor.get("peer", ""),
            neighbor_asn=int(neighbor["asnum"])
            if str(neighbor.get("asnum", "")).isdigit()
            else None,
            update_source_ip=update_ip,
            ebgp_requires_policy=policy,
            networks=tuple(
                row.get("distributeroutevalue")
                for row in bgp.get("row") or []
                if isinstance(row, dict) and row.get("distributeroutevalue")
            ),
            ike_lifetime=int(p1.get("lifetime") or 28800),
            child_lifetime=int(p2.get("lifetime") or 3600),
            ike_id=ike_id,
            # filter.inc: "block in quick" from/to 169.254.0.0/16 unless system/no_apipa_block
            apipa_allowed=system.get("no_apipa_block") is not None,
        )

    def _sync_world(self) -> None:
        if self.world is None:
            return
        ends = self._ends()
        for key in self._world_keys - set(ends):
            self.world.set_pfsense(key, None)
        for key, end in ends.items():
            self.world.set_pfsense(key, end)
        self._world_keys = set(ends)

    def _views(self) -> dict[str, Any]:
        if self.world is None:
            return {}
        self._sync_world()  # follow DNS and configuration changes
        return {view.pfsense_key: view for view in self.world.view() if view.pfsense_key}

    def _sas(self, *_: Any) -> list:
        views = self._views()
        out = []
        for key, end in self._ends().items():
            view = views.get(key)
            if view is not None and _stuck_authenticating(view, end):
                out.append(_connecting_sa(len(out), end))
                continue
            if view is None or not view.ike_up or end.phase1_disabled:
                continue
            enc, keylen, hash_name, dh = (
                end.ike_proposals[0] if end.ike_proposals else ("aes", 256, "sha256", 14)
            )
            children = []
            if view.child_up:
                esp_name, esp_keylen = (
                    end.esp_encryptions[0] if end.esp_encryptions else ("aes", 256)
                )
                gcm = "gcm" in esp_name
                children.append(
                    {
                        "name": f"con{end.ikeid}",
                        "uniqueid": 2 * len(out) + 2,
                        "reqid": 5000 + end.reqid,
                        "state": "INSTALLED",
                        "mode": "TUNNEL",
                        "protocol": "ESP",
                        "encap": True,
                        "encr_alg": "AES_GCM_16" if gcm else "AES_CBC",
                        "encr_keysize": int(re.sub(r"\D", "", esp_name) or esp_keylen)
                        if gcm
                        else esp_keylen,
                        "integ_alg": ""
                        if gcm
                        else _INTEG.get(end.esp_hashes[0] if end.esp_hashes else "", ""),
                        "dh_group": "",
                        "bytes_in": 1024,
                        "bytes_out": 2048,
                        "local_ts": ["0.0.0.0/0"],
                        "remote_ts": ["0.0.0.0/0"],
                    }
                )
            out.append(
                {
                    "id": len(out),
                    "con_id": f"con{end.ikeid}",
                    "uniqueid": 2 * len(out) + 1,
                    "version": 2,
                    "state": "ESTABLISHED",
                    "local_host": end.wan_public_ip,
                    "local_port": "4500",
                    "remote_host": end.remote_gateway,
                    "remote_port": "4500",
                    "nat_remote": False,
                    "nat_any": bool(self.world and self.world.nat_for(self.firewall_id).behind_nat),
                    "encr_alg": "AES_GCM_16" if "gcm" in enc else "AES_CBC",
                    "encr_keysize": keylen if "gcm" not in enc else 256,
                    "integ_alg": _INTEG.get(f"hmac_{hash_name}", ""),
                    "prf_alg": f"PRF_HMAC_{_SHA.get(hash_name, hash_name.upper())}",
                    "dh_group": _DH.get(dh, f"GROUP_{dh}"),
                    "established": 60,
                    "rekey_time": 25000,
                    "child_sas": [
                        dict(c, parent_id=len(out), id=i) for i, c in enumerate(children)
                    ],
                }
            )
        return out

    def _interface_status(self, *_: Any) -> list:
        running = self.state["running"].get("interfaces") or {}
        vti_up = {
            f"ipsec{e.reqid}"
            for k, e in self._ends().items()
            if (v := self._views().get(k)) and v.child_up
        }
        out = []
        for iface_id, obj in running.items():
            port = obj.get("if", "")
            up = obj.get("enable") and (not port.startswith("ipsec") or port in vti_up)
            out.append(
                {
                    "name": iface_id,
                    "descr": obj.get("descr", ""),
                    "hwif": port,
                    "enable": bool(obj.get("enable")),
                    "status": "up" if up else "down",
                    "ipaddr": obj.get("ipaddr", "") or "",
                }
            )
        return out

    def _gateway_status(self, *_: Any) -> list:
        return []

    def _vtysh(self, query: str) -> tuple[str, int]:
        if not self._frr_running():
            return "Exiting: failed to connect to any daemons.", 1
        frr = self.state["running"].get("frr") or {}
        bgp = frr.get("frrbgp") or {}
        local_as = int(bgp["asnum"]) if str(bgp.get("asnum", "")).isdigit() else 0
        router_id = bgp.get("routerid") or ""
        views, ends = self._views(), self._ends()
        peers: dict[str, dict] = {}
        for key, end in ends.items():
            if not end.neighbor:
                continue
            view = views.get(key)
            state = (view.bgp_pfsense_state if view else "Active") or "Idle"
            policy = bool(view and view.bgp_policy_blocked)
            established = state == "Established"
            peers[end.neighbor] = {
                "remoteAs": end.neighbor_asn or 0,
                "localAs": local_as,
                "version": 4,
                "msgRcvd": 10 if established else 0,
                "msgSent": 10 if established else 0,
                "peerUptime": "00:01:00" if established else "never",
                "peerUptimeMsec": 60000 if established else 0,
                "pfxRcd": len(view.pfsense_learned) if view and established and not policy else 0,
                "pfxSnt": len(view.azure_learned) if view and established and not policy else 0,
                "state": state,
                "peerState": "Policy" if policy else "OK",
                "desc": "",
                "idType": "ipv4",
                "_learned": list(view.pfsense_learned)
                if view and established and not policy
                else [],
                "_sent": list(view.azure_learned) if view and established and not policy else [],
            }
        match = re.match(
            r"^show bgp ipv4 unicast neighbors ([0-9.]+) (json|routes json|advertised-routes json)$",
            query,
        )
        if query == cmds.VTYSH_QUERIES["summary"]:
            clean = {
                ip: {k: v for k, v in p.items() if not k.startswith("_")} for ip, p in peers.items()
            }
            data = {
                "routerId": router_id,
                "as": local_as,
                "vrfId": 0,
                "vrfName": "default",
                "peers": clean,
                "totalPeers": len(clean),
                "failedPeers": sum(1 for p in clean.values() if p["state"] != "Established"),
            }
            return json.dumps(data, indent=2), 0
        if match:
            ip, what = match.groups()
            peer = peers.get(ip)
            if what == "json":
                if peer is None:
                    return json.dumps({}), 0
                return json.dumps(
                    {
                        ip: {
                            "remoteAs": peer["remoteAs"],
                            "localAs": local_as,
                            "bgpState": peer["state"],
                            "bgpTimerUpMsec": peer["peerUptimeMsec"],
                            "addressFamilyInfo": {
                                "ipv4Unicast": {
                                    "acceptedPrefixCounter": peer["pfxRcd"],
                                    "sentPrefixCounter": peer["pfxSnt"],
                                    **(
                                        {
                                            "inboundEbgpRequiresPolicy": True,
                                            "outboundEbgpRequiresPolicy": True,
                                        }
                                        if peer["peerState"] == "Policy"
                                        else {}
                                    ),
                                }
                            },
                        }
                    }
                ), 0
            if what == "routes json":
                routes = {
                    prefix: [
                        {
                            "valid": True,
                            "bestpath": True,
                            "network": prefix,
                            "path": str(peer["remoteAs"]),
                            "origin": "IGP",
                            "nexthops": [{"ip": ip, "afi": "ipv4", "used": True}],
                        }
                    ]
                    for prefix in (peer or {}).get("_learned", [])
                }
                return json.dumps({"routerId": router_id, "localAS": local_as, "routes": routes}), 0
            advertised = {
                prefix: {
                    "network": prefix,
                    "nextHop": "0.0.0.0",
                    "path": "",
                    "origin": "IGP",
                    "valid": True,
                }
                for prefix in (peer or {}).get("_sent", [])
            }
            return json.dumps(
                {
                    "bgpLocalRouterId": router_id,
                    "localAS": local_as,
                    "advertisedRoutes": advertised,
                    "totalPrefixCounter": len(advertised),
                }
            ), 0
        return f"% Unknown command: {query}", 1


def _stuck_authenticating(view: Any, end: Any) -> bool:
    """pfSense initiates, but IKE_AUTH fails (the keys differ): strongSwan keeps retrying, and
    between tries ``swanctl --list-sas`` shows the IKE SA as CONNECTING without child SAs
    (strongSwan's ike_sa_state_t: CREATED, CONNECTING, ESTABLISHED, ...)."""
    return (
        not view.ike_up
        and not end.phase1_disabled
        and end.start_action in ("start", "")
        and str(view.reason).startswith("authentication failed")
    )


def _connecting_sa(index: int, end: Any) -> dict[str, Any]:
    return {
        "id": index,
        "con_id": f"con{end.ikeid}",
        "uniqueid": 2 * index + 1,
        "version": 2,
        "state": "CONNECTING",
        "local_host": end.wan_public_ip,
        "local_port": "4500",
        "remote_host": end.remote_gateway,
        "remote_port": "4500",
        "child_sas": [],
    }
