"""Build the clients for a stored site. Secrets are decrypted here, used, and never logged."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from django.conf import settings

from wizard.models import AzureAuth, Site


def _pem_file(kind: str, pem: str) -> str:
    """The SDK and httpx want a CA *file*: keep one per distinct bundle under ./var/ca/."""
    digest = hashlib.sha256(pem.encode()).hexdigest()[:16]
    directory = Path(settings.VAR_DIR) / "ca"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}-{digest}.pem"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(pem)
        os.replace(tmp, path)
    return str(path)


def azure_client(site: Site, **kwargs):
    from s2svpn.clients.azure import AzureVpnClient

    verify = _pem_file("arm", site.arm_ca_bundle) if site.arm_ca_bundle else True
    if site.azure_auth == AzureAuth.SANDBOX:
        return AzureVpnClient.for_sandbox(site.arm_base_url, verify, site.subscription_id, **kwargs)
    common = {"connection_verify": verify, **kwargs}
    if site.arm_base_url:
        common["base_url"] = site.arm_base_url
    if site.azure_auth == AzureAuth.DEFAULT_CREDENTIAL:
        return AzureVpnClient.from_default_credential(site.subscription_id, **common)
    return AzureVpnClient.from_service_principal(
        site.tenant_id, site.client_id, str(site.client_secret), site.subscription_id, **common
    )


def pfsense_client(site: Site, **kwargs):
    from s2svpn.clients.pfsense import PfSenseClient

    ca_file = _pem_file("pfsense", site.pfsense_ca_bundle) if site.pfsense_ca_bundle else None
    return PfSenseClient(
        site.pfsense_url,
        str(site.pfsense_api_key),
        ca_file=ca_file,
        fingerprint=site.pfsense_fingerprint or None,
        **kwargs,
    )
