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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


# Azure -> (pfSense name, pfSense keylen, strongSwan)
_IKE_ENC = {
    "AES128": ("aes", 128, "aes128"),
    "AES192": ("aes", 192, "aes192"),
    "AES256": ("aes", 256, "aes256"),
    "GCMAES128": ("aes128gcm", 128, "aes128gcm16"),
    "GCMAES256": ("aes256gcm", 128, "aes256gcm16"),
}
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
_ESP_ENC = {
    "AES128": ("aes", 128, "aes128"),
    "AES192": ("aes", 192, "aes192"),
    "AES256": ("aes", 256, "aes256"),
    "GCMAES128": ("aes128gcm", 128, "aes128gcm16"),
    "GCMAES192": ("aes192gcm", 128, "aes192gcm16"),
    "GCMAES256": ("aes256gcm", 128, "aes256gcm16"),
}
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

    life = policy.sa_lifetime_seconds
    if isinstance(life, bool) or not isinstance(life, int):
        problems.append("SA lifetime is missing; Azure needs it in seconds (27000 is the default).")
    elif not SA_LIFETIME_MIN <= life <= SA_LIFETIME_MAX:
        problems.append(
            f"SA lifetime {life} s is outside Azure's {SA_LIFETIME_MIN}-{SA_LIFETIME_MAX} s; "
            "use 27000 (Azure's default, 7.5 h)."
        )
    size = policy.sa_data_size_kilobytes
    if isinstance(size, bool) or not isinstance(size, int):
        problems.append("SA data size is missing; Azure needs it in KB (102400000 is the default).")
    elif not SA_DATA_MIN <= size <= SA_DATA_MAX:
        problems.append(
            f"SA data size {size} KB is outside Azure's {SA_DATA_MIN}-{SA_DATA_MAX} KB; use "
            "102400000 (Azure's default)."
        )
    return problems


# ---------------------------------------------------------------------------------------------
# pfSense side


@dataclass(frozen=True)
class PfSenseCrypto:
    """What a pfSense phase 1 / phase 2 offers (REST API v2 names, reference/pfsense.md 4.2-4.3)."""

    ike_proposals: tuple[
        tuple[str, int, str, int], ...
    ]  # (encryption_algorithm_name, keylen, hash_algorithm, dhgroup)
    esp_encryptions: tuple[
        tuple[str, int], ...
    ]  # (name, keylen) e.g. ("aes256gcm", 128), ("aes", 256)
    esp_hashes: tuple[str, ...]  # hmac_sha256 ...
    pfs_group: int  # 0 = off
    ike_lifetime: int = AZURE_IKE_LIFETIME
    child_lifetime: int = AZURE_DEFAULT_CHILD_LIFETIME


def _policy_or_raise(policy: IpsecPolicy) -> None:
    problems = validate_policy(policy)
    if problems:
        raise PolicyError(" ".join(problems))


def _pfs_number(policy: IpsecPolicy) -> int:
    if policy.pfs_group == "PFSMM":
        return _DH[policy.dh_group]
    return _PFS[policy.pfs_group]


def to_pfsense(policy: IpsecPolicy) -> PfSenseCrypto:
    """pfSense settings mirroring an Azure policy with exactly one proposal per phase.

    GCM keylen is the ICV in bits (128); the P2 hash is required by pfSense even for GCM (it is
    ignored there) so ``hmac_sha256`` is sent. P1 lifetime 28,800 s (Azure's fixed IKE SA life),
    P2 lifetime = the policy's SA lifetime.
    """
    _policy_or_raise(policy)
    name, keylen, _ = _IKE_ENC[policy.ike_encryption]
    ike = ((name, keylen, _IKE_INTEG[policy.ike_integrity], _DH[policy.dh_group]),)
    ename, ekeylen, _ = _ESP_ENC[policy.ipsec_encryption]
    hashes = (
        ("hmac_sha256",)
        if "GCM" in policy.ipsec_encryption
        else (_ESP_INTEG[policy.ipsec_integrity][0],)
    )
    return PfSenseCrypto(
        ike_proposals=ike,
        esp_encryptions=((ename, ekeylen),),
        esp_hashes=hashes,
        pfs_group=_pfs_number(policy),
        ike_lifetime=AZURE_IKE_LIFETIME,
        child_lifetime=policy.sa_lifetime_seconds,
    )


def from_pfsense(crypto: PfSenseCrypto, sa_data_size_kilobytes: int = 102400000) -> IpsecPolicy:
    """The Azure policy that matches a pfSense P1/P2 using its *first* proposal of each phase.

    Raises :class:`PolicyError` when pfSense uses something Azure has no word for (e.g. ChaCha20,
    SHA512, DH group 31).
    """
    if not crypto.ike_proposals or not crypto.esp_encryptions:
        raise PolicyError("pfSense has no phase 1 or phase 2 proposal to translate; add one.")
    name, keylen, hash_alg, dh = crypto.ike_proposals[0]
    ike_enc = next((k for k, v in _IKE_ENC.items() if v[:2] == (name, keylen)), None)
    ike_integ = next((k for k, v in _IKE_INTEG.items() if v == hash_alg), None)
    dh_name = _AZURE_DH_NAME.get(dh)
    ename, ekeylen = crypto.esp_encryptions[0]
    esp_enc = next((k for k, v in _ESP_ENC.items() if v[:2] == (ename, ekeylen)), None)
    if esp_enc and "GCM" in esp_enc:
        esp_integ = esp_enc
    else:
        first_hash = crypto.esp_hashes[0] if crypto.esp_hashes else ""
        esp_integ = next((k for k, v in _ESP_INTEG.items() if v[0] == first_hash), None)
    pfs = _AZURE_PFS_NAME.get(crypto.pfs_group)
    missing = [
        what
        for what, ok in (
            (f"phase 1 encryption {name}/{keylen}", ike_enc),
            (f"phase 1 hash {hash_alg}", ike_integ),
            (f"DH group {dh}", dh_name),
            (f"phase 2 encryption {ename}/{ekeylen}", esp_enc),
            ("phase 2 hash " + ",".join(crypto.esp_hashes), esp_integ),
            (f"PFS group {crypto.pfs_group}", pfs),
        )
        if not ok
    ]
    if missing:
        raise PolicyError(
            "Azure has no equivalent for pfSense's "
            + ", ".join(missing)
            + "; pick AES or AES-GCM, "
            "SHA1/256/384 and DH group 1, 2, 14, 19, 20 or 24 on pfSense."
        )
    return IpsecPolicy(
        ike_encryption=ike_enc,
        ike_integrity=ike_integ,
        dh_group=dh_name,
        ipsec_encryption=esp_enc,
        ipsec_integrity=esp_integ,
        pfs_group=pfs,
        sa_lifetime_seconds=crypto.child_lifetime,
        sa_data_size_kilobytes=sa_data_size_kilobytes,
    )


# ---------------------------------------------------------------------------------------------
# strongSwan proposals: a normalised transform set

_GCM_ICV = {64: 8, 96: 12, 128: 16}


@dataclass(frozen=True)
class _Ike:
    enc: str  # aes256, aes256gcm16, chacha20poly1305, 3des
    integ: str | None  # sha256 ... (None for AEAD)
    prf: str  # sha256 ...
    dh: str  # modp2048 ...

    @property
    def text(self) -> str:
        if self.integ is None:
            return f"{self.enc}-prf{self.prf}-{self.dh}"
        if self.integ == self.prf:
            return f"{self.enc}-{self.integ}-{self.dh}"
        return f"{self.enc}-{self.integ}-prf{self.prf}-{self.dh}"


@dataclass(frozen=True)
class _Esp:
    enc: str
    integ: str | None
    dh: str | None  # PFS group at rekey; None = no PFS

    @property
    def text(self) -> str:
        return "-".join(p for p in (self.enc, self.integ, self.dh) if p)

    @property
    def first_child(self) -> str:
        return "-".join(p for p in (self.enc, self.integ) if p)


def _pf_enc(name: str, keylen: int) -> tuple[str, str]:
    """(normalised strongSwan name, name as pfSense renders it)."""
    if name == "aes":
        return f"aes{keylen}", f"aes{keylen}"
    if name.endswith("gcm"):
        icv = _GCM_ICV.get(int(keylen), 16)
        return f"{name}{icv}", f"{name}{keylen}"
    if name == "chacha20poly1305":
        return name, name
    return f"{name}{keylen}" if keylen else name, f"{name}{keylen}" if keylen else name


def _is_aead(enc: str) -> bool:
    return "gcm" in enc or enc.startswith("chacha20poly1305")


def _pf_hash(name: str) -> str:
    return name.removeprefix("hmac_")


def _group(number: int) -> str:
    return GROUPS.get(int(number), f"dhgroup{number}")


def _pf_ike(crypto: PfSenseCrypto) -> list[_Ike]:
    out = []
    for name, keylen, hash_alg, dh in crypto.ike_proposals:
        enc, _ = _pf_enc(name, keylen)
        h = _pf_hash(hash_alg)
        out.append(_Ike(enc, None if _is_aead(enc) else h, h, _group(dh)))
    return out


def _pf_esp(crypto: PfSenseCrypto) -> list[_Esp]:
    dh = _group(crypto.pfs_group) if crypto.pfs_group else None
    out = []
    for name, keylen in crypto.esp_encryptions:
        enc, _ = _pf_enc(name, keylen)
        if _is_aead(enc):
            out.append(_Esp(enc, None, dh))
        else:
            out.extend(_Esp(enc, _pf_hash(h), dh) for h in crypto.esp_hashes)
    return out


def _az_ike(policy: IpsecPolicy) -> _Ike:
    enc = _IKE_ENC[policy.ike_encryption][2]
    integ = _IKE_INTEG[policy.ike_integrity]
    return _Ike(enc, None if _is_aead(enc) else integ, integ, _group(_DH[policy.dh_group]))


def _az_esp(policy: IpsecPolicy) -> _Esp:
    enc = _ESP_ENC[policy.ipsec_encryption][2]
    integ = None if _is_aead(enc) else _ESP_INTEG[policy.ipsec_integrity][1]
    pfs = _pfs_number(policy)
    return _Esp(enc, integ, _group(pfs) if pfs else None)


def to_strongswan(policy: IpsecPolicy) -> tuple[str, str]:
    """Azure's policy as strongSwan proposals ``(ike, esp)``.

    ``("aes256-sha256-modp2048", "aes256gcm16-modp2048")`` for the canonical policy; a GCM IKE
    cipher names its PRF explicitly (``aes256gcm16-prfsha256-modp2048``).
    """
    _policy_or_raise(policy)
    return _az_ike(policy).text, _az_esp(policy).text


def pfsense_to_strongswan(crypto: PfSenseCrypto) -> tuple[str, str]:
    """The ``proposals`` / ``esp_proposals`` lines pfSense writes into swanctl.conf.

    pfSense renders ``<ealg><keylen>-<hash>-<modp>`` per P1 item (GCM keylen is the ICV, e.g.
    ``aes256gcm128-sha256-modp2048``) and, for P2, each encryption with each hash (AEAD ones
    without hash) followed by the PFS group; several proposals are comma-separated.
    """
    ike = []
    for name, keylen, hash_alg, dh in crypto.ike_proposals:
        _, shown = _pf_enc(name, keylen)
        ike.append(f"{shown}-{hash_alg}-{_group(dh)}")
    dh = f"-{_group(crypto.pfs_group)}" if crypto.pfs_group else ""
    esp = []
    for name, keylen in crypto.esp_encryptions:
        enc, shown = _pf_enc(name, keylen)
        if _is_aead(enc):
            esp.append(f"{shown}{dh}")
        else:
            esp.extend(f"{shown}-{_pf_hash(h)}{dh}" for h in crypto.esp_hashes)
    return ",".join(ike), ",".join(esp)


# Azure default (no custom policy), route-based gateway, as responder (reference/azure.md 5.3)
_DEFAULT_IKE = [
    _Ike(e, i, i, "modp1024")
    for e, i in (
        ("aes256", "sha1"),
        ("aes256", "sha256"),
        ("aes128", "sha1"),
        ("aes128", "sha256"),
        ("3des", "sha1"),
        ("3des", "sha256"),
    )
]
_DEFAULT_ESP_RESPONDER = [
    _Esp("aes256gcm16", None, None),
    _Esp("aes256", "sha1", None),
    _Esp("3des", "sha1", None),
    _Esp("aes256", "sha256", None),
    _Esp("aes128", "sha1", None),
    _Esp("3des", "sha256", None),
    _Esp("des", "sha1", None),
    *(_Esp("aes256", "sha1", g) for g in ("modp768", "modp1024", "modp2048")),
    *(_Esp("aes128", "sha1", g) for g in ("modp768", "modp1024", "modp2048")),
    *(_Esp("3des", "sha1", g) for g in ("modp768", "modp1024")),
    _Esp("3des", "sha256", "modp1024"),
    *(_Esp("aes256", "sha256", g) for g in ("modp768", "modp1024", "modp2048")),
    _Esp("aes256", "sha1", "modp2048s256"),
    _Esp("aes256", "sha256", "modp2048s256"),
    _Esp("aes128", "sha256", None),
    *(_Esp("aes128", "sha256", g) for g in ("modp768", "modp1024", "modp2048")),
    _Esp("3des", "sha1", "modp2048"),
]
_DEFAULT_ESP_INITIATOR = [
    _Esp("aes256gcm16", None, None),
    _Esp("aes256", "sha1", None),
    _Esp("3des", "sha1", None),
    _Esp("aes256", "sha256", None),
    _Esp("aes128", "sha1", None),
    _Esp("3des", "sha256", None),
]


def azure_default_offers() -> tuple[list[str], list[str]]:
    """Azure's default IKE and ESP proposals as responder, strongSwan syntax, Azure's order.

    IKE: DH group 2 only, AES256/AES128/3DES x SHA1/SHA256. ESP: the 26 quick-mode offers of
    https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-devices (PFS none or 1/2/14/24).
    """
    return [p.text for p in _DEFAULT_IKE], [p.text for p in _DEFAULT_ESP_RESPONDER]


# ---------------------------------------------------------------------------------------------
# presets


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    policy: IpsecPolicy
    recommended: bool
    note: str


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset(
            "gcm-modp2048",
            "AES-256 / SHA-256 / DH14, ESP AES-256-GCM with PFS 2048",
            IpsecPolicy(),
            True,
            "The canonical choice: widely supported, GCM gives Azure's best throughput, PFS on "
            "every rekey.",
        ),
        Preset(
            "suite-b-ecp384",
            "AES-256-GCM / SHA-384 / ECP384, ESP AES-256-GCM with PFS ECP384",
            IpsecPolicy("GCMAES256", "SHA384", "ECP384", "GCMAES256", "GCMAES256", "ECP384"),
            False,
            "Strongest option (NSA Suite B style); costs a little more CPU on small pfSense boxes.",
        ),
        Preset(
            "cbc-sha256",
            "AES-256 / SHA-256 / DH14, ESP AES-256 + SHA-256 with PFS 2048",
            IpsecPolicy("AES256", "SHA256", "DHGroup14", "AES256", "SHA256", "PFS2048"),
            False,
            "For pfSense hardware without AES-GCM acceleration; slower than GCM on Azure.",
        ),
        Preset(
            "microsoft-recommended",
            "AES-256 / SHA-256 / DH2, ESP AES-256-GCM without PFS",
            IpsecPolicy("AES256", "SHA256", "DHGroup2", "GCMAES256", "GCMAES256", "None"),
            False,
            "What Microsoft's recommended-algorithms page lists; DH group 2 (1024-bit) is weak "
            "and there is no PFS - prefer the recommended preset.",
        ),
    )
}


# ---------------------------------------------------------------------------------------------
# negotiation checker


@dataclass(frozen=True)
class Negotiation:
    ike_ok: bool
    child_ok: bool
    rekey_ok: bool
    reasons: tuple[str, ...]  # plain words, empty when everything works
    ike: str = ""  # agreed IKE proposal (strongSwan syntax)
    esp: str = ""  # agreed ESP proposal of the first child SA (no key exchange)
    rekey_esp: str = ""  # agreed ESP proposal at the first rekey (with the PFS group, if any)

    @property
    def ok(self) -> bool:
        return self.ike_ok and self.child_ok and self.rekey_ok


_AZ_WORD = {
    "aes128": "AES128",
    "aes192": "AES192",
    "aes256": "AES256",
    "aes128gcm16": "GCMAES128",
    "aes192gcm16": "GCMAES192",
    "aes256gcm16": "GCMAES256",
    "3des": "DES3",
    "des": "DES",
    "sha1": "SHA1",
    "sha256": "SHA256",
    "sha384": "SHA384",
}


def _pfs_words(dh: str | None, side: str) -> str:
    if dh is None:
        return "no PFS" if side == "pfsense" else "PFS None"
    number = next((n for n, g in GROUPS.items() if g == dh), None)
    if side == "azure":
        return _AZURE_PFS_NAME.get(number or -1, dh)
    return f"PFS group {number} ({dh})"


def _dh_words(dh: str) -> str:
    number = next((n for n, g in GROUPS.items() if g == dh), None)
    return f"{number} ({dh})" if number else dh


def _diff_ike(az: _Ike, pf: _Ike) -> list[str]:
    out = []
    if az.enc != pf.enc:
        out.append(f"encryption: Azure {_AZ_WORD.get(az.enc, az.enc)} ({az.enc}), pfSense {pf.enc}")
    if az.integ != pf.integ:
        out.append(
            f"integrity: Azure {az.integ or 'none (AEAD)'}, pfSense {pf.integ or 'none (AEAD)'}"
        )
    if az.prf != pf.prf:
        out.append(f"PRF: Azure {az.prf}, pfSense {pf.prf}")
    if az.dh != pf.dh:
        out.append(f"DH group: Azure {_dh_words(az.dh)}, pfSense {_dh_words(pf.dh)}")
    return out


def _diff_esp(az: _Esp, pf: _Esp) -> list[str]:
    out = []
    if az.enc != pf.enc:
        out.append(f"encryption: Azure {_AZ_WORD.get(az.enc, az.enc)} ({az.enc}), pfSense {pf.enc}")
    if az.integ != pf.integ:
        out.append(
            f"integrity: Azure {az.integ or 'none (GCM)'}, pfSense {pf.integ or 'none (GCM)'}"
        )
    return out


def _closest(azs: Sequence, pfs: Sequence, diff) -> tuple:
    return min(((a, p) for a in azs for p in pfs), key=lambda ap: len(diff(*ap)))


def _select(preferred: Sequence, other: Sequence, key) -> object | None:
    """strongSwan selection: the first of ``preferred`` (responder's order) the other side offers."""
    offered = {key(o) for o in other}
    return next((p for p in preferred if key(p) in offered), None)


def check_negotiation(azure_policy: IpsecPolicy | None, pfsense: PfSenseCrypto) -> Negotiation:
    """Would pfSense and Azure agree on IKE, the first child SA and its first rekey? If not, why.

    ``azure_policy=None`` means Azure's default offers. pfSense initiates (Azure is
    ResponderOnly behind NAT) so Azure, as responder, picks from its list in its order
    (strongSwan's default too). The first child SA is negotiated in IKE_AUTH without a key
    exchange, so PFS is ignored there. At the first rekey either end may start
    CREATE_CHILD_SA with its PFS group; both directions must find a proposal with an identical
    DH group, otherwise the tunnel breaks after one child SA lifetime.
    """
    if azure_policy is not None:
        problems = validate_policy(azure_policy)
        if problems:
            return Negotiation(False, False, False, tuple(f"Azure policy: {p}" for p in problems))
        az_ike = [_az_ike(azure_policy)]
        az_esp_resp = [_az_esp(azure_policy)]
        az_esp_init = az_esp_resp
        az_life = azure_policy.sa_lifetime_seconds
        az_name = "Azure's custom policy"
    else:
        az_ike, az_esp_resp, az_esp_init = (
            _DEFAULT_IKE,
            _DEFAULT_ESP_RESPONDER,
            _DEFAULT_ESP_INITIATOR,
        )
        az_life = AZURE_DEFAULT_CHILD_LIFETIME
        az_name = "Azure's default policy"

    pf_ike = _pf_ike(pfsense)
    pf_esp = _pf_esp(pfsense)
    if not pf_ike:
        return Negotiation(
            False, False, False, ("pfSense phase 1 has no encryption proposal; add one.",)
        )
    if not pf_esp:
        return Negotiation(
            True, False, False, ("pfSense phase 2 has no encryption option; add one.",)
        )

    ike = _select(az_ike, pf_ike, lambda p: p)
    if ike is None:
        a, p = _closest(az_ike, pf_ike, _diff_ike)
        az_text = ", ".join(x.text for x in az_ike)
        reason = (
            f"IKE proposal mismatch: {az_name} accepts {az_text}, pfSense offers "
            f"{', '.join(x.text for x in pf_ike)} ({'; '.join(_diff_ike(a, p))}) - phase 1 "
            "fails with NO_PROPOSAL_CHOSEN and nothing comes up. Make pfSense's phase 1 match "
            "Azure exactly."
        )
        if azure_policy is None:
            reason += " Azure's default policy offers only DH group 2; better set a custom policy."
        return Negotiation(False, False, False, (reason,))

    def no_dh(e: _Esp) -> tuple:
        return (e.enc, e.integ)

    child = _select(az_esp_resp, pf_esp, no_dh)
    if child is None:
        a, p = _closest(az_esp_resp, pf_esp, _diff_esp)
        reason = (
            f"ESP proposal mismatch: {az_name} accepts "
            f"{', '.join(dict.fromkeys(x.first_child for x in az_esp_resp))}, pfSense offers "
            f"{', '.join(dict.fromkeys(x.first_child for x in pf_esp))} ({'; '.join(_diff_esp(a, p))})"
            " - IKE comes up but the child SA fails with NO_PROPOSAL_CHOSEN, so no traffic "
            "and no BGP. Make pfSense's phase 2 match Azure."
        )
        return Negotiation(True, False, False, (reason,), ike=ike.text)

    # first rekey: pfSense -> Azure (Azure responder list) and Azure -> pfSense (Azure initiator list)
    def full(e: _Esp) -> tuple:
        return (e.enc, e.integ, e.dh)

    by_pf = _select(az_esp_resp, pf_esp, full)
    by_az = _select(pf_esp, az_esp_init, full)
    hours = min(az_life, pfsense.child_lifetime) / 3600
    when = f"about {hours:.1f} h".replace(".0 h", " h")
    reasons = []
    if by_pf is None or by_az is None:
        pf_pfs = _pfs_words(pf_esp[0].dh, "pfsense")
        if azure_policy is not None:
            az_pfs = _pfs_words(az_esp_resp[0].dh, "azure")
            reasons.append(
                f"PFS mismatch: Azure uses {az_pfs}, pfSense offers {pf_pfs} - the tunnel comes "
                f"up but fails at the first child SA rekey ({when}). Set pfSense's PFS group to "
                f"match Azure's {az_pfs}."
            )
        elif by_pf is None:
            reasons.append(
                f"PFS mismatch: Azure's default policy does not accept {child.first_child} with "
                f"{pf_pfs} - the tunnel comes up but fails at the first child SA rekey ({when}). "
                "Turn PFS off on pfSense or set a custom policy on Azure."
            )
        else:
            reasons.append(
                f"PFS mismatch: Azure's default policy rekeys without PFS, pfSense insists on "
                f"{pf_pfs} - the tunnel comes up but fails when Azure starts the first child SA "
                f"rekey ({when}). Turn PFS off on pfSense or set a custom policy on Azure."
            )
    rekey = by_pf or by_az
    return Negotiation(
        True,
        True,
        not reasons,
        tuple(reasons),
        ike=ike.text,
        esp=child.first_child,
        rekey_esp=rekey.text if (rekey and not reasons) else "",
    )
