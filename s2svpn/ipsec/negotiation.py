"""Would both ends agree? The way strongSwan's proposal matching decides, for IKE, the first
child SA (created inside IKE_AUTH without a key exchange) and its first rekey (where a PFS
mismatch breaks a tunnel that came up hours earlier)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from s2svpn.intent import IpsecPolicy
from s2svpn.ipsec.pfsense import PfSenseCrypto
from s2svpn.ipsec.policy import (
    _AZURE_PFS_NAME,
    AZURE_DEFAULT_CHILD_LIFETIME,
    GROUPS,
    validate_policy,
)
from s2svpn.ipsec.proposals import (
    _DEFAULT_ESP_INITIATOR,
    _DEFAULT_ESP_RESPONDER,
    _DEFAULT_IKE,
    _az_esp,
    _az_ike,
    _Esp,
    _Ike,
    _pf_esp,
    _pf_ike,
)

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


def _diff_cipher(az: _Ike | _Esp, pf: _Ike | _Esp, no_integrity: str) -> list[str]:
    out = []
    if az.enc != pf.enc:
        out.append(f"encryption: Azure {_AZ_WORD.get(az.enc, az.enc)} ({az.enc}), pfSense {pf.enc}")
    if az.integ != pf.integ:
        out.append(
            f"integrity: Azure {az.integ or no_integrity}, pfSense {pf.integ or no_integrity}"
        )
    return out


def _diff_ike(az: _Ike, pf: _Ike) -> list[str]:
    out = _diff_cipher(az, pf, "none (AEAD)")
    if az.prf != pf.prf:
        out.append(f"PRF: Azure {az.prf}, pfSense {pf.prf}")
    if az.dh != pf.dh:
        out.append(f"DH group: Azure {_dh_words(az.dh)}, pfSense {_dh_words(pf.dh)}")
    return out


def _diff_esp(az: _Esp, pf: _Esp) -> list[str]:
    return _diff_cipher(az, pf, "none (GCM)")


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
