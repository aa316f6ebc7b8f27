"""From symptoms to a verdict, a cause and a fix (pure: plain functions, no Django, no I/O).

Input is what the monitor observed: both ends' ``EndStatus`` (``s2svpn.status``), the intent
(``s2svpn.intent.SiteIntent``) and the DNS facts of the local network gateway's FQDN. Output is an
``Assessment``: the overall verdict with its reason, the value of every watched dimension (what
transitions are computed against) and the findings shown on the status page.

Healthy means: the tunnel is up on both ends, BGP is Established both ways and the intended
prefixes are present on both sides (pfSense's LAN prefixes learned by Azure, the VNet prefixes
learned by pfSense). A half that could not be read is "unknown, because …", never "down".
What each reading says on its own (prefixes, this site's peers, the negotiated algorithms) comes
from :mod:`monitor.observations`; this module holds the rules and the verdict.

The rules and their wording follow the vendor references:

* FRR's eBGP policy trap (``peerState: Policy``, 0 prefixes):
  https://docs.frrouting.org/en/latest/bgp.html#clicmd-bgp-ebgp-requires-policy
* Azure's DNS cache for an FQDN local network gateway (re-resolves only while disconnected; a
  gateway reset forces it): https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings
* NAT and who initiates (the on-prem device behind NAT must initiate):
  https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq
* strongSwan's vici algorithm names (``list-sas``): https://docs.strongswan.org/docs/latest/plugins/vici.html
* "Allow APIPA" on pfSense: https://docs.netgate.com/pfsense/en/latest/vpn/ipsec/configure-vti.html
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.observations import azure_peer, learned_prefixes, pfsense_peer, proposal_differences
from s2svpn import activeactive_status
from s2svpn.intent import SiteIntent
from s2svpn.status import BgpPeer, BgpState, EndStatus, TunnelState

HEALTHY, DEGRADED, DOWN, UNKNOWN = "healthy", "degraded", "down", "unknown"


@dataclass(frozen=True)
class DnsFacts:
    """The local network gateway's FQDN as seen this cycle.

    ``address``: what it resolves to now; ``previous``: the last address we saw before this
    cycle; ``tunnel_address``: the peer address the tunnel uses (Azure's side), when known.
    """

    fqdn: str = ""
    address: str = ""
    ttl: int | None = None
    error: str = ""
    previous: str = ""
    tunnel_address: str = ""


@dataclass(frozen=True)
class Finding:
    code: str
    title: str
    cause: str
    fix: str
    severity: str = "error"  # error | warning | info
    action: str = ""  # "reset_gateway" | "repush" | ""

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "title": self.title,
            "cause": self.cause,
            "fix": self.fix,
            "severity": self.severity,
            "action": self.action,
        }


@dataclass(frozen=True)
class Assessment:
    verdict: str
    reason: str
    findings: tuple[Finding, ...] = ()
    states: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# The rules


def _text(end: EndStatus) -> str:
    """Everything the end said in words (error and string details), for pattern rules."""
    parts = [end.error]
    for value in end.details.values():
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list | tuple):
            parts.extend(v for v in value if isinstance(v, str))
    return "\n".join(p for p in parts if p)


_REST_MISSING = re.compile(
    r"rest ?api package|pfsense-pkg-restapi|restapi.*(missing|not installed)", re.I
)
_AUTH_FAILED = re.compile(
    r"authentication_failed|authentication failed|pre-shared key|psk mismatch", re.I
)
_APIPA = re.compile(r"apipa", re.I)


def _rest_missing(end: EndStatus) -> bool:
    return bool(end.details.get("rest_api_missing")) or bool(_REST_MISSING.search(end.error or ""))


def _frr_down(end: EndStatus) -> bool:
    if end.error:
        return False
    if end.details.get("frr_running") is False:
        return True
    return any(p.state == BgpState.NOT_RUNNING for p in end.bgp_peers)


def _down(end: EndStatus) -> bool:
    return not end.error and end.tunnel in (TunnelState.DOWN, TunnelState.CONNECTING)


def azure_bgp_pending(azure: EndStatus) -> bool:
    """Azure's BGP tables have not been read yet for this site (``monitor.azure_half`` marks it):
    Azure's side of BGP is pending, neither "no session" nor a problem."""
    return not azure.error and bool(azure.details.get("bgp_not_read"))


def _up(end: EndStatus) -> bool:
    return not end.error and end.tunnel == TunnelState.UP


def _ike_established(end: EndStatus) -> bool:
    return any(sa.state.upper() == "ESTABLISHED" for sa in end.sas)


def diagnose(
    azure: EndStatus,
    pfsense: EndStatus,
    intent: SiteIntent,
    dns: DnsFacts | None = None,
    azure_bgp_ips: Iterable[str] = (),
) -> list[Finding]:
    """Every rule that matches, most important first."""
    dns = dns or DnsFacts()
    findings: list[Finding] = []
    tunnel_down = _down(azure) or _down(pfsense)
    tunnel_up = (_up(azure) or bool(azure.error)) and (_up(pfsense) or bool(pfsense.error))
    tunnel_up = tunnel_up and (_up(azure) or _up(pfsense))

    if pfsense.error and _rest_missing(pfsense):
        findings.append(
            Finding(
                "rest_api_missing",
                "pfSense's REST API package is missing",
                "pfSense no longer answers the REST API (/api/v2/…): the pfSense-pkg-RESTAPI "
                "package is gone, which is what a pfSense upgrade does to packages installed "
                "outside the official repository. The tunnel itself may still be up.",
                "Reinstall the REST API package built for this pfSense version (System > Package "
                "Manager, or `pkg-static add` the release from the pfSense-api project), then "
                "check that the API key still works. The monitor reads pfSense again next cycle.",
                action="",
            )
        )
    elif pfsense.error:
        findings.append(
            Finding(
                "pfsense_unreadable",
                "pfSense could not be read",
                f"pfSense's half is unknown: {pfsense.error}",
                "Check the pfSense URL, the API key and the certificate trust on the site's "
                "connection settings; this is not a verdict on the tunnel.",
                severity="warning",
            )
        )
    if azure.error:
        findings.append(
            Finding(
                "azure_unreadable",
                "Azure could not be read",
                f"Azure's half is unknown: {azure.error}",
                "Check the service principal (or managed identity) and its role on the resource "
                "group; this is not a verdict on the tunnel.",
                severity="warning",
            )
        )

    if _frr_down(pfsense):
        findings.append(
            Finding(
                "frr_not_running",
                "FRR (bgpd) is not running on pfSense",
                "pfSense's routing daemon does not answer (vtysh: failed to connect to any "
                "daemons), so no BGP session to Azure exists and no routes are exchanged.",
                "Start it under Status > Services (FRR bgpd / zebra), or check that the FRR "
                "package is installed and enabled; re-pushing the pfSense side also regenerates "
                "and starts it.",
                action="repush",
            )
        )

    pf_peer = pfsense_peer(pfsense, intent, azure_bgp_ips)
    policy_trap = pf_peer is not None and pf_peer.state == BgpState.POLICY
    if (
        not policy_trap
        and pf_peer is not None
        and pf_peer.state == BgpState.ESTABLISHED
        and not pf_peer.prefixes_received
        and not learned_prefixes(pfsense)
        and pf_peer.prefixes_sent == 0
    ):
        policy_trap = True
    if policy_trap:
        findings.append(
            Finding(
                "ebgp_policy",
                "BGP is Established but exchanges nothing: FRR's eBGP policy trap",
                "FRR refuses to send or accept prefixes on an eBGP session without a policy "
                "(`bgp ebgp-requires-policy`, peerState Policy): the session is up with 0 "
                "prefixes each way.",
                "Add `no bgp ebgp-requires-policy` to the BGP router (FRR > BGP > Advanced: "
                "'Disable eBGP Require Policy') or permit route-maps in and out; re-push pfSense "
                "to have s2svpn do it.",
                action="repush",
            )
        )

    if tunnel_down and dns.address and dns.fqdn:
        moved_from = ""
        if dns.tunnel_address and dns.address != dns.tunnel_address:
            moved_from = dns.tunnel_address
        elif dns.previous and dns.address != dns.previous:
            moved_from = dns.previous
        if moved_from:
            findings.append(
                Finding(
                    "dns_cache",
                    "The FQDN moved: Azure's DNS cache",
                    f"{dns.fqdn} now resolves to {dns.address}, but the tunnel last ran to "
                    f"{moved_from}. Azure caches the local network gateway's address and "
                    "re-resolves only every 5 minutes, and only while the tunnel is disconnected.",
                    "If the home address really changed, wait up to 5 minutes or reset the Azure "
                    "VPN gateway to make it resolve the name now (the reset interrupts every "
                    f"tunnel on that gateway for a minute or two). If {dns.address} is not the "
                    "home router's public address, fix the dynamic DNS client instead.",
                    action="reset_gateway",
                )
            )
    elif tunnel_up and dns.address and dns.tunnel_address and dns.address != dns.tunnel_address:
        findings.append(
            Finding(
                "ddns_drift",
                "The FQDN no longer points at the tunnel's address",
                f"{dns.fqdn} resolves to {dns.address} but the tunnel runs to "
                f"{dns.tunnel_address}. The tunnel stays up until it next drops; then Azure "
                "follows DNS to the new address.",
                "If the home address really changed, nothing to do (Azure follows); if not, fix "
                "the dynamic DNS client so the name points at the home router's public address.",
                severity="warning",
            )
        )
    if dns.fqdn and dns.error:
        findings.append(
            Finding(
                "dns_unresolvable",
                "The local network gateway's FQDN does not resolve",
                f"{dns.fqdn}: {dns.error}",
                "Check the dynamic DNS client on the home router or pfSense (is it updating the "
                "record?) and that the name has exactly one A record.",
            )
        )

    if (
        tunnel_down
        and not pfsense.error
        and not _ike_established(pfsense)
        and intent.connection_mode == "InitiatorOnly"
        and intent.behind_nat
        and not intent.ports_forwarded
    ):
        findings.append(
            Finding(
                "nat",
                "The home router blocks the tunnel",
                "There is no IKE SA: the Azure connection is InitiatorOnly (Azure does not answer "
                "pfSense) and the NAT router in front of pfSense does not forward UDP 500/4500, "
                "so Azure's IKE_SA_INIT never reaches pfSense.",
                "Set the connection mode to ResponderOnly (or Default) and let pfSense initiate "
                "(phase 1 start action 'start'), or forward UDP 500 and 4500 to pfSense.",
            )
        )

    wrong_key = [
        name
        for name, end in (("Azure connection", azure), ("pfSense phase 1", pfsense))
        if end.details.get("psk_matches_site") is False
    ]
    # pfSense's key cannot be read back (the REST API hides it): when Azure holds the site's key
    # and pfSense's IKE SA never gets past CONNECTING, the key on pfSense is the likely culprit.
    stuck = (
        azure.details.get("psk_matches_site") is True
        and not pfsense.error
        and not _ike_established(pfsense)
        and any(sa.state.upper() == "CONNECTING" for sa in pfsense.sas)
    )
    if tunnel_down and (
        wrong_key or stuck or _AUTH_FAILED.search(_text(pfsense) + "\n" + _text(azure))
    ):
        where = (
            f"The pre-shared key on the {' and the '.join(wrong_key)} is not the site's key"
            if wrong_key
            else "Azure holds the site's pre-shared key, but pfSense's IKE SA stays CONNECTING: "
            "likely the key on pfSense's phase 1 was changed on the firewall"
            if stuck
            else "IKE fails at authentication (AUTHENTICATION_FAILED)"
        )
        findings.append(
            Finding(
                "psk_mismatch",
                "Authentication fails: the pre-shared keys differ",
                f"{where}, so IKE authentication fails and no tunnel forms.",
                "Set the same pre-shared key on both ends: re-push pfSense (it uses the site's "
                "stored key), or set the connection's shared key in Azure to match.",
                action="repush",
            )
        )

    if intent.bgp_mode == "apipa" and not pfsense.error:
        stated = pfsense.details.get("allow_apipa") is False or bool(_APIPA.search(_text(pfsense)))
        stuck = (
            tunnel_up
            and not _frr_down(pfsense)
            and pf_peer is not None
            and pf_peer.state
            in (BgpState.ACTIVE, BgpState.CONNECT, BgpState.IDLE, BgpState.OPENSENT)
        )
        if stated or stuck:
            findings.append(
                Finding(
                    "apipa_blocked",
                    "pfSense blocks the APIPA BGP addresses"
                    if stated
                    else "BGP over APIPA does not come up: is APIPA allowed on pfSense?",
                    "BGP runs over APIPA addresses (169.254.21.x/22.x), which pfSense drops "
                    "unless 'Allow APIPA' is set"
                    + (
                        ", so the BGP session cannot form."
                        if stated
                        else "; the tunnel is up but the BGP session never establishes."
                    ),
                    "Enable System > Advanced > Firewall & NAT > 'Allow APIPA traffic', then "
                    "re-push pfSense.",
                    severity="error" if stated else "warning",
                    action="repush",
                )
            )

    diffs = proposal_differences(pfsense, intent) if _ike_established(pfsense) else []
    if diffs:
        findings.append(
            Finding(
                "proposal_mismatch",
                "The negotiated proposal differs from the policy — this will bite at rekey",
                "The tunnel came up with algorithms other than the intended IPsec/IKE policy: "
                + "; ".join(diffs)
                + ". Azure accepts only its custom policy, so the next rekey can fail.",
                "Make pfSense's phase 1/phase 2 proposals match the site's policy exactly (re-push "
                "pfSense), including the PFS group.",
                severity="warning",
                action="repush",
            )
        )
    return findings


def assess(
    azure: EndStatus,
    pfsense: EndStatus,
    intent: SiteIntent,
    dns: DnsFacts | None = None,
    azure_bgp_ips: Iterable[str] = (),
) -> Assessment:
    """The verdict, the value of every watched dimension and the findings for one site."""
    dns = dns or DnsFacts()
    az_peer = azure_peer(azure, intent)
    pf_peer = pfsense_peer(pfsense, intent, azure_bgp_ips)
    states = {
        "tunnel_azure": "unknown" if azure.error else azure.tunnel.value,
        "tunnel_pfsense": "unknown" if pfsense.error else pfsense.tunnel.value,
        "bgp_azure": "unknown"
        if azure.error
        else "pending"
        if azure_bgp_pending(azure)
        else (az_peer.state.value if az_peer else "none"),
        "bgp_pfsense": "unknown"
        if pfsense.error
        else (
            pf_peer.state.value if pf_peer else ("not_running" if _frr_down(pfsense) else "none")
        ),
        "ddns": dns.address if dns.fqdn else "",
    }
    reasons = {
        "tunnel_azure": azure.error or str(azure.details.get("reason", "") or ""),
        "tunnel_pfsense": pfsense.error or str(pfsense.details.get("reason", "") or ""),
        "bgp_azure": azure.error,
        "bgp_pfsense": pfsense.error,
        "ddns": dns.error or (f"{dns.fqdn} resolves to {dns.address}" if dns.address else ""),
    }
    verdict, reason = _verdict(azure, pfsense, intent, dns, az_peer, pf_peer)
    # Active-active: one of the two tunnels down is Degraded, naming the instance.
    verdict, reason = activeactive_status.verdict(verdict, reason, azure, pfsense, intent)
    findings = tuple(diagnose(azure, pfsense, intent, dns, azure_bgp_ips))
    states["verdict"] = verdict
    reasons["verdict"] = reason
    return Assessment(verdict, reason, findings, states, reasons)


def _tunnel_words(end: EndStatus) -> str:
    return {TunnelState.DOWN: "down", TunnelState.CONNECTING: "still connecting"}.get(
        end.tunnel, end.tunnel.value
    )


def _verdict(
    azure: EndStatus,
    pfsense: EndStatus,
    intent: SiteIntent,
    dns: DnsFacts,
    az_peer: BgpPeer | None,
    pf_peer: BgpPeer | None,
) -> tuple[str, str]:
    if _down(azure) or _down(pfsense):
        parts = []
        if _down(azure):
            parts.append(f"Azure reports the connection {_tunnel_words(azure)}")
        if _down(pfsense):
            parts.append(f"pfSense has no established tunnel ({_tunnel_words(pfsense)})")
        why = azure.details.get("reason") or pfsense.details.get("reason")
        return DOWN, "; ".join(parts) + (f": {why}" if why else ".")
    if azure.error and pfsense.error:
        return UNKNOWN, f"Neither end could be read. Azure: {azure.error} pfSense: {pfsense.error}"
    if azure.error or pfsense.error:
        which, err = ("Azure", azure.error) if azure.error else ("pfSense", pfsense.error)
        other = "pfSense" if azure.error else "Azure"
        return UNKNOWN, f"{which} could not be read ({err}); {other} says the tunnel is up."
    if azure.tunnel != TunnelState.UP or pfsense.tunnel != TunnelState.UP:
        return UNKNOWN, "Neither end reports the tunnel's state."
    problems = []
    pending = azure_bgp_pending(azure)
    if pending:
        pass  # judged on pfSense's side of the same session until Azure's tables arrive
    elif az_peer is None:
        problems.append("Azure has no BGP session to pfSense")
    elif az_peer.state != BgpState.ESTABLISHED:
        problems.append(
            f"Azure's BGP session to pfSense is {az_peer.state.value.replace('_', ' ')}"
        )
    if pf_peer is None:
        problems.append(
            "FRR is not running on pfSense"
            if _frr_down(pfsense)
            else "pfSense has no BGP session to Azure"
        )
    elif pf_peer.state != BgpState.ESTABLISHED:
        words = (
            "Established but blocked by policy"
            if pf_peer.state == BgpState.POLICY
            else pf_peer.state.value.replace("_", " ")
        )
        problems.append(f"pfSense's BGP session to Azure is {words}")
    missing_az = (
        [] if pending else [p for p in intent.lan_prefixes if p not in learned_prefixes(azure)]
    )
    missing_pf = [p for p in intent.vnet_prefixes if p not in learned_prefixes(pfsense)]
    if missing_az:
        problems.append(f"Azure has not learned {', '.join(missing_az)}")
    if missing_pf:
        problems.append(f"pfSense has not learned {', '.join(missing_pf)}")
    if dns.fqdn and dns.address and dns.tunnel_address and dns.address != dns.tunnel_address:
        problems.append(
            f"{dns.fqdn} resolves to {dns.address}, not the tunnel's {dns.tunnel_address}"
        )
    if problems:
        return DEGRADED, "Tunnel up, but " + "; ".join(problems) + "."
    if pending:
        failed = azure.details.get("bgp_error")
        return HEALTHY, (
            "Tunnel up on both ends, pfSense's BGP session to Azure Established with "
            f"{', '.join(intent.vnet_prefixes) or 'the VNet prefixes'} learned; Azure's BGP "
            "tables are not read yet (Azure answers them in tens of seconds and reads are "
            "paced to its request limits)"
            + (f"; the last attempt: {failed}" if failed else "")
            + "."
        )
    count = len(intent.lan_prefixes) + len(intent.vnet_prefixes)
    return (
        HEALTHY,
        f"Tunnel up on both ends, BGP Established both ways, all {count} intended prefixes present.",
    )
