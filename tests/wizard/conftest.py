"""The wizard's cast: a logged-in owner, a draft site with every answer of the canonical
scenario, and a real DNS server on loopback that publishes the home end's DDNS name."""

from __future__ import annotations

import pytest
from django.urls import reverse

from s2svpn.intent import SiteIntent
from tests.domain.dnsserver import LocalDns
from wizard.models import AzureAuth, Site, SiteStatus

VNETS = [
    {
        "name": "vnet-hub",
        "location": "westeurope",
        "resource_group": "rg-home-s2s",
        "address_prefixes": ["172.16.0.0/16"],
        "subnets": [["workload", "172.16.20.0/24"]],
    },
    {
        "name": "vnet-spoke",
        "location": "westeurope",
        "resource_group": "rg-home-s2s",
        "address_prefixes": ["10.50.0.0/16"],
        "subnets": [["GatewaySubnet", "10.50.255.224/27"], ["apps", "10.50.1.0/24"]],
    },
]

PSK = "Zq7hT2mW9xVb4Lc8Nf1Rk6Pd3Sg5Jy0Ua"  # 34 characters of the generator's alphabet


def canonical_answers() -> dict:
    answers = SiteIntent().to_dict()
    for key in ("slug", "resource_group", "location", "vnet_name"):
        answers.pop(key)
    answers["_wizard"] = {
        "vnets": VNETS,
        "pfsense": {
            "frr_installed": True,
            "interfaces": ["wan", "lan"],
            "pfsense_version": "2.8.0",
        },
    }
    return answers


@pytest.fixture(autouse=True)
def quick_live_plan(monkeypatch):
    """The draft's ends are unreachable here (no Azure login, nothing on 127.0.0.1:9): the review
    waits 1 s instead of 6, and the test waits for the readers to give up before it ends."""
    import threading

    monkeypatch.setattr("wizard.plan_live.LIVE_TIMEOUT", 1.0)
    yield
    for thread in threading.enumerate():
        if thread.name.startswith("plan-live"):
            thread.join(timeout=15)


def make_site(**overrides) -> Site:
    """The canonical site's row with overrides: Azure by service principal, a pfSense where
    nothing listens (127.0.0.1:9, refused at once), every wizard answer given."""
    fields = {
        "name": "Home lab",
        "slug": "home",
        "azure_auth": AzureAuth.SERVICE_PRINCIPAL,
        "tenant_id": "11111111-2222-3333-4444-555555555555",
        "client_id": "66666666-7777-8888-9999-000000000000",
        "client_secret": "sp-secret-value-not-to-be-shown",
        "subscription_id": "00000000-0000-0000-0000-0000000000aa",
        "resource_group": "rg-home-s2s",
        "location": "westeurope",
        "vnet_name": "vnet-hub",
        "pfsense_url": "https://127.0.0.1:9",
        "pfsense_api_key": "pfsense-api-key-not-to-be-shown",
        "pfsense_fingerprint": "ab" * 32,
        "psk": PSK,
        "intent": canonical_answers(),
    }
    return Site.objects.create(**{**fields, **overrides})


@pytest.fixture
def draft(db) -> Site:
    """A draft whose answers are the canonical scenario; every step is reachable."""
    return make_site(status=SiteStatus.DRAFT, wizard_step="review")


def step_url(site: Site, step: str) -> str:
    return reverse("wizard:step", args=[site.slug, step])


@pytest.fixture
def dns(settings):
    """A real DNS server on 127.0.0.1 that the wizard asks (settings.S2SVPN_DNS_SERVERS)."""
    server = LocalDns()
    server.start(
        {
            "home-s2s.example.net": [("A", "203.0.113.2", 60)],
            "two.example.net": [("A", "203.0.113.2", 60), ("A", "203.0.113.3", 60)],
            "v6only.example.net": [("AAAA", "2001:db8::2", 60)],
        }
    )
    settings.S2SVPN_DNS_SERVERS = [server.address]
    settings.S2SVPN_DNS_TIMEOUT = 2.0
    yield server
    server.stop()
