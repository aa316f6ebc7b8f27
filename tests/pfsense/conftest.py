"""The pfSense cast: a World with the canonical Azure end, a pfSense sandbox on HTTPS, a client.

Every sandbox made here records each request; at the end of every test, each POST/PATCH body the
client sent is validated against the contract file in strict (checker) mode - the contract test
of issue 4 covers every test in this package, not just one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from s2svpn.clients.pfsense import PfSenseClient
from s2svpn.intent import IpsecPolicy, SiteIntent
from s2svpn.sandbox.contract import Contract
from s2svpn.sandbox.pfsense import PfSenseSandbox
from s2svpn.sandbox.world import AzureEnd, World

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures" / "pfsense"
CONTRACT = Contract(FIXTURES / "contract" / "restapi-v2-contract.json")

AZURE_PUBLIC_IP = "198.51.100.20"
AZURE_BGP_IP = "172.16.19.254"
PSK = "correct-horse-battery-staple-0123456789"
VNET = ("172.16.0.0/16",)


def canonical_azure(**changes) -> AzureEnd:
    values = dict(
        connection_id="conn-home",
        gateway_public_ips=(AZURE_PUBLIC_IP,),
        azure_asn=65515,
        azure_bgp_ips=(AZURE_BGP_IP,),
        lng_fqdn="home-s2s.example.net",
        lng_ip="",
        lng_bgp_ip="10.0.0.1",
        lng_asn=65010,
        connection_mode="ResponderOnly",
        psk=PSK,
        policy=IpsecPolicy(),
        enable_bgp=True,
        advertised_prefixes=VNET,
    )
    values.update(changes)
    return AzureEnd(**values)


@pytest.fixture
def intent() -> SiteIntent:
    return SiteIntent()


@pytest.fixture
def world() -> World:
    world = World()
    world.set_azure("conn-home", canonical_azure())
    return world


@pytest.fixture
def make_sandbox(tmp_path):
    made: list[PfSenseSandbox] = []

    def make(**kwargs) -> PfSenseSandbox:
        box = PfSenseSandbox(tmp_path / f"pfsense{len(made)}", **kwargs).start()
        made.append(box)
        return box

    yield make
    for box in made:
        box.stop()
    for box in made:
        assert_bodies_follow_the_contract(box)


@pytest.fixture
def sandbox(make_sandbox, world) -> PfSenseSandbox:
    return make_sandbox(world=world)


@pytest.fixture
def client(sandbox):
    with PfSenseClient(sandbox.base_url, sandbox.api_key, ca_file=sandbox.ca_file) as c:
        yield c


def assert_bodies_follow_the_contract(box: PfSenseSandbox) -> None:
    """Every JSON body the client sent validates against the contract (strict checker mode)."""
    problems = []
    for request in box.requests:
        if request["method"] not in ("POST", "PATCH") or not isinstance(request["body"], dict):
            continue
        endpoint = CONTRACT.endpoint(request["path"])
        assert endpoint is not None, f"the client called {request['path']}, unknown to the contract"
        try:
            CONTRACT.validate(
                endpoint["model"],
                request["body"],
                method=request["method"],
                current=request.get("current"),
                strict=True,
            )
        except Exception as error:
            problems.append(f"{request['method']} {request['path']}: {error}")
    assert not problems, "bodies that break the contract:\n" + "\n".join(problems)
