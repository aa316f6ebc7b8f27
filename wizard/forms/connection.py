"""Step 4: the pre-shared key (generated and shown once, or typed), connection mode, IPsec/IKE policy.

Reference: https://learn.microsoft.com/azure/vpn-gateway/ipsec-ike-policy-howto
"""

from __future__ import annotations

from typing import Any

from django import forms

from s2svpn import ipsec
from s2svpn.intent import IpsecPolicy, SiteIntent
from s2svpn.psk import PskError, generate_psk, validate_psk
from wizard.forms.base import StepForm, store
from wizard.forms.secrets import SecretFormField
from wizard.models import Site

CONNECTION_MODES = (
    (
        "ResponderOnly",
        "ResponderOnly (recommended behind NAT): Azure only answers, pfSense starts the tunnel "
        "outbound through the NAT router, so no port forward is needed.",
    ),
    (
        "Default",
        "Default: either end may start the tunnel; Azure's attempts only reach pfSense if UDP 500 "
        "and 4500 are forwarded to it.",
    ),
    (
        "InitiatorOnly",
        "InitiatorOnly: only Azure starts the tunnel, so pfSense must be reachable from the "
        "internet on UDP 500 and 4500 (port forward or no NAT).",
    ),
)

POLICY_FIELDS = (
    ("ike_encryption", "IKE encryption", ipsec.IKE_ENCRYPTIONS),
    ("ike_integrity", "IKE integrity (PRF)", ipsec.IKE_INTEGRITIES),
    ("dh_group", "DH group", ipsec.DH_GROUPS),
    ("ipsec_encryption", "IPsec encryption", ipsec.IPSEC_ENCRYPTIONS),
    ("ipsec_integrity", "IPsec integrity", ipsec.IPSEC_INTEGRITIES),
    ("pfs_group", "PFS group", ipsec.PFS_GROUPS),
)


def preset_for(policy: IpsecPolicy) -> str:
    return next((p.key for p in ipsec.PRESETS.values() if p.policy == policy), "custom")


class ConnectionForm(StepForm):
    """Step 4: PSK (generated and shown once, or typed), connection mode, IPsec/IKE policy."""

    step = "connection"

    psk_choice = forms.ChoiceField(label="Pre-shared key", widget=forms.RadioSelect)
    psk = SecretFormField(
        label="Your pre-shared key",
        help_text="32-128 printable ASCII characters without spaces, hyphens (-) or tildes (~).",
    )
    connection_mode = forms.ChoiceField(
        label="Connection mode", choices=CONNECTION_MODES, widget=forms.RadioSelect
    )
    preset = forms.ChoiceField(label="IPsec/IKE policy", widget=forms.RadioSelect)
    ike_encryption = forms.ChoiceField(label="IKE encryption", required=False)
    ike_integrity = forms.ChoiceField(label="IKE integrity (PRF)", required=False)
    dh_group = forms.ChoiceField(label="DH group", required=False)
    ipsec_encryption = forms.ChoiceField(label="IPsec encryption", required=False)
    ipsec_integrity = forms.ChoiceField(label="IPsec integrity", required=False)
    pfs_group = forms.ChoiceField(label="PFS group", required=False)
    sa_lifetime_seconds = forms.IntegerField(
        label="SA lifetime (seconds)",
        required=False,
        help_text="300-172,799; Azure's default 27,000.",
    )
    sa_data_size_kilobytes = forms.IntegerField(
        label="SA data size (KB)", required=False, help_text="At least 1,024; default 102,400,000."
    )
    dpd_timeout_seconds = forms.IntegerField(
        label="DPD timeout (seconds)", help_text="9-3,600; 45 is Azure's default."
    )

    def build_fields(self) -> None:
        has_psk = bool(self.site.psk)
        choices = [
            ("generate", "Generate a strong random key for me (shown once, to copy)"),
            ("type", "I type my own key"),
        ]
        if has_psk:
            choices.insert(0, ("keep", "Keep the stored key (hidden)"))
        self.fields["psk_choice"].choices = choices
        self.fields["preset"].choices = [
            (p.key, f"{p.label}{' (recommended)' if p.recommended else ''}: {p.note}")
            for p in ipsec.PRESETS.values()
        ] + [("custom", "Custom: choose each algorithm below")]
        for name, _label, values in POLICY_FIELDS:
            self.fields[name].choices = [(v, v) for v in values]

    def initial_for(self, site: Site) -> dict[str, Any]:
        intent = site.get_intent()
        policy = intent.policy
        initial = {
            "psk_choice": "keep" if site.psk else "generate",
            "connection_mode": intent.connection_mode,
            "preset": preset_for(policy),
            "dpd_timeout_seconds": intent.dpd_timeout_seconds,
            "sa_lifetime_seconds": policy.sa_lifetime_seconds,
            "sa_data_size_kilobytes": policy.sa_data_size_kilobytes,
        }
        for name, _label, _values in POLICY_FIELDS:
            initial[name] = getattr(policy, name)
        return initial

    def policy(self) -> IpsecPolicy | None:
        data = self.cleaned_data
        key = data.get("preset")
        if key in ipsec.PRESETS:
            return ipsec.PRESETS[key].policy
        if key != "custom":
            return None
        defaults = IpsecPolicy()
        values: dict[str, Any] = {}
        for name, _label, _values in POLICY_FIELDS:
            values[name] = data.get(name) or getattr(defaults, name)
        values["sa_lifetime_seconds"] = data.get("sa_lifetime_seconds") or 27000
        values["sa_data_size_kilobytes"] = data.get("sa_data_size_kilobytes") or 102400000
        return IpsecPolicy(**values)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        choice = data.get("psk_choice")
        if choice == "type":
            typed = data.get("psk") or ""
            try:
                validate_psk(typed)
            except PskError as exc:
                self.err("psk", str(exc))
        policy = self.policy()
        if policy is not None:
            problems = ipsec.validate_policy(policy)
            if problems:
                self.err(self._policy_field(problems[0]), " ".join(problems))
            else:
                result = ipsec.check_negotiation(policy, ipsec.to_pfsense(policy))
                if not result.ok:
                    self.err("preset", " ".join(result.reasons))
                else:
                    self.notes["preset"] = (
                        f"Both ends agree: IKE {result.ike}, ESP {result.rekey_esp or result.esp}."
                    )
        dpd = data.get("dpd_timeout_seconds")
        if dpd is not None:
            try:
                ipsec.validate_dpd_timeout(dpd)
            except ipsec.PolicyError as exc:
                self.err("dpd_timeout_seconds", str(exc))
        return data

    @staticmethod
    def _policy_field(message: str) -> str:
        for name, label, _values in POLICY_FIELDS:
            if (
                message.startswith(label.split(" (")[0])
                or f"{label.split(' (')[0]} " in message[:40]
            ):
                return name
        if message.startswith("SA lifetime"):
            return "sa_lifetime_seconds"
        if message.startswith("SA data size"):
            return "sa_data_size_kilobytes"
        return "preset"

    def apply(self, site: Site) -> None:
        data = self.cleaned_data
        policy = self.policy()
        store(
            site,
            connection_mode=data["connection_mode"],
            dpd_timeout_seconds=data["dpd_timeout_seconds"],
            policy=SiteIntent(policy=policy).to_dict()["policy"] if policy else {},
        )
        if data["psk_choice"] == "type":
            site.psk = data["psk"]
        elif data["psk_choice"] == "generate":
            site.psk = self.shown_once = generate_psk()


def extras(site: Site, form: ConnectionForm) -> dict[str, Any]:
    return {
        "policy_fields": [name for name, _label, _values in POLICY_FIELDS],
        "has_psk": bool(site.psk),
    }
