"""Address planning for one site: GatewaySubnet, BGP addressing, the VTI transit /30, prefixes.

Pure (netaddr, no Django). Every refusal is an :class:`AddressError` whose ``field`` names the
:class:`~s2svpn.intent.SiteIntent` field at fault and whose message says what is wrong and how to
fix it.

Vendor references:

* GatewaySubnet size and name:
  https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings#gwsub
* BGP addresses, APIPA range 169.254.21.0-169.254.22.255, on-prem BGP peer rules, 4,000 prefixes:
  https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp
  https://learn.microsoft.com/azure/vpn-gateway/bgp-howto
* pfSense VTI (a /30 is assumed for IPv4): reference/pfsense.md section 4.3 and section 9 item 14.

The package: ``addresses`` (the refusal, Azure's ranges, IPv4 parsing, the GatewaySubnet), ``bgp``
(BGP addressing, transit, peer and prefixes), ``check`` (the whole intent at once), ``space``
(address space for a VNet s2svpn creates or grows).
"""

from __future__ import annotations

from s2svpn.netplan.addresses import (
    APIPA_FIRST_TRANSIT,
    APIPA_RANGE,
    GATEWAY_SUBNET_NAME,
    LINK_LOCAL,
    MAX_ADVERTISED_PREFIXES,
    AddressError,
    Transit,
    propose_gateway_subnet,
    validate_gateway_subnet,
)
from s2svpn.netplan.bgp import (
    azure_default_bgp_ip,
    transit_for,
    transit_for_apipa,
    transit_for_azure_default,
    validate_advertised_prefixes,
    validate_onprem_bgp_ip,
)
from s2svpn.netplan.check import (
    validate_intent,
)
from s2svpn.netplan.space import check_space, propose_space

__all__ = [
    "APIPA_FIRST_TRANSIT",
    "APIPA_RANGE",
    "GATEWAY_SUBNET_NAME",
    "LINK_LOCAL",
    "MAX_ADVERTISED_PREFIXES",
    "AddressError",
    "Transit",
    "azure_default_bgp_ip",
    "check_space",
    "propose_gateway_subnet",
    "propose_space",
    "transit_for",
    "transit_for_apipa",
    "transit_for_azure_default",
    "validate_advertised_prefixes",
    "validate_gateway_subnet",
    "validate_intent",
    "validate_onprem_bgp_ip",
]
