"""strongSwan proposals as a normalised transform set: Azure's policy, pfSense's settings and
Azure's default offers in strongSwan's syntax
(https://docs.strongswan.org/docs/latest/config/proposals.html)."""

from __future__ import annotations

from dataclasses import dataclass

from s2svpn.intent import IpsecPolicy
from s2svpn.ipsec.pfsense import PfSenseCrypto, _pfs_number, _policy_or_raise
from s2svpn.ipsec.policy import _DH, _ESP_ENC, _ESP_INTEG, _IKE_ENC, _IKE_INTEG, GROUPS

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
# As initiator (a rekey Azure starts) it offers the six proposals its responder list opens with.
_DEFAULT_ESP_INITIATOR = _DEFAULT_ESP_RESPONDER[:6]


def azure_default_offers() -> tuple[list[str], list[str]]:
    """Azure's default IKE and ESP proposals as responder, strongSwan syntax, Azure's order.

    IKE: DH group 2 only, AES256/AES128/3DES x SHA1/SHA256. ESP: the 26 quick-mode offers of
    https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-devices (PFS none or 1/2/14/24).
    """
    return [p.text for p in _DEFAULT_IKE], [p.text for p in _DEFAULT_ESP_RESPONDER]
