"""The whole intent at once: every problem of a SiteIntent as ``(field, message)``, from this
package's address rules and from the other domain modules (ASN, SKU, DNS name, IPsec policy)."""

from __future__ import annotations

from netaddr import IPAddress

from s2svpn import asn, ipsec, skus
from s2svpn.dns import DnsError, validate_fqdn
from s2svpn.errors import InputError
from s2svpn.intent import SiteIntent
from s2svpn.netplan.addresses import LINK_LOCAL, AddressError, _ip, _vnet, validate_gateway_subnet
from s2svpn.netplan.bgp import transit_for, validate_advertised_prefixes, validate_onprem_bgp_ip


def validate_intent(intent: SiteIntent) -> list[tuple[str, str]]:
    """Every problem of a SiteIntent as ``(field name, message)``; ``[]`` when it can work.

    Checks addressing (this package), ASNs (:mod:`s2svpn.asn`), SKU (:mod:`s2svpn.skus`), the
    IPsec policy (:mod:`s2svpn.ipsec`), the PSK-free endpoint fields and the DPD timeout.
    """
    problems: list[tuple[str, str]] = []

    def check(field: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            problems.append((exc.field or field, exc.message))
        except ValueError as exc:
            problems.append((field, str(exc)))
        return None

    # VNet address space
    vnets = check("vnet_prefixes", _vnet, intent.vnet_prefixes)
    if vnets:
        for i, a in enumerate(vnets):
            for b in vnets[i + 1 :]:
                if a.first <= b.last and b.first <= a.last:
                    problems.append(
                        (
                            "vnet_prefixes",
                            f"VNet prefixes {a} and {b} overlap; list each range once.",
                        )
                    )
    vnet_ok = bool(vnets) and not any(f == "vnet_prefixes" for f, _ in problems)

    # SKU and GatewaySubnet
    check("sku", skus.validate_sku, intent.sku, intent.generation)
    if vnet_ok:
        check(
            "gateway_subnet_prefix",
            validate_gateway_subnet,
            intent.gateway_subnet_prefix,
            intent.vnet_prefixes,
            sku=intent.sku,
        )

    # ASNs
    check("azure_asn", asn.validate_asn, intent.azure_asn, "azure")
    check("onprem_asn", asn.validate_asn, intent.onprem_asn, "onprem")
    if intent.onprem_asn == intent.azure_asn:
        check("onprem_asn", asn.validate_asn_pair, intent.onprem_asn, intent.azure_asn)

    # Endpoint of the home end
    if intent.onprem_public_ip:
        check("onprem_public_ip", _ip, intent.onprem_public_ip, "onprem_public_ip", "Public IP")
    elif intent.onprem_fqdn:
        try:
            validate_fqdn(intent.onprem_fqdn)
        except DnsError as exc:
            problems.append(("onprem_fqdn", str(exc)))
    else:
        problems.append(
            (
                "onprem_fqdn",
                "The home end has neither a DNS name nor a public IP; enter the DDNS name "
                "(e.g. home-s2s.example.net) or the public IPv4 address.",
            )
        )

    # BGP addressing
    if vnet_ok:
        bgp_ip = check(
            "onprem_bgp_ip",
            validate_onprem_bgp_ip,
            intent.onprem_bgp_ip,
            intent.vnet_prefixes,
            intent.onprem_public_ip or None,
        )
        if intent.bgp_mode == "apipa":
            transit = check("azure_apipa_ip", transit_for, intent)
            if bgp_ip and IPAddress(bgp_ip) not in LINK_LOCAL:
                problems.append(
                    (
                        "onprem_bgp_ip",
                        f"In APIPA mode the local network gateway's BGP address must be pfSense's "
                        f"APIPA address, not {bgp_ip}: Azure speaks BGP from its APIPA address "
                        "only to APIPA peers. Use the pfSense side of the APIPA /30.",
                    )
                )
            elif bgp_ip and transit and bgp_ip != transit.pfsense_ip:
                problems.append(
                    (
                        "onprem_bgp_ip",
                        f"On-prem BGP IP {bgp_ip} is not pfSense's APIPA address "
                        f"{transit.pfsense_ip}; use {transit.pfsense_ip}.",
                    )
                )
        elif bgp_ip and IPAddress(bgp_ip) in LINK_LOCAL:
            problems.append(
                (
                    "bgp_mode",
                    f"On-prem BGP IP {bgp_ip} is an APIPA (169.254.x.x) address; Azure then needs "
                    "a custom APIPA BGP address too. Switch the BGP mode to APIPA.",
                )
            )

        # Prefixes
        if not intent.lan_prefixes:
            problems.append(
                (
                    "lan_prefixes",
                    "pfSense would advertise no prefixes, so Azure learns no route home; add the "
                    "home networks (e.g. 10.0.0.0/24).",
                )
            )
        else:
            check(
                "lan_prefixes",
                validate_advertised_prefixes,
                intent.lan_prefixes,
                intent.vnet_prefixes,
            )
        if intent.lng_prefixes:
            try:
                nets = validate_advertised_prefixes(intent.lng_prefixes, intent.vnet_prefixes)
            except AddressError as exc:
                problems.append(
                    (
                        "lng_prefixes",
                        exc.message.replace("Advertised prefix", "Local network gateway prefix"),
                    )
                )
            else:
                if bgp_ip and f"{bgp_ip}/32" in nets:
                    problems.append(
                        (
                            "lng_prefixes",
                            f"Do not add the BGP peer's host route {bgp_ip}/32 to the local network "
                            "gateway; Azure adds it itself. Remove it (the list may be empty with BGP).",
                        )
                    )

    # Connection
    if intent.connection_mode not in ("Default", "ResponderOnly", "InitiatorOnly"):
        problems.append(
            (
                "connection_mode",
                f"Connection mode {intent.connection_mode!r} is unknown; use Default, "
                "ResponderOnly or InitiatorOnly.",
            )
        )
    elif (
        intent.connection_mode == "InitiatorOnly"
        and intent.behind_nat
        and not intent.ports_forwarded
    ):
        problems.append(
            (
                "connection_mode",
                "InitiatorOnly makes Azure start the tunnel, but pfSense sits behind a NAT router "
                "that does not forward UDP 500/4500, so Azure can never reach it. Use "
                "ResponderOnly (pfSense initiates) or forward the ports to pfSense.",
            )
        )
    check("dpd_timeout_seconds", ipsec.validate_dpd_timeout, intent.dpd_timeout_seconds)
    for message in ipsec.validate_policy(intent.policy):
        problems.append(("policy", message))
    if intent.firewall_scope not in ("vnet", "any"):
        problems.append(
            (
                "firewall_scope",
                f"Firewall scope {intent.firewall_scope!r} is unknown; use vnet or any.",
            )
        )
    return problems
