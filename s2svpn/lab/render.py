"""Render both ends of the lab from s2svpn's own desired state.

* pfSense end: ``swanctl.conf`` the way pfSense's ``ipsec.inc`` (``ipsec_setup_tunnels()``) writes
  phase 1 + a VTI phase 2, and ``frr.conf`` the way pfSense-pkg-frr (``frr.inc`` /
  ``frr_bgp.inc``) writes its sections — from the very REST bodies and ``installedpackages``
  sections ``s2svpn.pfsense_plan.desired_pfsense`` produces for the real firewall.
  Reference: shared/reference/pfsense.md §4.2-4.7, §5 (swanctl rendering), §8, §9.11-13.
* Azure end: strongSwan + FRR configured the way Azure documents its VPN gateway behaves, from an
  ``AzureEnd`` (what the ARM sandbox and the Azure client know): responder only for
  ResponderOnly, exactly the custom policy when one is set (else Azure's default offers), IKE SA
  28,800 s, the policy's QM lifetime, ASN 65515, BGP peer IP (default or APIPA), the local network
  gateway's BGP address as the neighbor. Reference: shared/reference/azure.md §4.5, §5, §6.

Pure text generation: no I/O, no Django. Secrets go into the files only (never into messages).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from s2svpn.pfsense_identity import identity, secret_ids
from s2svpn.sandbox.world import AzureEnd

AZURE_IKE_LIFETIME = 28800  # fixed on Azure (azure.md §5.2)
AZURE_BGP_KEEPALIVE, AZURE_BGP_HOLD = 60, 180  # fixed on Azure (azure.md §6)


def _join(value: str | Iterable[str]) -> str:
    return value if isinstance(value, str) else ",".join(value)


def _quote(secret: str) -> str:
    return '"' + secret.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def pfsense_crypto(phase1: Mapping[str, Any], phase2: Mapping[str, Any]) -> Any:
    """The phase 1/2 REST bodies as ``s2svpn.ipsec.PfSenseCrypto``."""
    from s2svpn.ipsec import PfSenseCrypto

    return PfSenseCrypto(
        ike_proposals=tuple(
            (
                item["encryption_algorithm_name"],
                _int(item.get("encryption_algorithm_keylen"), 0),
                item["hash_algorithm"],
                _int(item["dhgroup"], 0),
            )
            for item in phase1.get("encryption", ())
        ),
        esp_encryptions=tuple(
            (opt["name"], _int(opt.get("keylen"), 0))
            for opt in phase2.get("encryption_algorithm_option", ())
        ),
        esp_hashes=tuple(phase2.get("hash_algorithm_option", ())),
        pfs_group=_int(phase2.get("pfsgroup"), 0),
        ike_lifetime=_int(phase1.get("lifetime"), 28800),
        child_lifetime=_int(phase2.get("lifetime"), 3600),
    )


def pfsense_identity(
    phase1: Mapping[str, Any], wan_address: str, dns: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """(local id, remote id) exactly as pfSense renders them into swanctl.conf.

    ``ipsec_find_id()`` + ``ipsec_fixup_id()`` (src/etc/inc/ipsec.inc, RELENG_2_7_2): "My IP
    address" is the phase 1 interface's own address (``ipsec_get_phase1_src()``: behind NAT the
    private WAN address, never the public one), ``dyn_dns`` is sent as ``dns:<fqdn>`` without any
    lookup, and "Peer IP address" is the remote gateway as resolved for the tunnel (``$rgmap``;
    ``dns`` is that lookup when the remote gateway is a name)."""
    local = identity(phase1.get("myid_type"), phase1.get("myid_data"), wan_address)
    gateway = str(phase1["remote_gateway"])
    remote = identity(
        phase1.get("peerid_type") or "peeraddress",
        phase1.get("peerid_data"),
        (dns or {}).get(gateway, gateway),
    )
    return local, remote


def _vti_ts(address: str, netbits: Any = None) -> str:
    """pfSense puts the VTI address first, then 0.0.0.0/0 (and ::/0) so routing decides."""
    return f"{address},0.0.0.0/0,::/0" if address else "0.0.0.0/0,::/0"


def pfsense_swanctl(
    phase1: Mapping[str, Any],
    phase2: Mapping[str, Any],
    *,
    wan_address: str,
    dns: Mapping[str, str] | None = None,
) -> str:
    """``swanctl.conf`` for one Azure phase 1 + its VTI phase 2, as pfSense renders it.

    ``wan_address`` is the firewall's WAN interface address (behind NAT: the private one);
    ``dns`` resolves a ``dyn_dns`` identifier.
    Connection ``con<ikeid>``, ``proposals``/``esp_proposals`` from
    ``s2svpn.ipsec.pfsense_to_strongswan``, VTI child with ``policies = no`` and
    ``reqid = 5000 + <p2 reqid>``, start action ``start`` (VTI forbids trap; '' becomes start),
    DPD via ``dpd_delay`` (IKEv2 uses retransmission timeouts), lifetimes from the bodies.
    """
    from s2svpn.ipsec import pfsense_to_strongswan

    ikeid = _int(phase1.get("ikeid", phase2.get("ikeid")), 1)
    reqid = _int(phase2.get("reqid"), 1)
    ike, esp = pfsense_to_strongswan(pfsense_crypto(phase1, phase2))
    local_id, remote_id = pfsense_identity(phase1, wan_address, dns)
    secret = secret_ids(remote_id)
    lifetime = _int(phase1.get("lifetime"), 28800)
    rekey = _int(phase1.get("rekey_time"), lifetime * 9 // 10)
    reauth = _int(phase1.get("reauth_time"), 0)
    rand = _int(phase1.get("rand_time"), lifetime // 10)
    p2_life = _int(phase2.get("lifetime"), 3600)
    p2_rekey = _int(phase2.get("rekey_time"), p2_life * 9 // 10)
    p2_rand = _int(phase2.get("rand_time"), p2_life // 10)
    start = phase1.get("startaction") or "start"
    start = "start" if start == "trap" else start  # VTI cannot trap
    close = phase1.get("closeaction") or ""
    dpd_delay = phase1.get("dpd_delay")
    version = {"ikev1": 1, "ikev2": 2}.get(str(phase1.get("iketype", "ikev2")), 0)
    lines = [
        "# rendered by s2svpn.lab.render.pfsense_swanctl (pfSense ipsec.inc layout)",
        "connections {",
        f"  con{ikeid} {{",
        "    fragmentation = yes",
        "    unique = replace",
        f"    version = {version}",
        f"    proposals = {_join(ike)}",
    ]
    if dpd_delay not in (None, "", 0, "0"):
        lines.append(f"    dpd_delay = {_int(dpd_delay, 10)}s")
    lines += [
        f"    rekey_time = {rekey}s",
        f"    reauth_time = {reauth}s",
        f"    over_time = {max(lifetime - max(rekey, reauth), 0)}s",
        f"    rand_time = {rand}s",
        f"    encap = {'yes' if phase1.get('nat_traversal') == 'force' else 'no'}",
        f"    mobike = {'yes' if phase1.get('mobike') in (True, 'on') else 'no'}",
        f"    local_addrs = {wan_address}",
        f"    remote_addrs = {phase1['remote_gateway']}",
        "    local {",
        f"      id = {local_id}",
        "      auth = psk",
        "    }",
        "    remote {",
        f"      id = {remote_id}",
        "      auth = psk",
        "    }",
        "    children {",
        f"      con{ikeid} {{",
        "        policies = no",
        f"        reqid = {5000 + reqid}",
        f"        life_time = {p2_life}s",
        f"        rekey_time = {p2_rekey}s",
        f"        rand_time = {p2_rand}s",
        f"        start_action = {start}",
        f"        dpd_action = {'restart' if close in ('', 'start') else close}",
    ]
    if close:
        lines.append(f"        close_action = {close}")
    lines += [
        f"        local_ts = {_vti_ts(str(phase2.get('localid_address', '')))}",
        f"        remote_ts = {_vti_ts(str(phase2.get('remoteid_address', '')))}",
        f"        esp_proposals = {_join(esp)}",
        "      }",
        "    }",
        "  }",
        "}",
        "secrets {",
        f"  ike-{ikeid} {{",
        f"    id-0 = {secret[0]}",
        f"    id-1 = {secret[1]}",
        f"    secret = {_quote(str(phase1.get('pre_shared_key', '')))}",
        "  }",
        "}",
        "",
    ]
    return "\n".join(lines)


def for_libipsec(swanctl_conf: str) -> str:
    """Adapt a pfSense rendering to the lab's userspace ESP.

    On FreeBSD a VTI child has ``policies = no`` and the ``if_ipsec`` interface picks the SA by
    reqid. ``kernel-libipsec`` has no such interface: its TUN device only forwards packets that
    match an IPsec policy, so the lab keeps the 0.0.0.0/0 policies (routing still decides what
    enters ``ipsec0``; see harness ``routing_table_prio``). Nothing else changes.
    """
    return swanctl_conf.replace(
        "        policies = no\n",
        "        # policies = no  (FreeBSD if_ipsec; libipsec needs them)\n",
    )


# ---- FRR (pfSense-pkg-frr) -----------------------------------------------------------------


def _section(frr: Mapping[str, Any], name: str) -> list[dict]:
    """An ``installedpackages`` section as a list of config dicts, whatever the nesting."""
    value = frr.get(name)
    if value is None:
        return []
    if isinstance(value, Mapping) and "config" in value:
        value = value["config"]
    if isinstance(value, Mapping):
        return [dict(value)]
    return [dict(v) for v in value]


def _on(value: Any) -> bool:
    return value not in (None, "", False, "off", "no", 0, "0")


def pfsense_frr(
    frr: Mapping[str, Any], *, interface_ips: Mapping[str, str], hostname: str = "pfsense"
) -> str:
    """Integrated ``frr.conf`` as pfSense-pkg-frr generates it from its config sections.

    ``frr`` holds the ``installedpackages`` sections (``frr``, ``frrbgp``, ``frrbgpadvanced``,
    ``frrbgpneighbors``, optionally ``frrglobalroutemaps``); ``interface_ips`` maps pfSense
    interface ids (``lan``, ``opt2`` …) to their current IPv4 address, which is how the
    generator renders ``update-source`` (an unknown interface silently drops the line —
    pfsense.md §9.12). Starts with ``frr defaults traditional``, so without
    ``disableebgprequirepolicy`` or permit route-maps eBGP exchanges nothing (§9.11).
    """
    glob = (_section(frr, "frr") or [{}])[0]
    bgp = (_section(frr, "frrbgp") or [{}])[0]
    adv = (_section(frr, "frrbgpadvanced") or [None])[0]
    neighbors = _section(frr, "frrbgpneighbors")
    routemaps = _section(frr, "frrglobalroutemaps")
    routerid = bgp.get("routerid") or glob.get("routerid") or ""
    out = [
        "frr defaults traditional",
        f"hostname {hostname}",
        "log stdout",  # pfSense logs to syslog; the lab keeps everything in its directory
        "service integrated-vtysh-config",
        "!",
    ]
    if glob.get("routerid"):
        out += [f"ip router-id {glob['routerid']}", "!"]
    names = set()
    for rm in routemaps:
        names.add(rm.get("name"))
        out.append(f"route-map {rm['name']} {rm.get('action', 'permit')} {rm.get('seq', 10)}")
        out.append("!")
    enabled = _on(glob.get("enable")) and _on(bgp.get("enable")) and bgp.get("asnum")
    if not enabled:
        return "\n".join([*out, "line vty", "!", ""])
    out.append(f"router bgp {bgp['asnum']}")
    if _on(bgp.get("adjacencylog")):
        out.append(" bgp log-neighbor-changes")
    if routerid:
        out.append(f" bgp router-id {routerid}")
    if bgp.get("timers_keepalive") and bgp.get("timers_holdtime"):
        out.append(f" timers bgp {bgp['timers_keepalive']} {bgp['timers_holdtime']}")
    if adv is None or not _on(adv.get("networkimportcheck")):
        out.append(" no bgp network import-check")
    if adv is not None and _on(adv.get("disableebgprequirepolicy")):
        out.append(" no bgp ebgp-requires-policy")
    af: list[str] = []
    for row in bgp.get("row", ()) or ():
        value = row.get("distributeroutevalue", "")
        if value and ":" not in value:
            rm = row.get("distributeroutemap", "none")
            af.append(f"  network {value}" + (f" route-map {rm}" if rm not in ("none", "") else ""))
    for nb in neighbors:
        peer = nb.get("peer", "")
        if not peer:
            continue
        if nb.get("asnum"):
            out.append(f" neighbor {peer} remote-as {nb['asnum']}")
        if nb.get("descr"):
            out.append(f" neighbor {peer} description {str(nb['descr'])[:80]}")
        source = nb.get("updatesource", "")
        if source and source != "default":
            address = interface_ips.get(source, "")
            if not address:
                try:
                    address = str(ipaddress.ip_address(source))
                except ValueError:
                    address = ""
            if address:
                out.append(f" neighbor {peer} update-source {address}")
        if nb.get("timers_keepalive"):
            hold = f" {nb['timers_holdtime']}" if nb.get("timers_holdtime") else ""
            out.append(f" neighbor {peer} timers {nb['timers_keepalive']}{hold}")
        if nb.get("timers_connect"):
            out.append(f" neighbor {peer} timers connect {nb['timers_connect']}")
        if _on(nb.get("passive")):
            out.append(f" neighbor {peer} passive")
        if _on(nb.get("disableconnectedcheck")):
            out.append(f" neighbor {peer} disable-connected-check")
        if nb.get("ebgpmultihop") not in (None, ""):
            out.append(f" neighbor {peer} ebgp-multihop {nb['ebgpmultihop']}")
        af.append(f"  neighbor {peer} activate")
        if nb.get("sendcommunity") == "disabled":
            af.append(f"  no neighbor {peer} send-community")
        if _on(nb.get("softreconfigurationinbound")):
            af.append(f"  neighbor {peer} soft-reconfiguration inbound")
        for key, direction in (("routemap_in", "in"), ("routemap_out", "out")):
            rm = nb.get(key, "none")
            if rm and rm != "none" and rm in names:
                af.append(f"  neighbor {peer} route-map {rm} {direction}")
    out += [" !", " address-family ipv4 unicast", *af, " exit-address-family", "!"]
    return "\n".join([*out, "line vty", "!", ""])


# ---- Azure -------------------------------------------------------------------------------------


def azure_proposals(azure: AzureEnd) -> tuple[str, str]:
    """(IKE proposals, ESP proposals) Azure uses: the custom policy exactly, else its defaults."""
    from s2svpn.ipsec import azure_default_offers, to_strongswan

    if azure.policy is not None:
        ike, esp = to_strongswan(azure.policy)
    else:
        ike, esp = azure_default_offers()
    return _join(ike), _join(esp)


def azure_swanctl(azure: AzureEnd, *, peer_address: str, local_address: str = "") -> str:
    """``swanctl.conf`` for the Azure gateway's side of one connection.

    ``peer_address`` is what Azure resolved the local network gateway to (its IP or FQDN
    lookup). Azure identifies itself by its public IP and accepts whatever identity the peer sends
    (IDi): the seed tunnel came up with pfSense sending its private WAN address behind NAT, the
    only evidence there is of what real Azure checks; PSK auth; 0.0.0.0/0 selectors (route-based); IKE SA
    28,800 s; child lifetime = the policy's ``saLifeTimeSeconds`` (27,000 s by default) and
    ``saDataSizeKilobytes``; ResponderOnly → never initiates (InitiatorOnly's "never answers" is
    enforced by the harness's packet filter).
    """
    local = local_address or azure.gateway_public_ips[0]
    ike, esp = azure_proposals(azure)
    policy = azure.policy
    life = policy.sa_lifetime_seconds if policy else 27000
    life_kb = policy.sa_data_size_kilobytes if policy else 102400000
    start = "none" if azure.connection_mode == "ResponderOnly" else "start"
    return "\n".join(
        [
            "# rendered by s2svpn.lab.render.azure_swanctl (Azure VPN gateway behaviour)",
            "connections {",
            "  lng {",
            "    version = 2",
            f"    local_addrs = {local}",
            f"    remote_addrs = {peer_address}",
            f"    proposals = {ike}",
            f"    rekey_time = {AZURE_IKE_LIFETIME * 9 // 10}s",
            f"    over_time = {AZURE_IKE_LIFETIME // 10}s",
            "    dpd_delay = 10s",
            "    local {",
            f"      id = {local}",
            "      auth = psk",
            "    }",
            "    remote {",
            "      id = %any",
            "      auth = psk",
            "    }",
            "    children {",
            "      vti {",
            "        local_ts = 0.0.0.0/0",
            "        remote_ts = 0.0.0.0/0",
            f"        esp_proposals = {esp}",
            f"        life_time = {life}s",
            f"        rekey_time = {life * 9 // 10}s",
            f"        life_bytes = {life_kb * 1024}",
            f"        start_action = {start}",
            f"        dpd_action = {'restart' if start == 'start' else 'clear'}",
            "      }",
            "    }",
            "  }",
            "}",
            "secrets {",
            "  ike-lng {",
            f"    secret = {_quote(azure.psk)}",
            "  }",
            "}",
            "",
        ]
    )


def azure_frr(azure: AzureEnd, *, passive: bool = False, connect_timer: int = 2) -> str:
    """FRR for the Azure gateway's BGP speaker (ASN 65515, BGP IP in GatewaySubnet or APIPA).

    Azure exchanges routes with eBGP peers without policy, uses keepalive 60 / hold 180, speaks
    multihop to the local network gateway's BGP address and advertises the VNet. ``passive``:
    Azure does not initiate BGP from an APIPA address (azure.md §6). ``connect_timer`` is a lab
    setting (FRR's 120 s default would stall a test after a failed first SYN).
    """
    bgp_ip = azure.azure_bgp_ips[0]
    peer = azure.lng_bgp_ip
    lines = [
        "frr defaults traditional",
        "hostname azure-vpngw",
        "log stdout",
        "!",
        f"router bgp {azure.azure_asn}",
        f" bgp router-id {bgp_ip}",
        " no bgp ebgp-requires-policy",
        " no bgp network import-check",
        f" timers bgp {AZURE_BGP_KEEPALIVE} {AZURE_BGP_HOLD}",
    ]
    if azure.enable_bgp and peer:
        lines += [
            f" neighbor {peer} remote-as {azure.lng_asn}",
            f" neighbor {peer} description local-network-gateway",
            f" neighbor {peer} ebgp-multihop 255",
            f" neighbor {peer} update-source {bgp_ip}",
            f" neighbor {peer} timers connect {connect_timer}",
        ]
        if passive:
            lines.append(f" neighbor {peer} passive")
    lines += [" !", " address-family ipv4 unicast"]
    lines += [f"  network {prefix}" for prefix in azure.advertised_prefixes]
    lines += [" exit-address-family", "!", "line vty", "!", ""]
    return "\n".join(lines)


def same_30(a: str, b: str) -> bool:
    """Are two addresses on the same /30 (a pfSense IPv4 VTI transit)?"""
    try:
        return ipaddress.ip_address(b) in ipaddress.ip_interface(f"{a}/30").network
    except ValueError:
        return False


def first_host(prefix: str) -> str:
    return str(next(ipaddress.ip_network(prefix, strict=False).hosts()))


def vnet_probe_address(prefixes: Sequence[str]) -> str:
    """An address inside the VNet to ping (172.16.20.4 for the canonical VNet: a VM's address)."""
    net = ipaddress.ip_network(prefixes[0], strict=False)
    candidate = ipaddress.ip_address("172.16.20.4")
    if candidate in net:
        return str(candidate)
    return str(net.network_address + 4)
