"""An Azure policy as pfSense phase 1/2 settings and back (reference/pfsense.md sections 5 and 8),
and the presets the wizard offers."""

from __future__ import annotations

from dataclasses import dataclass

from s2svpn.intent import IpsecPolicy
from s2svpn.ipsec.policy import (
    _AZURE_DH_NAME,
    _AZURE_PFS_NAME,
    _DH,
    _ESP_ENC,
    _ESP_INTEG,
    _IKE_ENC,
    _IKE_INTEG,
    _PFS,
    AZURE_DEFAULT_CHILD_LIFETIME,
    AZURE_IKE_LIFETIME,
    PolicyError,
    validate_policy,
)

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
