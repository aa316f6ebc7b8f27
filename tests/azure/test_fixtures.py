"""Fidelity to Azure's own REST examples (shared/fixtures/azure-examples, api-version 2026-03-01).

Request bodies are replayed through the real SDK against the ARM sandbox, which must accept them;
response bodies go through the SDK's deserialiser and then the client's parsing functions. The
sandbox is given the examples' all-zero subscription id so the ARM ids inside the bodies resolve
unchanged. Adaptations (each where the example is not valid Azure input on its own, or needs state
the example assumes) are listed at the point they are made.
"""

from __future__ import annotations

import copy
import json
import re

import pytest
from azure.mgmt.network import models as m
from azure.mgmt.network._utils.model_base import _deserialize

from s2svpn.clients.azure import (
    parse_bgp_peers,
    parse_connection,
    parse_gateway,
    parse_local_gateway,
    parse_public_ip,
    parse_routes,
    parse_subnet,
    parse_vnet,
)
from s2svpn.sandbox.arm import ArmSandbox
from s2svpn.status import BgpState

from .conftest import EXAMPLES, REFERENCE, client_for

ZERO = "00000000-0000-0000-0000-000000000000"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def request_body(name: str) -> dict:
    params = example(name)["parameters"]
    return copy.deepcopy(params.get("parameters") or params.get("subnetParameters"))


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    sb = ArmSandbox(tmp_path_factory.mktemp("replay"), profile="fast")
    sb.subscription_id = ZERO
    sb.start()
    # State the examples assume exists before they run (not part of any example):
    sb.seed_vnet("subnet-test", "vnetname", "westus", ["10.0.0.0/8"])
    sb.seed_vnet("rg1", "vnet1", "centralus", ["10.0.0.0/16"], {"GatewaySubnet": "10.0.1.0/27"})
    client = client_for(sb)
    yield sb, client._sdk
    sb.stop()


# ------------------------------------------------------------------ request bodies are accepted


def test_subnet_create_is_accepted(replay):
    _, sdk = replay
    result = sdk.subnets.begin_create_or_update(
        "subnet-test", "vnetname", "subnet1", request_body("SubnetCreate.json")
    ).result()
    subnet = parse_subnet(result.as_dict())
    assert (subnet.name, subnet.address_prefix, subnet.provisioning_state) == (
        "subnet1",
        "10.0.0.0/16",
        "Succeeded",
    )
    again = parse_subnet(sdk.subnets.get("subnet-test", "vnetname", "subnet1").as_dict())
    assert again.id == example("SubnetCreate.json")["responses"]["201"]["body"]["id"]


def test_public_ip_create_examples_are_accepted(replay):
    _, sdk = replay
    defaults = sdk.public_ip_addresses.begin_create_or_update(
        "rg1", "test-ip", request_body("PublicIpAddressCreateDefaults.json")
    ).result()
    pip = parse_public_ip(defaults.as_dict())
    assert (pip.sku, pip.allocation, pip.provisioning_state) == ("Basic", "Dynamic", "Succeeded")
    # Adaptation: both examples create "test-ip" in rg1, and Azure cannot turn a Basic IP into a
    # Standard one in place; the first is deleted before the second is replayed.
    sdk.public_ip_addresses.begin_delete("rg1", "test-ip").result()
    custom = sdk.public_ip_addresses.begin_create_or_update(
        "rg1", "test-ip", request_body("PublicIpAddressCreateCustomizedValues.json")
    ).result()
    pip = parse_public_ip(custom.as_dict())
    assert (pip.sku, pip.allocation) == ("Standard", "Static")
    assert pip.ip_address.startswith("198.51.100.")
    assert custom.as_dict()["properties"]["idleTimeoutInMinutes"] == 10


def test_local_network_gateway_create_is_accepted(replay):
    _, sdk = replay
    result = sdk.local_network_gateways.begin_create_or_update(
        "rg1", "localgw", request_body("LocalNetworkGatewayCreate.json")
    ).result()
    lng = parse_local_gateway(result.as_dict())
    assert (lng.gateway_ip, lng.address_prefixes, lng.location) == (
        "11.12.13.14",
        ("10.1.0.0/16",),
        "centralus",
    )


def test_gateway_put_example_is_accepted(replay):
    _, sdk = replay
    # State the example assumes: its Standard static public IP "gwpip".
    sdk.public_ip_addresses.begin_create_or_update(
        "rg1",
        "gwpip",
        {
            "location": "centralus",
            "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"},
        },
    ).result()
    result = sdk.virtual_network_gateways.begin_create_or_update(
        "rg1", "vpngw", request_body("VirtualNetworkGatewayUpdate.json")
    ).result()
    gw = parse_gateway(result.as_dict())
    assert (gw.sku, gw.vpn_type, gw.provisioning_state) == ("VpnGw1", "RouteBased", "Succeeded")
    assert gw.default_bgp_ips == (
        "10.0.1.30",
    )  # last usable address of 10.0.1.0/27, as in the example
    assert gw.asn == 65515


def test_connection_create_is_accepted(replay):
    _, sdk = replay
    body = request_body("VirtualNetworkGatewayConnectionCreate.json")
    # Adaptation: the example's gatewayCustomBgpIpAddresses name ipConfigurations "default" and
    # "ActiveActive", which its own gateway (VirtualNetworkGatewayUpdate.json: one ipConfiguration
    # "gwipconfig1", not active-active) does not have; Azure would refuse that. Point the entry at
    # gwipconfig1 and keep one.
    entry = body["properties"]["gatewayCustomBgpIpAddresses"][0]
    entry["ipConfigurationId"] = entry["ipConfigurationId"].replace("/default", "/gwipconfig1")
    body["properties"]["gatewayCustomBgpIpAddresses"] = [entry]
    result = sdk.virtual_network_gateway_connections.begin_create_or_update(
        "rg1", "connS2S", body
    ).result()
    conn = parse_connection(result.as_dict())
    assert (conn.connection_type, conn.protocol, conn.mode) == ("IPsec", "IKEv2", "Default")
    assert (conn.authentication_type, conn.dpd_timeout_seconds, conn.ipsec_policy) == (
        "Certificate",
        30,
        None,
    )
    assert conn.status == "NotConnected"


def test_shared_key_set_and_get_examples_round_trip(replay):
    _, sdk = replay
    sdk.virtual_network_gateway_connections.begin_set_shared_key(
        "rg1", "connS2S", request_body("VirtualNetworkGatewayConnectionSetSharedKey.json")
    ).result()
    got = sdk.virtual_network_gateway_connections.get_shared_key("rg1", "connS2S").as_dict()
    assert (
        got
        == example("VirtualNetworkGatewayConnectionGetSharedKey.json")["responses"]["200"]["body"]
    )


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("VirtualNetworkGatewayGetBGPPeerStatus.json", "begin_get_bgp_peer_status"),
        ("VirtualNetworkGatewayLearnedRoutes.json", "begin_get_learned_routes"),
        ("VirtualNetworkGatewayGetAdvertisedRoutes.json", "begin_get_advertised_routes"),
    ],
)
def test_gateway_read_actions_answer_with_a_result(replay, name, call):
    _, sdk = replay
    params = example(name)["parameters"]
    kwargs = {"peer": params["peer"]} if "peer" in params else {}
    result = getattr(sdk.virtual_network_gateways, call)(
        params["resourceGroupName"], params["virtualNetworkGatewayName"], **kwargs
    ).result()
    assert result is not None  # a Location header, so the SDK gets the body (reference section 3.3)
    body = result.as_dict()
    parsed = parse_bgp_peers(body) if "Bgp" in call else parse_routes(body)
    assert isinstance(parsed, list)
    if call == "begin_get_learned_routes":
        assert ("10.0.0.0/16", "Network") in {(r.prefix, r.origin) for r in parsed}


def test_gateway_reset_example_answers_with_the_gateway(replay):
    _, sdk = replay
    params = example("VirtualNetworkGatewayReset.json")["parameters"]
    result = sdk.virtual_network_gateways.begin_reset(
        params["resourceGroupName"], params["virtualNetworkGatewayName"]
    ).result()
    assert parse_gateway(result.as_dict()).name == "vpngw"


def test_delete_examples_are_accepted(replay):
    sb, sdk = replay
    # State the examples need: "conn1" does not exist (Azure answers 204), and "connS2S" still uses
    # localgw and vpngw, so it is removed first (Azure refuses to delete resources in use).
    sdk.virtual_network_gateway_connections.begin_delete("rg1", "connS2S").result()
    for name, ops in (
        ("VirtualNetworkGatewayConnectionDelete.json", sdk.virtual_network_gateway_connections),
        ("LocalNetworkGatewayDelete.json", sdk.local_network_gateways),
        ("VirtualNetworkGatewayDelete.json", sdk.virtual_network_gateways),
    ):
        params = example(name)["parameters"]
        resource = next(
            v for k, v in params.items() if k.endswith("Name") and k != "resourceGroupName"
        )
        ops.begin_delete(params["resourceGroupName"], resource).result()
    left = {r["name"] for r in sb.resources() if "/resourceGroups/rg1/" in r["id"]}
    assert {"localgw", "vpngw", "connS2S"}.isdisjoint(left)


# ------------------------------------------------------------------ response bodies parse


RESPONSE_PARSERS = {
    "Subnets_": (m.Subnet, parse_subnet),
    "PublicIPAddresses_": (m.PublicIPAddress, parse_public_ip),
    "LocalNetworkGateways_": (m.LocalNetworkGateway, parse_local_gateway),
    "VirtualNetworkGateways_CreateOrUpdate": (m.VirtualNetworkGateway, parse_gateway),
    "VirtualNetworkGateways_Get": (m.VirtualNetworkGateway, parse_gateway),
    "VirtualNetworkGateways_Reset": (m.VirtualNetworkGateway, parse_gateway),
    "VirtualNetworkGatewayConnections_CreateOrUpdate": (
        m.VirtualNetworkGatewayConnection,
        parse_connection,
    ),
    "VirtualNetworkGatewayConnections_Get": (m.VirtualNetworkGatewayConnection, parse_connection),
    "VirtualNetworks_Get": (m.VirtualNetwork, parse_vnet),
    "VirtualNetworkGateways_GetBgpPeerStatus": (m.BgpPeerStatusListResult, parse_bgp_peers),
    "VirtualNetworkGateways_GetLearnedRoutes": (m.GatewayRouteListResult, parse_routes),
    "VirtualNetworkGateways_GetAdvertisedRoutes": (m.GatewayRouteListResult, parse_routes),
    "SharedKey": (m.ConnectionSharedKey, lambda body: body["value"]),
}


def parser_for(operation_id: str):
    if operation_id == "VirtualNetworks_List":
        return m.VirtualNetwork, parse_vnet
    if "SharedKey" in operation_id:
        return RESPONSE_PARSERS["SharedKey"]
    if operation_id in RESPONSE_PARSERS:
        return RESPONSE_PARSERS[operation_id]
    family = operation_id.split("_")[0] + "_"
    if family in RESPONSE_PARSERS and not operation_id.endswith("_Delete"):
        return RESPONSE_PARSERS[family]
    return None


ALL_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.json"))


def test_every_example_file_is_covered():
    covered = {
        "SubnetCreate.json",
        "PublicIpAddressCreateDefaults.json",
        "PublicIpAddressCreateCustomizedValues.json",
        "LocalNetworkGatewayCreate.json",
        "VirtualNetworkGatewayUpdate.json",
        "VirtualNetworkGatewayConnectionCreate.json",
        "VirtualNetworkGatewayConnectionSetSharedKey.json",
        "VirtualNetworkGatewayConnectionGetSharedKey.json",
        "VirtualNetworkGatewayGetBGPPeerStatus.json",
        "VirtualNetworkGatewayLearnedRoutes.json",
        "VirtualNetworkGatewayGetAdvertisedRoutes.json",
        "VirtualNetworkGatewayReset.json",
        "VirtualNetworkGatewayConnectionDelete.json",
        "LocalNetworkGatewayDelete.json",
        "VirtualNetworkGatewayDelete.json",
    }
    parsed_only = {
        n for n in ALL_EXAMPLES if parser_for(example(n)["operationId"]) and n not in covered
    }
    assert set(ALL_EXAMPLES) == covered | parsed_only
    assert parsed_only == {
        "SubnetGet.json",
        "PublicIpAddressGet.json",
        "LocalNetworkGatewayGet.json",
        "VirtualNetworkGatewayGet.json",
        "VirtualNetworkGatewayConnectionGet.json",
        "VirtualNetworkGet.json",
        "VirtualNetworkList.json",
    }


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_every_response_body_parses_into_our_dataclasses(name):
    data = example(name)
    found = parser_for(data["operationId"])
    bodies = [r["body"] for r in data["responses"].values() if isinstance(r, dict) and "body" in r]
    if found is None:
        assert bodies == [], f"{name} has bodies but no parser"
        return
    model, parse = found
    for body in bodies:
        items = (
            body.get("value", [body]) if data["operationId"] == "VirtualNetworks_List" else [body]
        )
        for item in items:
            wire = _deserialize(model, item).as_dict()
            parsed = parse(wire)
            if hasattr(parsed, "id"):
                assert (parsed.id, parsed.name) == (item["id"], item["name"])


def test_the_gateway_get_example_parses_its_bgp_addresses():
    body = example("VirtualNetworkGatewayGet.json")["responses"]["200"]["body"]
    gw = parse_gateway(_deserialize(m.VirtualNetworkGateway, body).as_dict())
    assert (gw.asn, gw.bgp_peering_address) == (65514, "10.0.1.30")
    assert (gw.default_bgp_ips, gw.custom_bgp_ips, gw.tunnel_ips) == (
        ("10.3.1.254",),
        ("169.254.21.10",),
        ("52.161.10.135",),
    )
    assert gw.provisioning_state == body["properties"]["provisioningState"]


def test_the_connection_get_example_parses_status_and_custom_bgp_addresses():
    body = example("VirtualNetworkGatewayConnectionGet.json")["responses"]["200"]["body"]
    conn = parse_connection(_deserialize(m.VirtualNetworkGatewayConnection, body).as_dict())
    assert (conn.status, conn.protocol, conn.ipsec_policy) == ("Connecting", "IKEv2", None)
    assert [ip for _, ip in conn.custom_bgp_ips] == ["169.254.21.1", "169.254.21.3"]


def test_the_vnet_list_example_parses_with_subnets():
    body = example("VirtualNetworkList.json")["responses"]["200"]["body"]
    vnets = [parse_vnet(_deserialize(m.VirtualNetwork, v).as_dict()) for v in body["value"]]
    assert vnets[0].name == "vnet1" and vnets[0].address_prefixes == ("10.0.0.0/8",)
    assert vnets[0].subnet("test-1").address_prefix == "10.0.0.0/24"
    assert vnets[0].resource_group == "rg1"


# ------------------------------------------------------------------ reference sections 4.6 and 4.7


def reference_json(section: str) -> dict:
    text = REFERENCE.read_text()
    start = text.index(f"### {section}")
    block = re.search(r"```json\n(.*?)```", text[start:], re.DOTALL)
    return json.loads(block.group(1))


def test_the_documented_bgp_peer_status_shape_parses():
    body = _deserialize(m.BgpPeerStatusListResult, reference_json("4.6")).as_dict()
    (peer,) = parse_bgp_peers(body)
    assert (peer.neighbor, peer.asn, peer.state, peer.local_address) == (
        "169.254.21.1",
        65010,
        BgpState.ESTABLISHED,
        "10.10.255.30",
    )
    assert peer.prefixes_received == 1 and (peer.messages_sent, peer.messages_received) == (
        14900,
        14893,
    )
    assert peer.uptime_seconds == pytest.approx(9 * 86400 + 1 * 3600 + 4 * 60 + 53.5768637)


def test_the_documented_route_list_shape_parses():
    body = _deserialize(m.GatewayRouteListResult, reference_json("4.7")).as_dict()
    routes = parse_routes(body)
    assert [(r.prefix, r.origin, r.as_path, r.next_hop) for r in routes] == [
        ("10.1.0.0/16", "Network", "", ""),
        ("10.0.0.0/16", "EBgp", "65515", "10.0.0.254"),
    ]
