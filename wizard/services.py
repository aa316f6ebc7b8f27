"""Build the clients for a stored site. Secrets are decrypted here, used, and never logged."""

from __future__ import annotations

import hashlib
import os
import threading
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
        # Several worker processes may get here at once: each writes its own temporary file.
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(pem)
        os.replace(tmp, path)
    return str(path)


_CACHE: dict[tuple, object] = {}
_CACHE_LIMIT = 256


def cached_client(kind: str, site: Site):
    """A client per site and process, reused across steps: no SDK pipeline to rebuild and no new
    TLS handshake per check. Keyed on the site's last change, so edited credentials take effect."""
    key = (kind, site.pk, site.updated.isoformat() if site.updated else "")
    client = _CACHE.get(key)
    if client is None:
        for old in [k for k in _CACHE if k[:2] == key[:2]]:
            _close(_CACHE.pop(old))
        if len(_CACHE) >= _CACHE_LIMIT:
            _close(_CACHE.pop(next(iter(_CACHE))))
        factory = azure_client if kind == "azure" else pfsense_client
        client = _CACHE[key] = factory(site)
    return client


def _close(client) -> None:
    close = getattr(client, "close", None)
    if close:
        close()


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
