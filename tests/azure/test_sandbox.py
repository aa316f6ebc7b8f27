"""The ARM sandbox as an independent judge: Azure's rules, ARM's timing and wire behaviour.

Bodies are sent through the real SDK (raw JSON, as the SDK allows) so the sandbox is exercised on
the wire; each refusal must carry an ARM error envelope with a code and a message that says how
to fix it.
"""

from __future__ import annotations

import copy
import json
import ssl
import urllib.request

import pytest
from azure.core.exceptions import HttpResponseError

from s2svpn.sandbox.arm import ArmSandbox

from .conftest import PSK, client_for, provision, seed_site

RG = "rg-judge"


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    sb = ArmSandbox(tmp_path_factory.mktemp("judge"), profile="fast")
    sb.start()
    intent = seed_site(sb)
    client = client_for(sb)
    provision(client, intent)
    sb.seed_vnet(RG, "vnet-small", "westeurope", ["10.9.0.0/16"], {"GatewaySubnet": "10.9.0.0/29"})
    sb.seed_vnet(RG, "vnet-ok", "westeurope", ["10.8.0.0/16"], {"GatewaySubnet": "10.8.0.0/27"})
    sdk = client._sdk
    sdk.public_ip_addresses.begin_create_or_update(
        RG,
        "pip-std",
        {
            "location": "westeurope",
            "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"},
        },
    ).result()
    sdk.public_ip_addresses.begin_create_or_update(
        RG, "pip-basic", {"location": "westeurope"}
    ).result()
    yield sb, sdk, intent, client
    sb.stop()


def refused(call) -> tuple[int, str, str]:
    with pytest.raises(HttpResponseError) as err:
        call()
    body = err.value.response.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message", "details"}
    return err.value.status_code, body["error"]["code"], body["error"]["message"]


def gateway_body(
    sb,
    *,
    sku="VpnGw1AZ",
    generation="Generation1",
    bgp=True,
    asn=65515,
    subnet_rg=RG,
    subnet_vnet="vnet-ok",
    pip="pip-std",
    active_active=False,
):
    base = f"/subscriptions/{sb.subscription_id}/resourceGroups"
    return {
        "location": "westeurope",
        "properties": {
            "gatewayType": "Vpn",
            "vpnType": "RouteBased",
            "vpnGatewayGeneration": generation,
            "sku": {"name": sku, "tier": sku},
            "activeActive": active_active,
            "enableBgp": bgp,
            "bgpSettings": {"asn": asn},
            "ipConfigurations": [
                {
                    "name": "default",
                    "properties": {
                        "subnet": {
                            "id": f"{base}/{subnet_rg}/providers/Microsoft.Network/virtualNetworks/{subnet_vnet}/subnets/GatewaySubnet"
                        },
                        "publicIPAddress": {
                            "id": f"{base}/{RG}/providers/Microsoft.Network/publicIPAddresses/{pip}"
                        },
                    },
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"subnet_vnet": "vnet-small"}, "GatewaySubnetIsTooSmall", "/27"),
        (
            {"sku": "VpnGw4AZ", "generation": "Generation1"},
            "VpnGatewayGenerationNotSupportedBySku",
            "Generation2",
        ),
        (
            {"sku": "VpnGw1", "generation": "Generation2"},
            "VpnGatewayGenerationNotSupportedBySku",
            "Generation1",
        ),
        ({"sku": "Basic", "bgp": True}, "BgpNotSupportedOnBasicGateway", "Basic"),
        ({"sku": "Standard"}, "GatewaySkuRetired", "retired"),
        ({"asn": 65520}, "BgpAsnReserved", "65520"),
        (
            {"pip": "pip-basic", "sku": "VpnGw1AZ"},
            "VirtualNetworkGatewayRequiresStandardStaticPublicIp",
            "Standard",
        ),
        ({"pip": "no-such-pip"}, "InvalidResourceReference", "no-such-pip"),
        ({"active_active": True}, "ActiveActiveGatewayRequiresTwoIpConfigurations", "2"),
    ],
)
def test_the_sandbox_refuses_gateways_azure_would_refuse(judge, changes, code, words):
    sb, sdk, _, _ = judge
    status, got_code, message = refused(
        lambda: sdk.virtual_network_gateways.begin_create_or_update(
            RG, "gw-bad", gateway_body(sb, **changes)
        ).result()
    )
    assert (status, got_code) == (400, code)
    assert words in message
    assert sb.resources("virtualNetworkGateways") and all(
        r["name"] != "gw-bad" for r in sb.resources("virtualNetworkGateways")
    )


def test_a_basic_gateway_may_use_a_29_without_bgp(judge):
    sb, sdk, _, _ = judge
    gw = sdk.virtual_network_gateways.begin_create_or_update(
        RG,
        "gw-basic",
        gateway_body(sb, sku="Basic", bgp=False, pip="pip-basic", subnet_vnet="vnet-small"),
    ).result()
    assert gw.as_dict()["properties"]["bgpSettings"]["bgpPeeringAddresses"][0][
        "defaultBgpIpAddresses"
    ] == ["10.9.0.6"]


def connection_body(client, intent, **props):
    gw = client.get_gateway(intent)
    lng = client.get_local_gateway(intent)
    body = client.connection_body(intent, gw.id, lng.id, PSK)
    policy = body["properties"]["ipsecPolicies"][0]
    for key, value in props.items():
        if key in policy:
            policy[key] = value
        elif value is None:
            body["properties"].pop(key, None)
        else:
            body["properties"][key] = value
    return body


@pytest.mark.parametrize(
    ("props", "code", "words"),
    [
        ({"saLifeTimeSeconds": 299}, "InvalidIpsecPolicySaLifeTime", "300 to 172799"),
        ({"saLifeTimeSeconds": 172800}, "InvalidIpsecPolicySaLifeTime", "300 to 172799"),
        ({"saDataSizeKilobytes": 1023}, "InvalidIpsecPolicySaDataSize", "1024"),
        ({"ipsecIntegrity": "GCMAES128"}, "IpsecEncryptionAndIntegrityMismatch", "GCMAES"),
        ({"dhGroup": "DHGroup5"}, "InvalidIpsecPolicyParameter", "dhGroup"),
        ({"dpdTimeoutSeconds": 8}, "InvalidDpdTimeout", "9 to 3600"),
        ({"dpdTimeoutSeconds": 3601}, "InvalidDpdTimeout", "9 to 3600"),
        ({"sharedKey": "with space"}, "InvalidSharedKey", "space"),
        ({"sharedKey": "tilde~key"}, "InvalidSharedKey", "tilde"),
        ({"connectionMode": "Sometimes"}, "InvalidConnectionMode", "ResponderOnly"),
    ],
)
def test_the_sandbox_refuses_connections_azure_would_refuse(judge, props, code, words):
    _sb, sdk, intent, client = judge
    body = connection_body(client, intent, **props)
    status, got_code, message = refused(
        lambda: sdk.virtual_network_gateway_connections.begin_create_or_update(
            intent.resource_group, "conn-bad", body
        ).result()
    )
    assert (status, got_code) == (400, code)
    assert words in message
    assert "with space" not in message and "tilde~key" not in message


def test_the_sandbox_refuses_two_ipsec_policies(judge):
    _sb, sdk, intent, client = judge
    body = connection_body(client, intent)
    body["properties"]["ipsecPolicies"] *= 2
    _, code, message = refused(
        lambda: sdk.virtual_network_gateway_connections.begin_create_or_update(
            intent.resource_group, "conn-bad", body
        ).result()
    )
    assert code == "OnlyOneIpsecPolicySupported" and "one" in message


def test_the_sandbox_refuses_a_connection_to_a_missing_local_gateway(judge):
    _sb, sdk, intent, client = judge
    body = connection_body(client, intent)
    body["properties"]["localNetworkGateway2"]["id"] += "-missing"
    _, code, _ = refused(
        lambda: sdk.virtual_network_gateway_connections.begin_create_or_update(
            intent.resource_group, "conn-bad", body
        ).result()
    )
    assert code == "InvalidResourceReference"


def test_a_local_gateway_needs_prefixes_or_bgp(judge):
    _sb, sdk, intent, _ = judge
    body = {
        "location": "westeurope",
        "properties": {
            "fqdn": "home-s2s.example.net",
            "localNetworkAddressSpace": {"addressPrefixes": []},
        },
    }
    _, code, message = refused(
        lambda: sdk.local_network_gateways.begin_create_or_update(
            intent.resource_group, "lng-bad", body
        ).result()
    )
    assert code == "LocalNetworkGatewayCannotHaveEmptyAddressPrefixAndBgpSettings"
    assert "BGP" in message


@pytest.mark.parametrize(
    ("prefix", "code"),
    [
        ("10.99.0.0/27", "NetcfgSubnetRangeOutsideVnet"),
        ("172.16.20.0/27", "NetcfgSubnetRangesOverlap"),
        ("172.16.30.1/27", "InvalidCIDRNotation"),
    ],
)
def test_subnets_must_fit_the_vnet_without_overlap(judge, prefix, code):
    _sb, sdk, intent, _ = judge
    _, got, _ = refused(
        lambda: sdk.subnets.begin_create_or_update(
            intent.resource_group,
            intent.vnet_name,
            "other",
            {"properties": {"addressPrefix": prefix}},
        ).result()
    )
    assert got == code


def test_resources_in_use_cannot_be_deleted(judge):
    _sb, sdk, intent, _ = judge
    _, code, _ = refused(
        lambda: sdk.subnets.begin_delete(
            intent.resource_group, intent.vnet_name, "GatewaySubnet"
        ).result()
    )
    assert code == "InUseSubnetCannotBeDeleted"
    _, code, _ = refused(
        lambda: sdk.public_ip_addresses.begin_delete(
            intent.resource_group, intent.public_ip_names[0]
        ).result()
    )
    assert code == "PublicIPAddressCannotBeDeleted"
    _, code, _ = refused(
        lambda: sdk.virtual_network_gateways.begin_delete(
            intent.resource_group, intent.gateway_name
        ).result()
    )
    assert code == "VirtualNetworkGatewayCannotBeDeleted"


def test_missing_resources_answer_404_in_the_arm_envelope(judge):
    _sb, sdk, intent, _ = judge
    status, code, message = refused(
        lambda: sdk.virtual_network_gateways.get(intent.resource_group, "nope")
    )
    assert (status, code) == (404, "ResourceNotFound") and "nope" in message
    status, code, _ = refused(
        lambda: sdk.subnets.get(intent.resource_group, "no-vnet", "GatewaySubnet")
    )
    assert (status, code) == (404, "ParentResourceNotFound")
    status, code, _ = refused(lambda: sdk.virtual_network_gateways.get("no-such-rg", "x"))
    assert (status, code) == (404, "ResourceGroupNotFound")


def test_etags_change_on_every_write(judge):
    _sb, sdk, intent, client = judge
    before = sdk.local_network_gateways.get(intent.resource_group, intent.lng_name).as_dict()
    sdk.local_network_gateways.begin_create_or_update(
        intent.resource_group, intent.lng_name, client.local_gateway_body(intent)
    ).result()
    after = sdk.local_network_gateways.get(intent.resource_group, intent.lng_name).as_dict()
    assert before["etag"] != after["etag"] and before["id"] == after["id"]
    assert before["properties"]["resourceGuid"] == after["properties"]["resourceGuid"]


def test_operations_finish_by_their_stored_start_time(tmp_path):
    """Timing comes from stored start times: the status monitor and the resource follow the clock."""
    with ArmSandbox(tmp_path, profile="default") as sb:
        intent = seed_site(sb)
        client = client_for(sb)
        t0 = sb.clock()
        sb.clock = lambda: t0
        sb.timing.other_seconds = 0
        subnet = client.ensure_gateway_subnet(intent)
        (pip,) = client.ensure_public_ips(intent)
        gw = client.start_gateway(intent, subnet.id, [pip.id])
        assert gw.provisioning_state == "Updating"
        op = next(o for o in sb._state["operations"].values() if o["resource"] == gw.id)
        status_url = f"{sb.base_url}/subscriptions/{sb.subscription_id}/providers/Microsoft.Network/locations/westeurope/operations/{op['id']}?api-version=2026-03-01"

        def monitor():
            req = urllib.request.Request(status_url, headers={"Authorization": "Bearer t"})
            ctx = ssl.create_default_context(cafile=str(sb.ca_file))
            with urllib.request.urlopen(req, context=ctx) as resp:
                return json.loads(resp.read())["status"]

        assert monitor() == "InProgress"
        sb.clock = lambda: t0 + 59
        assert (
            monitor() == "InProgress"
            and client.get_gateway(intent).provisioning_state == "Updating"
        )
        sb.clock = lambda: t0 + 60
        assert monitor() == "Succeeded"
        assert client.get_gateway(intent).default_bgp_ips == ("172.16.19.254",)


def test_the_state_file_is_plain_json_written_atomically(judge):
    sb, _, _, _ = judge
    state = json.loads((sb.state_dir / "arm-state.json").read_text())
    assert {"resources", "operations", "resource_groups"} <= set(state)
    assert not [p for p in sb.state_dir.iterdir() if p.name.startswith(".arm-state.")]
    assert copy.deepcopy(state) == state
