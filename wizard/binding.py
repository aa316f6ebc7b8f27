"""A stored secret only ever goes to the endpoint it was stored with.

Each secret is bound to the fields that say where it is sent and whom TLS trusts there. When any
of them changes, the stored secret is not carried over: the forms (wizard and admin) ask for it
again and say why, a connection test refuses to send it, and whatever still saves a site with a
moved endpoint (the sandbox shortcut) drops it (:func:`drop_moved_secrets`). The PSK goes to both
ends, so it is bound to both.
"""

from __future__ import annotations

from typing import Any

PFSENSE_ENDPOINT = ("pfsense_url", "pfsense_fingerprint", "pfsense_ca_bundle")
AZURE_ENDPOINT = ("azure_auth", "tenant_id", "client_id", "subscription_id", "arm_base_url")
AZURE_TRUST = ("arm_ca_bundle",)

ENDPOINTS: dict[str, tuple[str, ...]] = {
    "pfsense_api_key": PFSENSE_ENDPOINT,
    "client_secret": AZURE_ENDPOINT + AZURE_TRUST,
    "psk": PFSENSE_ENDPOINT + AZURE_ENDPOINT + AZURE_TRUST,
}
FIELDS = tuple(dict.fromkeys(f for fields in ENDPOINTS.values() for f in fields))

LABELS = {
    "pfsense_url": "the pfSense URL",
    "pfsense_fingerprint": "the pinned certificate fingerprint",
    "pfsense_ca_bundle": "the pfSense CA certificate",
    "azure_auth": "how s2svpn signs in to Azure",
    "tenant_id": "the tenant ID",
    "client_id": "the client ID",
    "subscription_id": "the subscription ID",
    "arm_base_url": "the ARM endpoint",
    "arm_ca_bundle": "the ARM CA bundle",
}
SECRET_LABELS = {
    "pfsense_api_key": "API key",
    "client_secret": "client secret",
    "psk": "pre-shared key",
}


def _norm(name: str, value: Any) -> str:
    # a browser posts a textarea (the CA bundles) with CRLF line ends: the same certificate
    text = "\n".join(line.strip() for line in str(value or "").strip().splitlines())
    if name == "pfsense_fingerprint":
        return text.replace(":", "").lower()
    return text.rstrip("/") if name.endswith("_url") else text


def stored_endpoint(site: Any) -> dict[str, Any] | None:
    """The endpoint fields as stored in the database (None for a new site)."""
    if not site.pk:
        return None
    return type(site)._base_manager.filter(pk=site.pk).values(*FIELDS).first()


def moved(stored: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, list[str]]:
    """For each secret, which of its endpoint fields ``values`` changes against ``stored``."""
    if stored is None:
        return {}
    changed = {f for f in FIELDS if f in values and _norm(f, values[f]) != _norm(f, stored[f])}
    out = {}
    for secret, fields in ENDPOINTS.items():
        hit = [f for f in fields if f in changed]
        if hit:
            out[secret] = hit
    return out


def why(secret: str, fields: list[str]) -> str:
    what = ", ".join(LABELS[f] for f in fields)
    label = SECRET_LABELS[secret]
    return (
        f"You changed {what}: the stored {label} is only ever sent where it was stored, so enter "
        f"the {label} for the new endpoint again."
    )


def drop_moved_secrets(site: Any, entered: set[str] = frozenset()) -> list[str]:
    """Clear each stored secret whose endpoint ``site`` (unsaved) moves, unless just entered."""
    stored = stored_endpoint(site)
    values = {f: getattr(site, f) for f in FIELDS}
    dropped = []
    for secret in moved(stored, values):
        if secret not in entered and getattr(site, secret):
            setattr(site, secret, "")
            dropped.append(secret)
    return dropped
