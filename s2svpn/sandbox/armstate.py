"""Azure-like validation and addressing rules for the ARM sandbox.

Deliberately independent of the product's own checkers (``s2svpn.asn``, ``s2svpn.ipsec``,
``s2svpn.netplan``): the sandbox judges what the product sends, so it must not share its code.
Rules and limits come from the Azure documentation summarised in
``shared/reference/azure.md`` (sections 5 and 6):

* VPN gateway FAQ: https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq
* IPsec/IKE policy: https://learn.microsoft.com/azure/vpn-gateway/ipsec-ike-policy-howto
* BGP: https://learn.microsoft.com/azure/vpn-gateway/bgp-howto
* Gateway settings: https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings

Every function raises :class:`ArmError` (HTTP status, ARM error code, message) on bad input.
Codes and messages imitate ARM's; where Azure's exact code is not documented a realistic one is
used and the message says what is wrong and how to fix it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

IKE_ENCRYPTION = {"DES", "DES3", "AES128", "AES192", "AES256", "GCMAES256", "GCMAES128"}
IKE_INTEGRITY = {"MD5", "SHA1", "SHA256", "SHA384", "GCMAES256", "GCMAES128"}
DH_GROUPS = {
    "None",
    "DHGroup1",
    "DHGroup2",
    "DHGroup14",
    "DHGroup2048",
    "ECP256",
    "ECP384",
    "DHGroup24",
}
IPSEC_ENCRYPTION = {
    "None",
    "DES",
    "DES3",
    "AES128",
    "AES192",
    "AES256",
    "GCMAES128",
    "GCMAES192",
    "GCMAES256",
}
IPSEC_INTEGRITY = {"MD5", "SHA1", "SHA256", "GCMAES128", "GCMAES192", "GCMAES256"}
PFS_GROUPS = {"None", "PFS1", "PFS2", "PFS2048", "ECP256", "ECP384", "PFS24", "PFS14", "PFSMM"}

VPN_SKUS = {f"VpnGw{n}{az}" for n in range(1, 6) for az in ("", "AZ")}
ALL_SKUS = VPN_SKUS | {"Basic"}
RETIRED_SKUS = {"Standard", "HighPerformance", "UltraPerformance"}

RESERVED_ASNS = {8074, 8075, 12076, 65515, 65517, 65518, 65519, 65520, 23456, 429496729, 4294967295}
RESERVED_ASN_RANGES = ((64496, 64511), (65535, 65551))
RESERVED_TEXT = (
    "8074, 8075, 12076, 65515, 65517-65520 (Azure) and 23456, 64496-64511, 65535-65551, "
    "4294967295 (IANA)"
)
APIPA_LOW = ipaddress.IPv4Address("169.254.21.0")
APIPA_HIGH = ipaddress.IPv4Address("169.254.22.255")
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


class ArmError(Exception):
    """An ARM error answer: status, ``error.code`` and ``error.message``."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": []}}


def bad(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def one_of(
    props: dict[str, Any], key: str, default: Any, allowed: tuple[Any, ...], code: str, message: str
) -> Any:
    """``props[key]`` (``default`` when absent, and stored) if it is one of ``allowed``; else a 400
    ``code`` with ``message``."""
    value = props.setdefault(key, default)
    if value not in allowed:
        raise bad(code, message)
    return value


# ---------------------------------------------------------------- addresses


def parse_cidr(value: Any, where: str) -> ipaddress.IPv4Network:
    if not isinstance(value, str):
        raise bad(
            "InvalidAddressPrefixFormat",
            f"{where}: the address prefix must be a string like 10.0.0.0/24.",
        )
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise bad(
            "InvalidAddressPrefixFormat",
            f"{where}: address prefix {value!r} is not a valid CIDR (expected e.g. 10.0.0.0/24).",
        ) from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise bad("InvalidAddressPrefixFormat", f"{where}: only IPv4 prefixes are supported here.")
    if str(net) != value:
        raise bad(
            "InvalidCIDRNotation",
            f"The address prefix {value} in {where} has an invalid CIDR notation. For the given "
            f"prefix length, the address prefix should be {net}.",
        )
    return net


def parse_ipv4(
    value: Any, where: str, code: str = "InvalidIPAddressFormat"
) -> ipaddress.IPv4Address:
    try:
        addr = ipaddress.ip_address(value)
    except (ValueError, TypeError):
        raise bad(code, f"{where}: {value!r} is not a valid IPv4 address.") from None
    if not isinstance(addr, ipaddress.IPv4Address):
        raise bad(code, f"{where}: {value!r} is not an IPv4 address (IPv6 is not supported).")
    return addr


def is_apipa(value: str) -> bool:
    try:
        addr = ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return APIPA_LOW <= addr <= APIPA_HIGH


def default_bgp_ips(gateway_subnet: str, count: int) -> list[str]:
    """Azure's default BGP IPs, one per instance.

    Active-standby: the last usable address of the GatewaySubnet (spec example
    VirtualNetworkGatewayGet.json: 10.0.1.30 for a /27). Active-active: the instances' own
    addresses at the bottom of the subnet, after Azure's four reserved ones - Microsoft's
    PowerShell walk-through (vpn-gateway-activeactive-rm-powershell.md) shows
    ``10.12.255.4,10.12.255.5`` for 10.12.255.0/27, in ipConfiguration order.
    """
    net = ipaddress.IPv4Network(gateway_subnet)
    if count == 1:
        return [str(net.broadcast_address - 1)]
    return [str(net.network_address + 4 + i) for i in range(count)]


# ---------------------------------------------------------------- ASN, keys, names


def check_asn(asn: Any, what: str, *, allow_65515: bool) -> int:
    if isinstance(asn, bool) or not isinstance(asn, int):
        raise bad("InvalidRequestFormat", f"{what}: bgpSettings.asn must be an integer.")
    if asn == 0:
        raise bad(
            "InvalidBgpAsn",
            f"The {what} cannot have an ASN of zero. Set a private ASN such as 65010.",
        )
    if asn < 0 or asn > 4294967295:
        raise bad("InvalidBgpAsn", f"ASN {asn} of the {what} is out of range (1-4294967295).")
    reserved = asn in RESERVED_ASNS or any(lo <= asn <= hi for lo, hi in RESERVED_ASN_RANGES)
    if reserved and not (allow_65515 and asn == 65515):
        raise bad(
            "BgpAsnReserved",
            f"ASN {asn} specified for the {what} is reserved by Azure or IANA and cannot be used "
            f"(reserved: {RESERVED_TEXT}). Use a private ASN from 64512-65514 or 65521-65534, or a "
            "public ASN you own.",
        )
    return asn


def check_shared_key(value: Any, what: str) -> str:
    """PSK rule from the VPN FAQ: printable ASCII, no space, hyphen or tilde. Never echoes the key."""
    if not isinstance(value, str) or not value:
        raise bad(
            "InvalidSharedKey", f"The shared key of {what} is empty. Provide a pre-shared key."
        )
    if len(value) > 128:
        raise bad(
            "InvalidSharedKey",
            f"The shared key of {what} is longer than 128 characters. Use a shorter key.",
        )
    for ch in value:
        if not (0x21 <= ord(ch) <= 0x7E) or ch in "-~":
            raise bad(
                "InvalidSharedKey",
                f"The shared key of {what} contains a character that is not allowed. Use printable "
                "ASCII characters only, without spaces, hyphens (-) or tildes (~).",
            )
    return value


def normalise_location(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad("LocationRequired", "The location property is required for this definition.")
    return value.replace(" ", "").lower()


def check_ipsec_policy(policy: Any, conn_name: str) -> dict[str, Any]:
    if not isinstance(policy, dict):
        raise bad(
            "InvalidRequestFormat",
            f"ipsecPolicies of connection {conn_name} must be a list of objects.",
        )
    enums = (
        ("ikeEncryption", IKE_ENCRYPTION),
        ("ikeIntegrity", IKE_INTEGRITY),
        ("dhGroup", DH_GROUPS),
        ("ipsecEncryption", IPSEC_ENCRYPTION),
        ("ipsecIntegrity", IPSEC_INTEGRITY),
        ("pfsGroup", PFS_GROUPS),
    )
    missing = [k for k, _ in enums if k not in policy] + [
        k for k in ("saLifeTimeSeconds", "saDataSizeKilobytes") if k not in policy
    ]
    if missing:
        raise bad(
            "IpsecPolicyIncomplete",
            f"The IPsec policy of connection {conn_name} is missing {', '.join(missing)}. A custom "
            "policy must specify all eight parameters.",
        )
    for key, allowed in enums:
        if policy[key] not in allowed:
            raise bad(
                "InvalidIpsecPolicyParameter",
                f"{key} {policy[key]!r} in the IPsec policy of connection {conn_name} is not "
                f"supported. Allowed values: {', '.join(sorted(allowed))}.",
            )
    enc, integ = policy["ipsecEncryption"], policy["ipsecIntegrity"]
    if ("GCM" in enc or "GCM" in integ) and enc != integ:
        raise bad(
            "IpsecEncryptionAndIntegrityMismatch",
            f"The IPsec policy of connection {conn_name} uses {enc} with {integ}: when GCMAES is used "
            "for IPsec encryption or integrity, both must be the same GCMAES algorithm and key "
            f"length (for example {enc if 'GCM' in enc else integ}/{enc if 'GCM' in enc else integ}).",
        )
    life = policy["saLifeTimeSeconds"]
    if isinstance(life, bool) or not isinstance(life, int) or not 300 <= life <= 172799:
        raise bad(
            "InvalidIpsecPolicySaLifeTime",
            f"saLifeTimeSeconds {life} of connection {conn_name} is out of range: use 300 to 172799 seconds.",
        )
    size = policy["saDataSizeKilobytes"]
    if isinstance(size, bool) or not isinstance(size, int) or not 1024 <= size <= 2147483647:
        raise bad(
            "InvalidIpsecPolicySaDataSize",
            f"saDataSizeKilobytes {size} of connection {conn_name} is out of range: use at least 1024 KB "
            "(at most 2147483647).",
        )
    return policy


def check_generation(sku: str, generation: str | None) -> str:
    pairs = {
        "Basic": {"Generation1"},
        "VpnGw1": {"Generation1"},
        "VpnGw2": {"Generation1", "Generation2"},
        "VpnGw3": {"Generation1", "Generation2"},
        "VpnGw4": {"Generation2"},
        "VpnGw5": {"Generation2"},
    }
    allowed = pairs[sku.removesuffix("AZ")]
    if generation in (None, "", "None"):
        return "Generation2" if allowed == {"Generation2"} else "Generation1"
    if generation not in ("Generation1", "Generation2"):
        raise bad(
            "InvalidVpnGatewayGeneration",
            f"vpnGatewayGeneration {generation!r} is not valid: use Generation1 or Generation2.",
        )
    if generation not in allowed:
        raise bad(
            "VpnGatewayGenerationNotSupportedBySku",
            f"SKU {sku} is not available in {generation}. {sku} supports "
            f"{' or '.join(sorted(allowed))}; pick a matching SKU/generation pair.",
        )
    return generation


def hostname_ok(value: str) -> bool:
    return bool(HOSTNAME.match(value))
