"""Resource groups and VNets as ARM has them (ResourceGroups_* in resources.json 2021-04-01,
VirtualNetworks_CreateOrUpdate / _Delete in virtualNetwork.json): the ARM sandbox judges, and the
client creates, adopts, grows, shrinks and deletes through the real SDK pipeline over HTTPS."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from azure.core.exceptions import HttpResponseError

from s2svpn.clients.errors import ClientError
from s2svpn.intent import CANONICAL

from .conftest import client_for, provision, seed_site

_n = itertools.count(1)


@pytest.fixture
def fresh(sandbox):
    """A site whose resource group and VNet do not exist yet."""
    sandbox.timing.gateway_seconds = sandbox.timing.other_seconds = 0.0
    n = next(_n)
    return replace(
        CANONICAL,
        slug=f"fresh{n}",
        resource_group=f"rg-fresh-{n}",
        vnet_name="vnet-s2svpn",
        vnet_prefixes=("10.77.0.0/16",),
        gateway_subnet_prefix="10.77.255.224/27",
    )


def refused(call) -> tuple[int, str, str]:
    with pytest.raises(HttpResponseError) as err:
        call()
    body = err.value.response.json()["error"]
    return err.value.status_code, body["code"], body["message"]


def vnet_body(prefixes, subnets=(), location="westeurope"):
    return {
        "location": location,
        "properties": {
            "addressSpace": {"addressPrefixes": list(prefixes)},
            "subnets": [{"name": n, "properties": {"addressPrefix": p}} for n, p in subnets],
        },
    }


# ------------------------------------------------------------------ the sandbox as a judge


def test_a_resource_group_is_created_once_and_then_found(azure, fresh):
    assert azure.get_resource_group(fresh.resource_group) is None
    created = azure.ensure_resource_group(fresh)
    assert created.action == "created" and created.provisioning_state == "Succeeded"
    assert created.id.endswith(f"/resourceGroups/{fresh.resource_group}")
    assert azure.ensure_resource_group(fresh).action == "unchanged"


def test_a_resource_group_cannot_move_to_another_region(azure, fresh):
    azure.ensure_resource_group(fresh)
    url = azure._group_url(fresh.resource_group)
    with pytest.raises(ClientError) as err:
        azure._send("moving", "PUT", url, body={"location": "northeurope"})
    assert err.value.code == "InvalidResourceGroupLocation"
    assert "already exists in location 'westeurope'" in err.value.message


def test_a_resource_group_needs_a_location_and_a_valid_name(azure, fresh):
    with pytest.raises(ClientError) as err:
        azure._send("creating", "PUT", azure._group_url(fresh.resource_group), body={})
    assert err.value.code == "LocationRequired"
    with pytest.raises(ClientError) as err:
        azure._send("creating", "PUT", azure._group_url("bad name!"), body={"location": "x"})
    assert err.value.code == "InvalidResourceGroupName"


def test_a_vnet_in_a_missing_resource_group_is_refused(azure, fresh):
    ops = azure._sdk.virtual_networks
    status, code, _ = refused(
        lambda: ops.begin_create_or_update(
            fresh.resource_group, "v", vnet_body(["10.1.0.0/16"])
        ).result()
    )
    assert (status, code) == (404, "ResourceGroupNotFound")


@pytest.mark.parametrize(
    ("prefixes", "subnets", "code"),
    [
        (["10.1.0.0/33"], [], "InvalidAddressPrefixFormat"),
        ([], [], "VnetAddressSpaceMissing"),
        (["10.1.0.0/16", "10.1.128.0/17"], [], "VnetAddressSpacesOverlap"),
        (["10.1.0.0/16"], [("a", "10.2.0.0/24")], "NetcfgSubnetRangeOutsideVnet"),
        (
            ["10.1.0.0/16"],
            [("a", "10.1.0.0/24"), ("b", "10.1.0.128/25")],
            "NetcfgSubnetRangesOverlap",
        ),
        (["10.1.0.0/16"], [("a", "10.1.0.0/30")], "InvalidSubnetSize"),
    ],
)
def test_a_vnet_put_is_validated_like_arm(azure, fresh, prefixes, subnets, code):
    azure.ensure_resource_group(fresh)
    ops = azure._sdk.virtual_networks
    status, got, message = refused(
        lambda: ops.begin_create_or_update(
            fresh.resource_group, "v", vnet_body(prefixes, subnets)
        ).result()
    )
    assert (status, got) == (400, code), message


def test_a_vnet_put_replaces_its_subnets_and_keeps_those_it_names(azure, fresh):
    azure.ensure_resource_group(fresh)
    ops = azure._sdk.virtual_networks
    rg = fresh.resource_group
    body = vnet_body(["10.1.0.0/16"], [("a", "10.1.0.0/24"), ("b", "10.1.1.0/24")])
    ops.begin_create_or_update(rg, "v", body).result()
    ops.begin_create_or_update(rg, "v", vnet_body(["10.1.0.0/16"], [("a", "10.1.0.0/24")])).result()
    names = [s.name for s in azure.find_vnet(replace(fresh, vnet_name="v")).subnets]
    assert names == ["a"]


def test_a_vnet_whose_gateway_subnet_is_in_use_cannot_be_deleted_or_shrunk(sandbox, azure):
    intent = seed_site(sandbox)
    provision(azure, intent)
    ops = azure._sdk.virtual_networks
    status, code, message = refused(
        lambda: ops.begin_delete(intent.resource_group, intent.vnet_name).result()
    )
    assert (status, code) == (400, "InUseSubnetCannotBeDeleted")
    assert "GatewaySubnet" in message
    # a PUT without the GatewaySubnet would delete it: refused the same way
    status, code, _ = refused(
        lambda: ops.begin_create_or_update(
            intent.resource_group, intent.vnet_name, vnet_body(intent.vnet_prefixes)
        ).result()
    )
    assert code == "InUseSubnetCannotBeDeleted"
    # nor can the address space lose the prefix that holds it
    body = vnet_body(["10.99.0.0/16"], [("GatewaySubnet", intent.gateway_subnet_prefix)])
    status, code, _ = refused(
        lambda: ops.begin_create_or_update(intent.resource_group, intent.vnet_name, body).result()
    )
    assert code == "NetcfgSubnetRangeOutsideVnet"


def test_deleting_a_resource_group_deletes_everything_in_it(sandbox, azure):
    intent = seed_site(sandbox)
    azure.ensure_public_ips(intent)
    contents = azure.resource_group_contents(intent.resource_group)
    assert any(i.endswith(f"/virtualNetworks/{intent.vnet_name}") for i in contents)
    assert any("/publicIPAddresses/" in i for i in contents)
    assert not any("/subnets/" in i for i in contents)
    outcome = azure.delete_resource_group(intent.resource_group)
    assert outcome in ("deleted", "deleting")
    assert azure.delete_resource_group(intent.resource_group) == "gone"
    assert intent.resource_group not in sandbox.resource_groups()
    assert not [r for r in sandbox.resources() if intent.resource_group in r["id"]]


# ------------------------------------------------------------------ the client


def test_the_client_creates_a_vnet_and_adopts_it_on_a_second_call(azure, fresh):
    azure.ensure_resource_group(fresh)
    first = azure.ensure_vnet(fresh)
    assert first.action == "created"
    again = azure.ensure_vnet(fresh)
    assert again.action in ("unchanged", "in_progress")
    assert again.address_prefixes == ("10.77.0.0/16",)


def test_the_client_refuses_a_vnet_of_that_name_with_another_address_space(azure, fresh):
    azure.ensure_resource_group(fresh)
    azure.ensure_vnet(fresh)
    with pytest.raises(ClientError) as err:
        azure.ensure_vnet(replace(fresh, vnet_prefixes=("10.78.0.0/16",)))
    assert err.value.permanent and err.value.code == "VnetConflict"
    assert "10.78.0.0/16" in err.value.message


def test_an_address_space_is_added_and_removed_keeping_the_subnets(azure, fresh):
    azure.ensure_resource_group(fresh)
    azure.ensure_vnet(fresh)
    azure.ensure_gateway_subnet(fresh)
    grown = azure.set_vnet_prefix(fresh, "10.88.0.0/24", present=True)
    assert grown.action == "created"
    assert grown.address_prefixes == ("10.77.0.0/16", "10.88.0.0/24")
    assert azure.set_vnet_prefix(fresh, "10.88.0.0/24", present=True).action in (
        "unchanged",
        "in_progress",
    )
    shrunk = azure.set_vnet_prefix(fresh, "10.88.0.0/24", present=False)
    assert shrunk.action == "deleted" and shrunk.address_prefixes == ("10.77.0.0/16",)
    assert [s.name for s in azure.find_vnet(fresh).subnets] == ["GatewaySubnet"]


def test_the_client_deletes_the_vnet_then_the_resource_group(azure, fresh):
    azure.ensure_resource_group(fresh)
    azure.ensure_vnet(fresh)
    assert azure.delete_vnet(fresh) in ("deleted", "deleting")
    assert azure.delete_vnet(fresh) == "gone"
    assert azure.resource_group_contents(fresh.resource_group) == []
    azure.delete_resource_group(fresh.resource_group)
    assert azure.get_resource_group(fresh.resource_group) is None


def test_a_resource_group_delete_is_followed_while_azure_takes_its_time(sandbox, fresh):
    client = client_for(sandbox)
    client.ensure_resource_group(fresh)
    sandbox.timing.other_seconds = 30.0
    try:
        assert client.delete_resource_group(fresh.resource_group) == "deleting"
        assert client.delete_resource_group(fresh.resource_group) == "deleting"
        assert client.get_resource_group(fresh.resource_group).provisioning_state == "Deleting"
        with pytest.raises(ClientError) as err:
            client.ensure_resource_group(fresh)
        assert not err.value.permanent
    finally:
        sandbox.timing.other_seconds = 0.0
        client.close()


# ------------------------------------------------------------------ the role


def test_the_least_privilege_role_cannot_create_a_group_and_the_new_vnet_actions_can(
    sandbox, fresh
):
    from s2svpn.azure_role import NEW_VNET_ACTIONS, role_definition

    role = role_definition(sandbox.subscription_id, fresh.resource_group)
    sandbox.enforce_role(role)
    client = client_for(sandbox)
    try:
        with pytest.raises(ClientError) as err:
            client.ensure_resource_group(fresh)
        assert err.value.status == 403
        assert "Microsoft.Resources/subscriptions/resourceGroups/read" in err.value.message
        role["Actions"] += [action for action, _ in NEW_VNET_ACTIONS]
        role["AssignableScopes"] = [f"/subscriptions/{sandbox.subscription_id}"]
        sandbox.enforce_role(role)
        client.ensure_resource_group(fresh)
        client.ensure_vnet(fresh)
        assert client.delete_vnet(fresh, wait=True) == "deleted"
        assert client.resource_group_contents(fresh.resource_group) == []
        assert client.delete_resource_group(fresh.resource_group) in ("deleted", "deleting")
        used = {a.lower() for a in sandbox.granted}
        assert {a.lower() for a, _ in NEW_VNET_ACTIONS} <= used
    finally:
        sandbox.enforce_role(None)
        client.close()
