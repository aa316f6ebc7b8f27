"""BGP autonomous system numbers: which ones each end may use.

Pure. Sources: Azure VPN Gateway FAQ, BGP section
(https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp), RFC 6996 (private ASNs),
RFC 5398 / RFC 7300 / RFC 6793 (documentation, last and AS_TRANS numbers), RFC 7607 (AS 0).
Summary in reference/azure.md section 6.
"""

from __future__ import annotations

from typing import Literal

from s2svpn.errors import InputError

AZURE_DEFAULT_ASN = 65515
MAX_ASN = 4294967295

RESERVED: tuple[tuple[int, int, str], ...] = (
    (8074, 8075, "is a public ASN Azure uses itself"),
    (12076, 12076, "is a public ASN Azure uses itself (ExpressRoute)"),
    (65515, 65515, "is Azure's own default ASN; only the Azure gateway may use it"),
    (65517, 65520, "is reserved by Azure for its own routing"),
    (23456, 23456, "is AS_TRANS, the 16-bit stand-in for 32-bit ASNs (RFC 6793)"),
    (64496, 64511, "is reserved for documentation (RFC 5398)"),
    (65535, 65535, "is reserved by IANA (RFC 7300)"),
    (65536, 65551, "is reserved for documentation (RFC 5398)"),
    (429496729, 429496729, "is listed as reserved in the Azure BGP FAQ"),
    (4294967295, 4294967295, "is reserved by IANA as the last ASN (RFC 7300)"),
)
"""Inclusive ranges ``(first, last, reason)`` refused on both sides (65515: on-prem only)."""

PRIVATE_RANGES: tuple[tuple[int, int], ...] = ((64512, 65534), (4200000000, 4294967294))


class AsnError(InputError):
    """An ASN that cannot be used; ``field`` is the SiteIntent field (azure_asn / onprem_asn)."""


def reserved_reason(asn: int) -> str | None:
    """Why ``asn`` is reserved, or None."""
    for first, last, reason in RESERVED:
        if first <= asn <= last:
            return reason
    return None


def is_private(asn: int) -> bool:
    """True for private-use ASNs: 64512-65534 and 4200000000-4294967294 (RFC 6996)."""
    return any(first <= asn <= last for first, last in PRIVATE_RANGES)


def _suggest(side: str) -> str:
    return "65010" if side == "onprem" else "65515 (Azure's default)"


def validate_asn(asn: int, side: Literal["azure", "onprem"]) -> int:
    """Return ``asn`` if ``side`` may use it, else raise :class:`AsnError` saying why.

    16- and 32-bit ASNs (1-4294967294) are accepted; the reserved list of the Azure FAQ is
    refused with its reason, except that 65515 is allowed for the Azure gateway.
    """
    field = "azure_asn" if side == "azure" else "onprem_asn"
    who = "Azure gateway" if side == "azure" else "on-prem (pfSense)"
    if isinstance(asn, bool) or not isinstance(asn, int):
        raise AsnError(
            f"The {who} ASN {asn!r} is not a whole number; enter a number such as {_suggest(side)}.",
            field,
        )
    if asn <= 0 or asn > MAX_ASN:
        raise AsnError(
            f"The {who} ASN {asn} is outside 1-4294967294; pick a private ASN such as "
            f"{_suggest(side)}.",
            field,
        )
    if side == "azure" and asn == AZURE_DEFAULT_ASN:
        return asn
    reason = reserved_reason(asn)
    if reason:
        raise AsnError(
            f"The {who} ASN {asn} {reason}, so Azure refuses it. Pick a private ASN "
            f"(64512-65514, 65521-65534 or 4200000000-4294967294) such as {_suggest(side)}.",
            field,
        )
    return asn


def validate_asn_pair(onprem: int, azure: int) -> None:
    """Both ASNs valid for their side and different (eBGP between pfSense and Azure)."""
    if onprem == azure and isinstance(onprem, int):
        raise AsnError(
            f"pfSense and Azure both use ASN {onprem}; the session is eBGP, so the home end "
            f"needs its own ASN. Use e.g. {65010 if azure != 65010 else 65020} on pfSense.",
            "onprem_asn",
        )
    validate_asn(azure, "azure")
    validate_asn(onprem, "onprem")
