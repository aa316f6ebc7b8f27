"""AzureVpnClient against the ARM sandbox: the real SDK over real HTTPS, no fakes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from azure.core.pipeline.policies import SansIOHTTPPolicy

from s2svpn.clients.azure import AzureVpnClient, _StaticToken
from s2svpn.clients.errors import ClientError
from s2svpn.intent import IpsecPolicy
from s2svpn.sandbox.arm import ArmSandbox
from s2svpn.sandbox.world import TunnelView, World
from s2svpn.status import BgpState, TunnelState

from .conftest import PSK, client_for, provision, seed_site


def by_type(sandbox, kind, rg):
    return [r for r in sandbox.resources(kind) if f"/resourceGroups/{rg}/" in r["id"]]


def puts(sandbox):
    return [path for method, path in sandbox.calls if method in ("PUT", "POST", "DELETE", "PATCH")]


# ------------------------------------------------------------------ the canonical scenario


def test_it_provisions_the_canonical_scenario_and_the_sandbox_state_equals_the_intent(
    sandbox, azure, site
):
    subnet, pips, lng, gw, conn = provision(azure, site)

    assert [subnet.action, pips[0].action, lng.action, conn.action] == ["created"] * 4
    (gs,) = [
        s for s in by_type(sandbox, "subnets", site.resource_group) if s["name"] == "GatewaySubnet"
    ]
    assert gs["properties"]["addressPrefix"] == "172.16.19.224/27"
    assert gs["properties"]["provisioningState"] == "Succeeded"

    (g,) = by_type(sandbox, "virtualNetworkGateways", site.resource_group)
    gp = g["properties"]
    assert gp["provisioningState"] == "Succeeded"
    assert (gp["gatewayType"], gp["vpnType"], gp["sku"]["name"]) == (
        "Vpn",
        "RouteBased",
        "VpnGw1AZ",
    )
    assert gp["enableBgp"] is True and gp["activeActive"] is False
    assert gp["bgpSettings"]["asn"] == 65515
    assert gp["bgpSettings"]["bgpPeeringAddresses"][0]["defaultBgpIpAddresses"] == ["172.16.19.254"]
    assert gw.default_bgp_ips == ("172.16.19.254",) and gw.bgp_peering_address == "172.16.19.254"
    assert gw.tunnel_ips == (pips[0].ip_address,) and pips[0].ip_address.startswith("198.51.100.")

    (p,) = by_type(sandbox, "publicIPAddresses", site.resource_group)
    assert (p["sku"]["name"], p["properties"]["publicIPAllocationMethod"], p["zones"]) == (
        "Standard",
        "Static",
        ["1", "2", "3"],
    )

    (ln,) = by_type(sandbox, "localNetworkGateways", site.resource_group)
    lp = ln["properties"]
    assert lp["fqdn"] == "home-s2s.example.net" and "gatewayIpAddress" not in lp
    assert (
        lp["bgpSettings"]["asn"] == 65010 and lp["bgpSettings"]["bgpPeeringAddress"] == "10.0.0.1"
    )
    assert lp["localNetworkAddressSpace"]["addressPrefixes"] == []
    assert lp["provisioningState"] == "Succeeded"

    (c,) = by_type(sandbox, "connections", site.resource_group)
    cp = c["properties"]
    assert (cp["connectionType"], cp["connectionProtocol"], cp["connectionMode"]) == (
        "IPsec",
        "IKEv2",
        "ResponderOnly",
    )
    assert cp["enableBgp"] is True and cp["usePolicyBasedTrafficSelectors"] is False
    assert cp["dpdTimeoutSeconds"] == 45 and cp["provisioningState"] == "Succeeded"
    assert cp["ipsecPolicies"] == [
        {
            "saLifeTimeSeconds": 27000,
            "saDataSizeKilobytes": 102400000,
            "ipsecEncryption": "GCMAES256",
            "ipsecIntegrity": "GCMAES256",
            "ikeEncryption": "AES256",
            "ikeIntegrity": "SHA256",
            "dhGroup": "DHGroup14",
            "pfsGroup": "PFS2048",
        }
    ]
    assert "sharedKey" not in cp  # never shown on GET
    assert conn.ipsec_policy == site.policy
    assert azure.shared_key_matches(site, PSK) is True
    assert azure.shared_key_matches(site, PSK + "x") is False


def test_the_sharedkey_operation_changes_the_key_that_reads_back(azure, sandbox, site):
    provision(azure, site)
    azure.set_shared_key(site, "AnotherKey42")
    assert azure.shared_key_matches(site, "AnotherKey42")
    assert not azure.shared_key_matches(site, PSK)


def test_a_second_pass_changes_nothing_and_sends_no_write(sandbox, azure, site):
    provision(azure, site)
    sandbox.reset_calls()
    subnet, pips, lng, gw, conn = provision(azure, site)

    assert [subnet.action, pips[0].action, lng.action, gw.action, conn.action] == ["unchanged"] * 5
    writes = [p for p in puts(sandbox) if not p.endswith("/sharedkey")]
    assert writes == []


def test_an_edited_intent_updates_in_place(sandbox, azure, site):
    provision(azure, site)
    changed = replace(
        site, dpd_timeout_seconds=30, lng_prefixes=("10.0.0.0/24",), connection_mode="Default"
    )
    lng = azure.ensure_local_gateway(changed)
    gw = azure.get_gateway(changed)
    conn = azure.ensure_connection(changed, gw.id, lng.id, PSK)
    assert (lng.action, conn.action) == ("updated", "updated")
    assert lng.address_prefixes == ("10.0.0.0/24",)
    assert (conn.dpd_timeout_seconds, conn.mode) == (30, "Default")


def test_start_gateway_returns_before_the_build_finishes_and_is_idempotent(sandbox, azure, site):
    sandbox.timing.gateway_seconds = 3600
    subnet = azure.ensure_gateway_subnet(site)
    pips = azure.ensure_public_ips(site)
    lng = azure.ensure_local_gateway(site)
    sandbox.reset_calls()

    gw = azure.start_gateway(site, subnet.id, [p.id for p in pips])
    again = azure.start_gateway(site, subnet.id, [p.id for p in pips])

    assert (gw.action, gw.provisioning_state) == ("created", "Updating")
    assert (again.action, again.provisioning_state) == ("in_progress", "Updating")
    assert len([p for p in puts(sandbox) if "virtualNetworkGateways" in p]) == 1
    assert azure.get_gateway(site).default_bgp_ips == ()  # assigned only when it succeeds

    with pytest.raises(ClientError) as busy:
        azure.ensure_connection(site, gw.id, lng.id, PSK)
    assert busy.value.permanent is False
    assert busy.value.code == "AnotherOperationInProgress"

    with pytest.raises(ClientError) as busy_delete:
        azure.delete_gateway(site)
    assert busy_delete.value.permanent is False


def test_an_existing_gateway_subnet_with_another_prefix_is_a_permanent_conflict(
    sandbox, azure, site
):
    azure.ensure_gateway_subnet(replace(site, gateway_subnet_prefix="172.16.19.0/27"))
    with pytest.raises(ClientError) as err:
        azure.ensure_gateway_subnet(site)
    assert err.value.permanent is True
    assert "172.16.19.0/27" in err.value.message and "172.16.19.224/27" in err.value.message


def test_a_public_ip_with_our_name_but_basic_sku_is_a_permanent_conflict(sandbox, azure, site):
    azure._sdk.public_ip_addresses.begin_create_or_update(
        site.resource_group, site.public_ip_names[0], {"location": site.location}
    ).result()
    with pytest.raises(ClientError) as err:
        azure.ensure_public_ips(site)
    assert err.value.permanent is True
    assert "Basic" in err.value.message and "Standard" in err.value.message


def test_a_gateway_of_another_sku_family_is_a_permanent_conflict(sandbox, azure, site):
    provision(azure, site)
    subnet = azure.get_gateway_subnet(site)
    pips = azure.ensure_public_ips(site)
    with pytest.raises(ClientError) as err:
        azure.start_gateway(replace(site, sku="VpnGw1"), subnet.id, [p.id for p in pips])
    assert err.value.permanent is True and "VpnGw1AZ" in err.value.message


# ------------------------------------------------------------------ validation answered like Azure


def test_it_refuses_a_reserved_asn_with_azures_message(sandbox, azure, site):
    with pytest.raises(ClientError) as err:
        azure.ensure_local_gateway(replace(site, onprem_asn=65515))
    assert err.value.permanent is True
    assert err.value.code == "BgpAsnReserved" and err.value.status == 400
    assert "65515" in err.value.message and "reserved" in err.value.message
    assert by_type(sandbox, "localNetworkGateways", site.resource_group) == []


def test_it_refuses_a_gcm_policy_with_a_mismatched_integrity(sandbox, azure, site):
    _, _, lng, gw, _ = provision(azure, site)
    bad = replace(site, policy=IpsecPolicy(ipsec_integrity="SHA256"))
    with pytest.raises(ClientError) as err:
        azure.ensure_connection(bad, gw.id, lng.id, PSK)
    assert err.value.permanent is True and "GCMAES" in err.value.message


def test_it_refuses_a_shared_key_with_a_hyphen_without_repeating_the_key(sandbox, azure, site):
    provision(azure, site)
    secret = "has-a-hyphen-Secret99"
    with pytest.raises(ClientError) as err:
        azure.set_shared_key(site, secret)
    assert err.value.permanent is True and err.value.code == "InvalidSharedKey"
    assert secret not in err.value.message and "hyphen" in err.value.message


def test_it_refuses_a_too_small_gateway_subnet_for_a_vpngw_sku(sandbox, azure, site):
    small = replace(site, gateway_subnet_prefix="172.16.19.248/29")
    subnet = azure.ensure_gateway_subnet(small)
    pips = azure.ensure_public_ips(small)
    with pytest.raises(ClientError) as err:
        azure.start_gateway(small, subnet.id, [p.id for p in pips])
    assert err.value.permanent is True and "/27" in err.value.message


def test_a_missing_vnet_is_a_permanent_error_that_names_it(azure, site):
    with pytest.raises(ClientError) as err:
        azure.get_vnet(site.resource_group, "no-such-vnet")
    assert err.value.permanent is True and "no-such-vnet" in err.value.message


# ------------------------------------------------------------------ transient faults


def test_throttling_and_server_errors_are_absorbed_by_retries(sandbox, site):
    client = client_for(sandbox)
    sandbox.faults.rate_429 = 0.1
    sandbox.faults.rate_500 = 0.1
    sandbox.reset_calls()
    try:
        for _attempt in range(20):  # what a Celery step does: transient -> try again
            try:
                provision(client, site)
                break
            except ClientError as err:
                assert err.permanent is False, err.message
    finally:
        sandbox.faults.rate_429 = sandbox.faults.rate_500 = 0.0
    assert client.shared_key_matches(site, PSK)
    assert len(by_type(sandbox, "virtualNetworkGateways", site.resource_group)) == 1
    assert len(by_type(sandbox, "connections", site.resource_group)) == 1


def test_a_server_that_keeps_failing_gives_a_transient_error(sandbox, site):
    client = client_for(sandbox, retry_total=1)
    sandbox.faults.rate_500 = 1.0
    try:
        with pytest.raises(ClientError) as err:
            client.get_gateway(site)
    finally:
        sandbox.faults.rate_500 = 0.0
    assert err.value.permanent is False and err.value.status == 500
    assert "InternalServerError" in err.value.message


def test_throttling_that_persists_gives_a_transient_error(sandbox, site):
    client = client_for(sandbox, retry_total=1)
    sandbox.faults.rate_429 = 1.0
    try:
        with pytest.raises(ClientError) as err:
            client.ensure_gateway_subnet(site)
    finally:
        sandbox.faults.rate_429 = 0.0
    assert err.value.permanent is False and err.value.status == 429


def test_dropped_connections_are_transient(sandbox, site):
    client = client_for(sandbox, retry_total=1)
    sandbox.faults.rate_drop = 1.0
    try:
        with pytest.raises(ClientError) as err:
            client.get_gateway(site)
    finally:
        sandbox.faults.rate_drop = 0.0
    assert err.value.permanent is False


# ------------------------------------------------------------------ transport and auth


def test_bearer_tokens_are_never_sent_over_plain_http(sandbox):
    insecure = AzureVpnClient(
        _StaticToken(),
        sandbox.subscription_id,
        base_url=sandbox.base_url.replace("https", "http"),
        retry_total=0,
    )
    sandbox.reset_calls()
    with pytest.raises(ClientError) as err:
        insecure.list_vnets()
    assert err.value.permanent is True and "https" in err.value.message
    assert sandbox.calls == []


def test_a_request_without_a_token_is_refused_permanently(sandbox):
    anonymous = client_for(sandbox, authentication_policy=SansIOHTTPPolicy())
    with pytest.raises(ClientError) as err:
        anonymous.list_vnets()
    assert err.value.permanent is True and err.value.status == 401


def test_a_missing_permission_is_permanent_and_names_the_action_in_plain_words(sandbox, azure):
    from s2svpn.azure_role import role_definition

    intent = seed_site(sandbox)
    role = role_definition(sandbox.subscription_id, intent.resource_group)
    write = "Microsoft.Network/localNetworkGateways/write"
    role["Actions"] = [a for a in role["Actions"] if a != write]
    sandbox.enforce_role(role)
    try:
        with pytest.raises(ClientError) as err:
            azure.ensure_local_gateway(intent)
    finally:
        sandbox.enforce_role(None)
    scope = (
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{intent.resource_group}"
        f"/providers/Microsoft.Network/localNetworkGateways/{intent.lng_name}"
    )
    assert err.value.permanent is True and err.value.code == "AuthorizationFailed"
    assert err.value.message == (
        f"Azure refused saving the local network gateway: the service principal lacks "
        f"permission '{write}' on {scope}. Add it to the s2svpn role (see the site step)."
    )


# ------------------------------------------------------------------ modes and reads


def test_apipa_mode_uses_the_custom_bgp_addresses_on_both_resources(sandbox, azure):
    intent = seed_site(
        sandbox,
        bgp_mode="apipa",
        azure_apipa_ip="169.254.21.2",
        onprem_apipa_ip="169.254.21.1",
        onprem_bgp_ip="169.254.21.1",
    )
    _, _, lng, gw, conn = provision(azure, intent)
    assert gw.custom_bgp_ips == ("169.254.21.2",) and gw.default_bgp_ips == ("172.16.19.254",)
    assert lng.bgp_peering_address == "169.254.21.1"
    assert conn.custom_bgp_ips == ((gw.id + "/ipConfigurations/default", "169.254.21.2"),)
    (peer,) = azure.bgp_peer_status(intent)
    assert (peer.local_address, peer.neighbor, peer.asn) == ("169.254.21.2", "169.254.21.1", 65010)
    assert provision(azure, intent)[4].action == "unchanged"


def test_active_active_gets_two_public_ips_and_one_address_per_instance_at_the_bottom(
    sandbox, azure
):
    # Azure's own example: GatewaySubnet 10.12.255.0/27 -> BgpPeeringAddress 10.12.255.4,10.12.255.5
    intent = seed_site(sandbox, active_active=True)
    _, pips, _, gw, _ = provision(azure, intent)
    assert len(pips) == 2 and len({p.ip_address for p in pips}) == 2
    assert gw.active_active is True
    assert gw.default_bgp_ips == ("172.16.19.228", "172.16.19.229")
    assert [i.tunnel_ips for i in gw.instances] == [(p.ip_address,) for p in pips]
    assert [i.ip_configuration_id.rsplit("/", 1)[1] for i in gw.instances] == [
        "default",
        "activeActive",
    ]
    peers = azure.bgp_peer_status(intent)
    assert sorted(p.local_address for p in peers) == ["172.16.19.228", "172.16.19.229"]
    assert {p.neighbor for p in peers} == {"10.0.0.1"}


def test_active_active_apipa_gives_each_instance_its_own_custom_address(sandbox, azure):
    intent = seed_site(
        sandbox,
        active_active=True,
        bgp_mode="apipa",
        azure_apipa_ip="169.254.21.2",
        onprem_apipa_ip="169.254.21.1",
        onprem_bgp_ip="169.254.21.1",
    )
    _, _, _, gw, conn = provision(azure, intent)
    assert [i.custom_bgp_ips for i in gw.instances] == [("169.254.21.2",), ("169.254.21.6",)]
    assert conn.custom_bgp_ips == (
        (gw.id + "/ipConfigurations/default", "169.254.21.2"),
        (gw.id + "/ipConfigurations/activeActive", "169.254.21.6"),
    )
    peers = azure.bgp_peer_status(intent)
    assert sorted(p.local_address for p in peers) == ["169.254.21.2", "169.254.21.6"]
    assert provision(azure, intent)[4].action == "unchanged"


def test_read_status_normalises_azure_words_and_reads_bgp_and_routes(sandbox, azure, site):
    provision(azure, site)
    status = azure.read_status(site)
    assert status.error == ""
    assert status.tunnel == TunnelState.DOWN  # no pfSense: NotConnected
    (peer,) = status.bgp_peers
    assert (peer.neighbor, peer.asn, peer.state) == ("10.0.0.1", 65010, BgpState.CONNECT)
    assert ("172.16.0.0/16", "Network") in {(r.prefix, r.origin) for r in status.learned_routes}
    assert [r.prefix for r in status.advertised_routes] == ["172.16.0.0/16"]
    assert status.bytes_in == 0 and status.bytes_out == 0


def test_read_status_reports_a_missing_connection_as_an_error_not_as_down(azure, site):
    status = azure.read_status(site)
    assert status.tunnel == TunnelState.UNKNOWN
    assert site.connection_name in status.error


def test_read_status_reports_an_unreachable_azure_as_an_error(sandbox, site):
    client = client_for(sandbox, retry_total=0)
    sandbox.faults.rate_500 = 1.0
    try:
        status = client.read_status(site)
    finally:
        sandbox.faults.rate_500 = 0.0
    assert status.tunnel == TunnelState.UNKNOWN and "InternalServerError" in status.error


def test_list_vnets_follows_next_links(sandbox, azure, site):
    for n in range(4):
        sandbox.seed_vnet(site.resource_group, f"extra-{n}", "westeurope", [f"10.{n}.0.0/16"])
    sandbox.reset_calls()
    names = {v.name for v in azure.list_vnets(site.resource_group)}
    assert names == {"vnet-hub", "extra-0", "extra-1", "extra-2", "extra-3"}
    assert len(sandbox.calls) == 3  # pages of two
    assert names <= {v.name for v in azure.list_vnets()}  # the subscription-wide list
    hub = azure.get_vnet(site.resource_group, "vnet-hub")
    assert (
        hub.address_prefixes == ("172.16.0.0/16",)
        and hub.subnet("workload").address_prefix == "172.16.20.0/24"
    )


def test_reset_gateway_bumps_the_reset_counter_the_world_sees(tmp_path):
    world = World()
    with ArmSandbox(tmp_path, profile="fast", world=world) as sb:
        intent = seed_site(sb)
        client = client_for(sb)
        _, pips, _, _, conn = provision(client, intent)
        end = world.azure[conn.id]
        assert end.psk == PSK and end.gateway_public_ips == (pips[0].ip_address,)
        assert end.azure_bgp_ips == ("172.16.19.254",) and end.lng_fqdn == "home-s2s.example.net"
        assert end.lng_ip == "203.0.113.2" and end.connection_mode == "ResponderOnly"
        assert end.policy == intent.policy and end.advertised_prefixes == ("172.16.0.0/16",)
        client.reset_gateway(intent, wait=True)
        assert world.azure[conn.id].reset_counter == end.reset_counter + 1
        client.delete_connection(intent, wait=True)
        assert conn.id not in world.azure


# ------------------------------------------------------------------ teardown and restart


def test_teardown_is_idempotent_and_leaves_only_the_customers_vnet(sandbox, azure, site):
    provision(azure, site)
    steps = [
        azure.delete_connection,
        azure.delete_local_gateway,
        azure.delete_gateway,
        azure.delete_public_ips,
        azure.delete_gateway_subnet,
    ]
    assert [step(site) for step in steps] == ["deleted"] * 5
    assert [step(site) for step in steps] == ["gone"] * 5
    left = {
        r["name"]
        for r in sandbox.resources()
        if f"/resourceGroups/{site.resource_group}/" in r["id"]
    }
    assert left == {"vnet-hub", "workload"}


def test_the_three_bgp_reads_run_side_by_side_and_agree_with_the_one_by_one_reads(
    sandbox, azure, site
):
    provision(azure, site)
    one_by_one = (
        azure.bgp_peer_status(site),
        azure.learned_routes(site),
        azure.advertised_routes(site, "10.0.0.1"),
    )
    sandbox.timing.other_seconds = 0.3
    sandbox.calls.clear()
    together = azure.read_bgp(site, timeout=30)
    assert (together["peers"], together["learned"], together["advertised"]) == one_by_one
    posts = [i for i, (m, p) in enumerate(sandbox.calls) if m == "POST"]
    polls = [i for i, (m, p) in enumerate(sandbox.calls) if m == "GET"]
    assert len(posts) == 3 and polls, sandbox.calls
    assert max(posts) < min(polls), "all three reads were started before any was polled"


def test_a_bgp_read_azure_does_not_finish_in_time_is_a_transient_error(sandbox, azure, site):
    provision(azure, site)
    sandbox.timing.other_seconds = 3600
    with pytest.raises(ClientError) as err:
        azure.read_bgp(site, timeout=0.5)
    assert err.value.permanent is False and "BGP state in time" in err.value.message


def test_deleting_does_not_wait_and_reports_deleting_until_gone(sandbox, azure, site):
    provision(azure, site)
    sandbox.timing.other_seconds = 3600
    assert azure.delete_connection(site) == "deleting"
    assert azure.delete_connection(site) == "deleting"
    with pytest.raises(ClientError) as err:  # Azure refuses: the connection still uses it
        azure.delete_local_gateway(site)
    assert (
        err.value.permanent is True
        and "InUseLocalNetworkGatewayCannotBeDeleted" in err.value.message
    )


def test_the_sandbox_state_survives_a_restart(tmp_path):
    first = ArmSandbox(tmp_path, profile="fast")
    first.start()
    intent = seed_site(first)
    client = client_for(first)
    subnet = client.ensure_gateway_subnet(intent)
    (pip,) = client.ensure_public_ips(intent)
    first.timing.gateway_seconds = 3600
    gw = client.start_gateway(intent, subnet.id, [pip.id])
    first.stop()

    second = ArmSandbox(tmp_path, profile="fast")
    second.start()
    try:
        again = client_for(second)
        assert again.ensure_gateway_subnet(intent).action == "unchanged"
        (same_pip,) = again.ensure_public_ips(intent)
        assert (same_pip.action, same_pip.ip_address) == ("unchanged", pip.ip_address)
        still = again.get_gateway(intent)
        assert (still.id, still.provisioning_state) == (
            gw.id,
            "Updating",
        )  # started 3600 s ago? not yet
        assert second.ca_file.read_bytes() == first.ca_file.read_bytes()
    finally:
        second.stop()


def test_a_slow_answer_beyond_the_timeout_is_transient(sandbox, site):
    client = client_for(sandbox, timeout=0.3, retry_total=0)
    sandbox.faults.rate_slow, sandbox.faults.slow_seconds = 1.0, 1.0
    try:
        with pytest.raises(ClientError) as err:
            client.get_gateway(site)
    finally:
        sandbox.faults.rate_slow = 0.0
    assert err.value.permanent is False


class ConnectedWorld(World):
    """The other end, reduced to its answer: the tunnel and BGP are up, pfSense sends two prefixes."""

    def view(self):
        return [
            TunnelView(
                azure_key=key,
                pfsense_key="fw1",
                ike_up=True,
                child_up=True,
                bgp_azure_state="Connected",
                bgp_pfsense_state="Established",
                azure_learned=("10.0.0.0/24", "192.168.2.0/24"),
            )
            for key in self.azure
        ]


def test_a_connected_tunnel_reads_as_up_with_growing_counters_and_learned_routes(tmp_path):
    with ArmSandbox(tmp_path, profile="fast", world=ConnectedWorld()) as sb:
        intent = seed_site(sb)
        client = client_for(sb)
        provision(client, intent)
        t0 = sb.clock()
        sb.clock = lambda: t0
        first = client.read_status(intent)
        sb.clock = lambda: t0 + 100
        later = client.read_status(intent)

    assert first.tunnel == TunnelState.UP and first.error == ""
    assert later.bytes_in > first.bytes_in and later.bytes_out > first.bytes_out
    (peer,) = later.bgp_peers
    assert (peer.state, peer.prefixes_received, peer.uptime_seconds) == (
        BgpState.ESTABLISHED,
        2,
        100,
    )
    learned = {(r.prefix, r.origin, r.as_path, r.next_hop) for r in later.learned_routes}
    assert ("10.0.0.0/24", "EBgp", "65010", "10.0.0.1") in learned
    assert ("192.168.2.0/24", "EBgp", "65010", "10.0.0.1") in learned


def test_the_real_credential_constructors_need_no_network_until_used():
    sp = AzureVpnClient.from_service_principal(
        "tenant-id", "client-id", "very-secret", "sub-id", timeout=5
    )
    default = AzureVpnClient.from_default_credential("sub-id")
    assert (sp.subscription_id, sp.timeout, default.subscription_id) == ("sub-id", 5, "sub-id")
    assert "very-secret" not in repr(sp.__dict__)
