"""One gateway, several homes: what an adopting site must agree with, who else uses a gateway."""

from __future__ import annotations

from s2svpn.clients.azure.models import Connection, Gateway
from s2svpn.gateway_share import adoption_conflicts, kept_message, other_connections
from s2svpn.intent import SiteIntent

GW = Gateway(
    id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworkGateways/gw",
    name="gw",
    provisioning_state="Succeeded",
    gateway_type="Vpn",
    vpn_type="RouteBased",
    sku="VpnGw1AZ",
    enable_bgp=True,
    asn=65515,
    custom_bgp_ips=("169.254.21.2",),
)
SITE = SiteIntent(slug="branch", existing_gateway="gw")


def conn(name: str, state: str = "Succeeded") -> Connection:
    return Connection(id=f"/x/{name}", name=name, provisioning_state=state)


def test_a_site_that_follows_the_gateway_has_no_conflict():
    assert adoption_conflicts(GW, SITE) == []
    apipa = SiteIntent(
        slug="b", existing_gateway="gw", bgp_mode="apipa", azure_apipa_ip="169.254.21.2"
    )
    assert adoption_conflicts(GW, apipa) == []


def test_it_refuses_a_gateway_with_bgp_off_and_names_the_fix():
    from dataclasses import replace

    [message] = adoption_conflicts(replace(GW, enable_bgp=False), SITE)
    assert message.startswith("gw has BGP switched off") and "choose another VNet" in message


def test_it_refuses_an_apipa_address_the_gateway_does_not_have():
    site = SiteIntent(
        slug="b", existing_gateway="gw", bgp_mode="apipa", azure_apipa_ip="169.254.21.6"
    )
    [message] = adoption_conflicts(GW, site)
    assert "169.254.21.6 is not configured on gw (choose one of 169.254.21.2)" in message


def test_other_connections_leave_out_the_sites_own_and_those_being_deleted():
    found = [conn("s2svpn-branch-conn"), conn("users-own"), conn("going", "Deleting")]
    assert other_connections(found, SITE) == ["users-own"]


def test_the_kept_message_names_the_users():
    assert (
        kept_message("VPN gateway", "gw", ["a"])
        == "VPN gateway gw kept: still used by connection a"
    )
    assert kept_message("GatewaySubnet", "gw", ["a", "b"]) == (
        "GatewaySubnet kept: VPN gateway gw still uses it (connection a, b)"
    )
