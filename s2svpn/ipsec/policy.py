"""Azure's IPsec/IKE vocabulary and rules: the enums of the custom policy, what this app accepts,
the tables that map each Azure word to pfSense and strongSwan, and the policy checks.

References: reference/azure.md section 5,
https://learn.microsoft.com/azure/vpn-gateway/ipsec-ike-policy-howto
"""

from __future__ import annotations

from s2svpn.errors import InputError
from s2svpn.intent import IpsecPolicy

# ---------------------------------------------------------------------------------------------
# Azure vocabulary

API_IKE_ENCRYPTIONS = ("DES", "DES3", "AES128", "AES192", "AES256", "GCMAES256", "GCMAES128")
API_IKE_INTEGRITIES = ("MD5", "SHA1", "SHA256", "SHA384", "GCMAES256", "GCMAES128")
API_DH_GROUPS = (
    "None",
    "DHGroup1",
    "DHGroup2",
    "DHGroup14",
    "DHGroup2048",
    "ECP256",
    "ECP384",
    "DHGroup24",
)
API_IPSEC_ENCRYPTIONS = (
    "None",
    "DES",
    "DES3",
    "AES128",
    "AES192",
    "AES256",
    "GCMAES128",
    "GCMAES192",
    "GCMAES256",
)
API_IPSEC_INTEGRITIES = ("MD5", "SHA1", "SHA256", "GCMAES128", "GCMAES192", "GCMAES256")
API_PFS_GROUPS = ("None", "PFS1", "PFS2", "PFS2048", "ECP256", "ECP384", "PFS24", "PFS14", "PFSMM")
"""Everything the 2026-03-01 ARM schema accepts (reference/azure.md 5.1)."""

IKE_ENCRYPTIONS = ("GCMAES256", "GCMAES128", "AES256", "AES192", "AES128")
IKE_INTEGRITIES = ("SHA384", "SHA256", "SHA1")
DH_GROUPS = ("DHGroup24", "ECP384", "ECP256", "DHGroup14", "DHGroup2048", "DHGroup2", "DHGroup1")
IPSEC_ENCRYPTIONS = ("GCMAES256", "GCMAES192", "GCMAES128", "AES256", "AES192", "AES128")
IPSEC_INTEGRITIES = ("GCMAES256", "GCMAES192", "GCMAES128", "SHA256", "SHA1")
PFS_GROUPS = ("PFS24", "ECP384", "ECP256", "PFS2048", "PFS2", "PFS1", "None")
"""What the wizard offers: Azure's documented values (reference/azure.md 5.2) that pfSense can
also do (no DES, 3DES, MD5, null encryption, and no IKEv2 without a DH group)."""

SA_LIFETIME_MIN, SA_LIFETIME_MAX = 300, 172799
SA_DATA_MIN, SA_DATA_MAX = 1024, 2147483647
DPD_MIN, DPD_MAX = 9, 3600
AZURE_IKE_LIFETIME = 28800  # fixed on Azure
AZURE_DEFAULT_CHILD_LIFETIME = 27000


class PolicyError(InputError):
    """An IPsec/IKE policy that Azure or pfSense cannot use; ``field`` is the SiteIntent field."""

    field = "policy"


_IKE_INTEG = {"SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384"}
_DH = {
    "DHGroup1": 1,
    "DHGroup2": 2,
    "DHGroup14": 14,
    "DHGroup2048": 14,
    "ECP256": 19,
    "ECP384": 20,
    "DHGroup24": 24,
}
# Azure -> (pfSense name, pfSense keylen, strongSwan)
_ESP_ENC = {
    "AES128": ("aes", 128, "aes128"),
    "AES192": ("aes", 192, "aes192"),
    "AES256": ("aes", 256, "aes256"),
    "GCMAES128": ("aes128gcm", 128, "aes128gcm16"),
    "GCMAES192": ("aes192gcm", 128, "aes192gcm16"),
    "GCMAES256": ("aes256gcm", 128, "aes256gcm16"),
}
# IKE: the same words less GCMAES192, which Azure offers for IPsec only.
_IKE_ENC = {word: names for word, names in _ESP_ENC.items() if word != "GCMAES192"}
_ESP_INTEG = {"SHA1": ("hmac_sha1", "sha1"), "SHA256": ("hmac_sha256", "sha256")}
_PFS = {
    "None": 0,
    "PFS1": 1,
    "PFS2": 2,
    "PFS2048": 14,
    "PFS14": 14,
    "ECP256": 19,
    "ECP384": 20,
    "PFS24": 24,
}

# DH group number -> strongSwan keyword (RFC 3526/5114/5903/8031 numbering, as pfSense uses)
GROUPS = {
    1: "modp768",
    2: "modp1024",
    5: "modp1536",
    14: "modp2048",
    15: "modp3072",
    16: "modp4096",
    17: "modp6144",
    18: "modp8192",
    19: "ecp256",
    20: "ecp384",
    21: "ecp521",
    22: "modp1024s160",
    23: "modp2048s224",
    24: "modp2048s256",
    25: "ecp192",
    26: "ecp224",
    27: "ecp224bp",
    28: "ecp256bp",
    29: "ecp384bp",
    30: "ecp512bp",
    31: "curve25519",
    32: "curve448",
}
_AZURE_DH_NAME = {
    1: "DHGroup1",
    2: "DHGroup2",
    14: "DHGroup14",
    19: "ECP256",
    20: "ECP384",
    24: "DHGroup24",
}
_AZURE_PFS_NAME = {
    0: "None",
    1: "PFS1",
    2: "PFS2",
    14: "PFS2048",
    19: "ECP256",
    20: "ECP384",
    24: "PFS24",
}

_UNDOCUMENTED_HINT = {
    (
        "dh_group",
        "None",
    ): "IKEv2 always needs a DH group (and pfSense has no 'none' for phase 1); use DHGroup14",
    ("pfs_group", "PFS14"): "use PFS2048, the same group 14",
    ("pfs_group", "PFSMM"): "name the group explicitly (e.g. PFS2048 for DHGroup14)",
    (
        "ike_integrity",
        "GCMAES256",
    ): "with GCM IKE encryption Azure's integrity is the PRF; use SHA256 or SHA384",
    (
        "ike_integrity",
        "GCMAES128",
    ): "with GCM IKE encryption Azure's integrity is the PRF; use SHA256 or SHA384",
}


def validate_dpd_timeout(seconds: int) -> int:
    """Azure's DPD timeout: 9-3,600 s (recommended 30-45)."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not DPD_MIN <= seconds <= DPD_MAX
    ):
        raise PolicyError(
            f"DPD timeout {seconds!r} s is outside Azure's {DPD_MIN}-{DPD_MAX} s; use 45 (Azure's default).",
            "dpd_timeout_seconds",
        )
    return seconds


def validate_policy(policy: IpsecPolicy) -> list[str]:
    """Every reason ``policy`` cannot be used (empty list: fine).

    Azure rules (all fields required, enum values, GCM integrity equals GCM encryption, SA
    lifetime 300-172,799 s, data size >= 1,024 KB) and pfSense limits (no DES, 3DES, MD5, null
    encryption; IKEv2 needs a DH group).
    """
    problems: list[str] = []
    checks = (
        ("ike_encryption", "IKE encryption", API_IKE_ENCRYPTIONS, IKE_ENCRYPTIONS),
        ("ike_integrity", "IKE integrity", API_IKE_INTEGRITIES, IKE_INTEGRITIES),
        ("dh_group", "DH group", API_DH_GROUPS, DH_GROUPS),
        ("ipsec_encryption", "IPsec encryption", API_IPSEC_ENCRYPTIONS, IPSEC_ENCRYPTIONS),
        ("ipsec_integrity", "IPsec integrity", API_IPSEC_INTEGRITIES, IPSEC_INTEGRITIES),
        ("pfs_group", "PFS group", API_PFS_GROUPS, PFS_GROUPS),
    )
    for attr, label, api, offered in checks:
        value = getattr(policy, attr)
        if value in (None, ""):
            problems.append(
                f"{label} is missing; Azure needs all eight fields of a custom policy "
                f"(e.g. {offered[0]})."
            )
        elif value not in api:
            problems.append(
                f"{label} {value!r} is not an Azure value; use one of {', '.join(offered)}."
            )
        elif value in ("DES", "DES3", "MD5"):
            problems.append(
                f"{label} {value} is not available on pfSense (DES, 3DES and MD5 were removed "
                f"as insecure); use {offered[0]}."
            )
        elif attr == "dh_group" and value == "None":
            problems.append(
                "DH group None cannot work: IKEv2 always performs a Diffie-Hellman exchange and "
                "pfSense has no 'none' for phase 1; use DHGroup14."
            )
        elif attr == "ipsec_encryption" and value == "None":
            problems.append(
                "IPsec encryption None would send traffic unencrypted and pfSense has no null "
                "cipher; use GCMAES256."
            )
        elif value not in offered:
            hint = _UNDOCUMENTED_HINT.get((attr, value), f"use one of {', '.join(offered)}")
            problems.append(f"{label} {value} is not in Azure's documented list; {hint}.")

    enc, integ = policy.ipsec_encryption or "", policy.ipsec_integrity or ""
    if ("GCM" in enc or "GCM" in integ) and enc != integ:
        if "GCM" in enc:
            fix = f"set IPsec integrity to {enc}"
        else:
            fix = f"set IPsec encryption to {integ} or integrity to SHA256"
        problems.append(
            f"IPsec encryption {enc} with integrity {integ}: Azure requires a GCM algorithm on "
            f"both or neither, with the same key length; {fix}."
        )

    limits = (  # (label, value, unit, unit in words, lowest, highest, default, why the default)
        ("SA lifetime", policy.sa_lifetime_seconds, "s", "seconds", SA_LIFETIME_MIN,
         SA_LIFETIME_MAX, "27000", " (Azure's default, 7.5 h)"),
        ("SA data size", policy.sa_data_size_kilobytes, "KB", "KB", SA_DATA_MIN, SA_DATA_MAX,
         "102400000", " (Azure's default)"),
    )  # fmt: skip
    for label, value, unit, unit_words, low, high, default, why in limits:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(
                f"{label} is missing; Azure needs it in {unit_words} ({default} is the default)."
            )
        elif not low <= value <= high:
            problems.append(
                f"{label} {value} {unit} is outside Azure's {low}-{high} {unit}; use {default}{why}."
            )
    return problems
