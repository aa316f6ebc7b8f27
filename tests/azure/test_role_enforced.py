"""The least-privilege role is exactly enough: proven against the ARM sandbox enforcing it.

With ``role_definition(...)`` enforced, the Azure client's whole life cycle of a site (the site
step's reads, provisioning, the monitor's reads, a gateway reset, teardown) succeeds and uses every
action of the role; with any one action removed, the first request that needs it is refused with
403 AuthorizationFailed and the client's error names that action. The same full role carries a
real provisioning run, a monitor cycle and a teardown in tests/azure/test_role_end_to_end.py.
"""

from __future__ import annotations

import pytest

from s2svpn.azure_role import REQUIRED_ACTIONS, role_definition
from s2svpn.clients.errors import ClientError
from s2svpn.sandbox.arm import ArmSandbox
from tests.azure.conftest import PSK, client_for, provision, seed_site


def life_cycle(client, intent) -> None:
    """Everything s2svpn asks Azure for one site, in the order the product asks it."""
    assert [v.name for v in client.list_vnets()] == [intent.vnet_name]  # site step
    client.get_vnet(intent.resource_group, intent.vnet_name)
    provision(client, intent)
    assert client.shared_key_matches(intent, PSK)
    bgp = client.read_bgp(intent)  # monitor
    assert bgp["peers"] is not None
    client.reset_gateway(intent, wait=True)  # "Reset gateway" on the status page
    assert [c.name for c in client.gateway_connections(intent)] == [intent.connection_name]
    for delete in (
        client.delete_connection,
        client.delete_local_gateway,
        client.delete_gateway,
        client.delete_public_ips,
        client.delete_gateway_subnet,
    ):
        assert delete(intent, wait=True) in ("deleted", "gone")


@pytest.fixture
def enforcing(sandbox: ArmSandbox):
    """The module's sandbox, enforcing a role for one test."""
    yield sandbox
    sandbox.enforce_role(None)


def roled_site(sb: ArmSandbox, *, without: str = ""):
    intent = seed_site(sb)
    role = role_definition(sb.subscription_id, intent.resource_group)
    role["Actions"] = [a for a in role["Actions"] if a != without]
    sb.enforce_role(role)
    return intent


def test_the_role_is_enough_for_the_whole_life_of_a_site_and_every_action_is_used(enforcing):
    intent = roled_site(enforcing)
    client = client_for(enforcing)
    try:
        life_cycle(client, intent)
    finally:
        client.close()
    assert {a.lower() for a in enforcing.granted} == {a.lower() for a in REQUIRED_ACTIONS}
    assert [r for r in enforcing.resources() if intent.resource_group in r["id"]] != []  # VNet
    assert not any(
        intent.resource_group in r["id"] and r["type"] != "Microsoft.Network/virtualNetworks"
        for r in enforcing.resources()
        if r["name"] != "workload"
    )


@pytest.mark.parametrize("action", REQUIRED_ACTIONS)
def test_without_any_one_action_the_request_needing_it_fails_naming_it(enforcing, action):
    intent = roled_site(enforcing, without=action)
    client = client_for(enforcing)
    try:
        with pytest.raises(ClientError) as failure:
            life_cycle(client, intent)
    finally:
        client.close()
    assert f"'{action}'" in failure.value.message
    assert failure.value.permanent
    assert failure.value.status == 403


def test_the_role_of_one_resource_group_reaches_nothing_in_another(enforcing):
    mine, theirs = seed_site(enforcing), seed_site(enforcing)
    enforcing.enforce_role(role_definition(enforcing.subscription_id, mine.resource_group))
    client = client_for(enforcing)
    try:
        assert [v.name for v in client.list_vnets()] == [mine.vnet_name]  # a partial list
        with pytest.raises(ClientError) as failure:
            client.get_gateway_subnet(theirs)
    finally:
        client.close()
    assert "'Microsoft.Network/virtualNetworks/subnets/read'" in failure.value.message
    assert f"/resourceGroups/{theirs.resource_group}/" in failure.value.message


def test_the_refusal_is_arms_authorization_failed_body(enforcing):
    intent = roled_site(enforcing, without="Microsoft.Network/connections/read")
    path = (
        f"/subscriptions/{enforcing.subscription_id}/resourceGroups/{intent.resource_group}"
        f"/providers/Microsoft.Network/connections/{intent.connection_name}"
    )
    status, _, body = enforcing.handle(
        "GET", f"{path}?api-version=2026-03-01", {"authorization": "Bearer t"}, b""
    )
    assert status == 403
    assert body["error"]["code"] == "AuthorizationFailed"
    assert body["error"]["message"].startswith("The client '")
    assert (
        f"does not have authorization to perform action 'Microsoft.Network/connections/read' "
        f"over scope '{path}' or the scope is invalid." in body["error"]["message"]
    )


def test_a_gateway_needs_join_on_its_subnet_and_public_ip_as_arm_checks_linked_scopes(enforcing):
    intent = roled_site(enforcing, without="Microsoft.Network/publicIPAddresses/join/action")
    client = client_for(enforcing)
    try:
        subnet = client.ensure_gateway_subnet(intent)
        pips = client.ensure_public_ips(intent)
        with pytest.raises(ClientError) as failure:
            client.start_gateway(intent, subnet.id, [p.id for p in pips])
    finally:
        client.close()
    assert failure.value.code == "LinkedAuthorizationFailed"
    assert "'Microsoft.Network/publicIPAddresses/join/action'" in failure.value.message
    assert pips[0].id in failure.value.message


def test_a_role_file_in_arms_own_shape_with_wildcards_is_understood(tmp_path):
    from s2svpn.sandbox.arm.authz import Role

    rg = "/subscriptions/s/resourceGroups/rg"
    path = tmp_path / "role.json"
    path.write_text(
        '{"properties": {"roleName": "net", "assignableScopes": ["%s"], "permissions": '
        '[{"actions": ["Microsoft.Network/*"], "notActions": ["Microsoft.Network/*/delete"]}]}}'
        % rg
    )
    role = Role.parse(str(path))
    assert role.allows("Microsoft.Network/connections/write", f"{rg}/providers/x")
    assert role.allows("microsoft.network/Connections/Read", rg)  # names compare as ARM's do
    assert not role.allows("Microsoft.Network/connections/delete", f"{rg}/providers/x")
    assert not role.allows("Microsoft.Network/connections/write", "/subscriptions/s")
    assert not role.allows("Microsoft.Network/connections/write", f"{rg}2/providers/x")
