"""The cast for the Azure tests: one fast ARM sandbox per module, a real SDK client over HTTPS,
and a fresh resource group + customer VNet per test (so tests never see each other's resources)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest

from s2svpn.clients.azure import AzureVpnClient
from s2svpn.intent import CANONICAL, SiteIntent
from s2svpn.sandbox.arm import ArmSandbox

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
EXAMPLES = SHARED / "fixtures" / "azure-examples"
REFERENCE = SHARED / "reference" / "azure.md"

_counter = itertools.count(1)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = ArmSandbox(tmp_path_factory.mktemp("arm"), profile="fast")
    sb.faults.seed = 1234
    sb.start()
    yield sb
    sb.stop()


def client_for(sb: ArmSandbox, **kw) -> AzureVpnClient:
    kw.setdefault("polling_interval", 0)
    return AzureVpnClient.for_sandbox(sb.base_url, sb.ca_file, sb.subscription_id, **kw)


@pytest.fixture(scope="module")
def azure(sandbox):
    client = client_for(sandbox)
    yield client
    client.close()


def seed_site(sb: ArmSandbox, **changes) -> SiteIntent:
    """The canonical site in a resource group of its own, with the customer's existing VNet."""
    n = next(_counter)
    intent = replace(CANONICAL, resource_group=f"rg-home-s2s-{n}", **changes)
    sb.seed_vnet(
        intent.resource_group,
        intent.vnet_name,
        intent.location,
        list(intent.vnet_prefixes),
        {"workload": "172.16.20.0/24"},
    )
    return intent


@pytest.fixture
def site(sandbox) -> SiteIntent:
    sandbox.faults.rate_429 = sandbox.faults.rate_500 = sandbox.faults.rate_drop = 0.0
    sandbox.timing.gateway_seconds = sandbox.timing.other_seconds = 0.0
    return seed_site(sandbox)


PSK = "Zq7vR2pLx9TmW4bN8cK3"


def provision(client: AzureVpnClient, intent: SiteIntent, psk: str = PSK):
    """The canonical step order, as the Celery workflow runs it."""
    subnet = client.ensure_gateway_subnet(intent)
    pips = client.ensure_public_ips(intent)
    lng = client.ensure_local_gateway(intent)
    gw = client.start_gateway(intent, subnet.id, [p.id for p in pips])
    while not gw.ready:
        gw = client.get_gateway(intent)
    conn = client.ensure_connection(intent, gw.id, lng.id, psk)
    client.set_shared_key(intent, psk)
    return subnet, pips, lng, gw, conn
