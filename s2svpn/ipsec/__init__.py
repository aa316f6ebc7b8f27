"""IPsec/IKE policy: Azure's vocabulary, its rules, and the mapping to pfSense and strongSwan.

Pure. One :class:`~s2svpn.intent.IpsecPolicy` (Azure words) is compiled to pfSense phase 1/2
settings (:func:`to_pfsense`) and to strongSwan proposal strings (:func:`to_strongswan`), and
:func:`check_negotiation` decides - the way strongSwan's proposal matching does - whether both
ends agree on IKE, on the first child SA and on its first rekey.

References:

* Azure custom policy enums, rules and defaults: reference/azure.md section 5,
  https://learn.microsoft.com/azure/vpn-gateway/ipsec-ike-policy-howto and
  https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-devices#ipsec
* pfSense keys and swanctl rendering: reference/pfsense.md sections 5 and 8
* strongSwan proposal syntax: https://docs.strongswan.org/docs/latest/config/proposals.html

IKEv2 facts modelled here: IKE needs one common (encryption, integrity, PRF, DH group); with an
AEAD (GCM) cipher there is no integrity transform and pfSense's "hash" becomes the PRF. The first
child SA is created inside IKE_AUTH *without* a key exchange, so a PFS group only matters at the
first CREATE_CHILD_SA rekey - a mismatch lets the tunnel come up and breaks it hours later.

The package: ``policy`` (Azure's vocabulary and rules), ``pfsense`` (the mapping to pfSense and the
presets), ``proposals`` (strongSwan syntax), ``negotiation`` (would both ends agree).
"""

from __future__ import annotations

from s2svpn.ipsec.negotiation import (
    Negotiation,
    check_negotiation,
)
from s2svpn.ipsec.pfsense import (
    PRESETS,
    PfSenseCrypto,
    Preset,
    from_pfsense,
    to_pfsense,
)
from s2svpn.ipsec.policy import (
    API_DH_GROUPS,
    API_IKE_ENCRYPTIONS,
    API_IKE_INTEGRITIES,
    API_IPSEC_ENCRYPTIONS,
    API_IPSEC_INTEGRITIES,
    API_PFS_GROUPS,
    AZURE_DEFAULT_CHILD_LIFETIME,
    AZURE_IKE_LIFETIME,
    DH_GROUPS,
    DPD_MAX,
    DPD_MIN,
    GROUPS,
    IKE_ENCRYPTIONS,
    IKE_INTEGRITIES,
    IPSEC_ENCRYPTIONS,
    IPSEC_INTEGRITIES,
    PFS_GROUPS,
    SA_DATA_MAX,
    SA_DATA_MIN,
    SA_LIFETIME_MAX,
    SA_LIFETIME_MIN,
    PolicyError,
    validate_dpd_timeout,
    validate_policy,
)
from s2svpn.ipsec.proposals import (
    azure_default_offers,
    pfsense_to_strongswan,
    to_strongswan,
)

__all__ = [
    "API_DH_GROUPS",
    "API_IKE_ENCRYPTIONS",
    "API_IKE_INTEGRITIES",
    "API_IPSEC_ENCRYPTIONS",
    "API_IPSEC_INTEGRITIES",
    "API_PFS_GROUPS",
    "AZURE_DEFAULT_CHILD_LIFETIME",
    "AZURE_IKE_LIFETIME",
    "DH_GROUPS",
    "DPD_MAX",
    "DPD_MIN",
    "GROUPS",
    "IKE_ENCRYPTIONS",
    "IKE_INTEGRITIES",
    "IPSEC_ENCRYPTIONS",
    "IPSEC_INTEGRITIES",
    "PFS_GROUPS",
    "PRESETS",
    "SA_DATA_MAX",
    "SA_DATA_MIN",
    "SA_LIFETIME_MAX",
    "SA_LIFETIME_MIN",
    "Negotiation",
    "PfSenseCrypto",
    "PolicyError",
    "Preset",
    "azure_default_offers",
    "check_negotiation",
    "from_pfsense",
    "pfsense_to_strongswan",
    "to_pfsense",
    "to_strongswan",
    "validate_dpd_timeout",
    "validate_policy",
]
