"""Every wizard step refuses what cannot work, with a message next to the field that says what is
wrong and how to fix it; valid answers are kept and lead to the next step."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from tests.wizard.conftest import PSK, step_url
from wizard.models import AzureAuth, Site, SiteStatus

pytestmark = pytest.mark.django_db

SITE_OK = {
    "name": "Home lab",
    "slug": "home",
    "azure_auth": "service_principal",
    "tenant_id": "11111111-2222-3333-4444-555555555555",
    "client_id": "66666666-7777-8888-9999-000000000000",
    "client_secret": "sp-secret-value",
    "subscription_id": "00000000-0000-0000-0000-0000000000aa",
    "resource_group": "rg-home-s2s",
    "location": "westeurope",
    "pfsense_url": "https://127.0.0.1:9",
    "pfsense_api_key": "pf-key",
    "pfsense_tls": "fingerprint",
    "pfsense_fingerprint": ":".join(["AB"] * 32),
}
VNET_OK = {"vnet_name": "vnet-hub", "gateway_subnet_prefix": "172.16.19.224/27"}
GATEWAY_OK = {"sku": "VpnGw1AZ", "generation": "Generation1", "azure_asn": "65515"}
LNG_OK = {
    "endpoint": "fqdn",
    "onprem_fqdn": "home-s2s.example.net",
    "onprem_asn": "65010",
    "bgp_mode": "azure_default",
    "onprem_bgp_ip": "10.0.0.1",
}
CONNECTION_OK = {
    "psk_choice": "keep",
    "connection_mode": "ResponderOnly",
    "preset": "gcm-modp2048",
    "dpd_timeout_seconds": "45",
}
PFSENSE_OK = {
    "wan_interface": "wan",
    "lan_prefixes": "10.0.0.0/24\n192.168.2.0/24",
    "firewall_scope": "vnet",
    "vti_descr": "AZUREVTI",
}
NAT_OK = {"behind_nat": "on"}


def field_message(html: str, field: str) -> str:
    """The text of the feedback element next to ``field`` (what a screen reader announces)."""
    match = re.search(rf'<div class="feedback" id="fb-{field}"[^>]*>(.*?)</div>', html, re.S)
    assert match, f"no feedback element for {field}"
    return re.sub(r"<[^>]+>", " ", match.group(1)).replace("&#x27;", "'").strip()


def post(client, url, data):
    return client.post(url, data)


# --------------------------------------------------------------------------- step 0: site


def test_a_new_site_is_created_as_a_draft_and_the_wizard_moves_to_the_vnet(alice):
    response = alice.post(reverse("wizard:new"), SITE_OK)
    site = Site.objects.get(slug="home")
    assert response.status_code == 302
    assert response["Location"] == step_url(site, "vnet")
    assert site.status == SiteStatus.DRAFT
    assert site.wizard_step == "vnet"
    assert site.client_secret == "sp-secret-value"
    assert site.pfsense_fingerprint == "ab" * 32


def test_every_input_of_the_site_step_has_a_label_and_describes_its_message(alice):
    html = alice.get(reverse("wizard:new")).content.decode()
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html)
    assert ids
    for ident in ids:
        if ident.startswith("psk-value"):
            continue
        assert f'for="{ident}"' in html, f"input {ident} has no <label>"
    assert 'aria-describedby="help-subscription_id fb-subscription_id"' in html


def test_it_refuses_a_subscription_id_that_is_not_a_guid(alice):
    response = alice.post(reverse("wizard:new"), {**SITE_OK, "subscription_id": "my-sub"})
    assert "is not a subscription ID; copy the GUID" in field_message(
        response.content.decode(), "subscription_id"
    )
    assert not Site.objects.exists()


def test_it_refuses_a_pfsense_url_without_https(alice):
    response = alice.post(reverse("wizard:new"), {**SITE_OK, "pfsense_url": "http://192.0.2.10"})
    assert "must start with https://" in field_message(response.content.decode(), "pfsense_url")


def test_it_refuses_a_short_fingerprint(alice):
    response = alice.post(reverse("wizard:new"), {**SITE_OK, "pfsense_fingerprint": "AB:CD"})
    message = field_message(response.content.decode(), "pfsense_fingerprint")
    assert "64 hexadecimal digits" in message and "this has 4 characters" in message


def test_it_refuses_a_ca_choice_without_a_certificate(alice):
    data = {**SITE_OK, "pfsense_tls": "ca", "pfsense_ca_bundle": "not a pem"}
    response = alice.post(reverse("wizard:new"), data)
    assert "This is not a PEM certificate" in field_message(
        response.content.decode(), "pfsense_ca_bundle"
    )


def test_a_service_principal_needs_tenant_client_and_secret(alice):
    data = {**SITE_OK, "tenant_id": "", "client_id": "nope", "client_secret": ""}
    html = alice.post(reverse("wizard:new"), data).content.decode()
    assert "needs its tenant ID" in field_message(html, "tenant_id")
    assert "is not a client ID" in field_message(html, "client_id")
    assert "needs its client secret" in field_message(html, "client_secret")


def test_it_refuses_a_slug_with_capitals_and_a_taken_slug(alice, draft):
    html = alice.post(reverse("wizard:new"), {**SITE_OK, "slug": "Home_Lab"}).content.decode()
    assert "write 'home-lab'" in field_message(html, "slug")
    html = alice.post(reverse("wizard:new"), SITE_OK).content.decode()
    assert "already exists" in field_message(html, "slug")


def test_stored_secrets_are_never_rendered_and_an_empty_box_keeps_them(alice, draft):
    html = alice.get(step_url(draft, "site")).content.decode()
    assert "sp-secret-value-not-to-be-shown" not in html
    assert "pfsense-api-key-not-to-be-shown" not in html
    data = {**SITE_OK, "client_secret": "", "pfsense_api_key": ""}
    response = alice.post(step_url(draft, "site"), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.client_secret == "sp-secret-value-not-to-be-shown"
    assert draft.pfsense_api_key == "pfsense-api-key-not-to-be-shown"


def test_use_the_sandbox_fills_both_ends_from_connection_json(alice, settings, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    settings.S2SVPN_SANDBOX_DIR = tmp_path
    (tmp_path / "connection.json").write_text(
        json.dumps(
            {
                "arm_base_url": "https://127.0.0.1:8443",
                "subscription_id": "00000000-0000-0000-0000-000000000001",
                "ca_file": str(ca),
                "pfsense_url": "https://127.0.0.1:8444",
                "pfsense_api_key": "sandbox-key",
                "pfsense_ca_file": str(ca),
                "resource_group": "rg-home-s2s",
                "vnet_name": "vnet-hub",
                "location": "westeurope",
            }
        )
    )
    response = alice.post(reverse("wizard:new"), {"action": "sandbox", "name": "", "slug": ""})
    site = Site.objects.get()
    assert response["Location"] == step_url(site, "site")
    assert site.sandbox and site.azure_auth == AzureAuth.SANDBOX
    assert site.arm_base_url == "https://127.0.0.1:8443"
    assert site.arm_ca_bundle.startswith("-----BEGIN CERTIFICATE-----")
    assert site.pfsense_api_key == "sandbox-key"
    assert site.vnet_name == "vnet-hub"
    page = alice.get(response["Location"]).content.decode()
    assert "sandbox-key" not in page
    assert 'class="badge sandbox"' in page
    list_page = alice.get("/").content.decode()
    assert "sandbox" in list_page


def test_use_the_sandbox_explains_how_to_start_it_when_it_is_not_running(alice, settings, tmp_path):
    settings.S2SVPN_SANDBOX_DIR = tmp_path
    response = alice.post(reverse("wizard:new"), {"action": "sandbox"}, follow=True)
    assert "The sandboxes are not running" in response.content.decode()
    assert not Site.objects.exists()


def test_live_validation_answers_only_the_field_that_changed(alice):
    response = alice.post(
        reverse("wizard:new_validate"),
        {**SITE_OK, "location": "West Europe!"},
        headers={"HX-Request": "true", "HX-Trigger-Name": "location"},
    )
    html = response.content.decode()
    assert html.startswith('<div class="feedback" id="fb-location"')
    assert "is not an Azure region name" in html


# --------------------------------------------------------------------------- step 1: VNet


def test_the_vnet_step_proposes_a_free_27_next_to_the_workload(alice, draft):
    draft.intent = {k: v for k, v in draft.intent.items() if k != "gateway_subnet_prefix"}
    draft.save()
    html = alice.get(step_url(draft, "vnet")).content.decode()
    assert 'value="172.16.19.224/27"' in html
    assert "172.16.20.0/24" in html  # the subnets of the VNet are shown


def test_it_refuses_a_28_gateway_subnet(alice, draft):
    data = {**VNET_OK, "gateway_subnet_prefix": "172.16.19.240/28"}
    html = alice.post(step_url(draft, "vnet"), data).content.decode()
    message = field_message(html, "gateway_subnet_prefix")
    assert "is a /28" in message and "Use a /27 such as 172.16.19.224/27" in message


def test_it_refuses_a_gateway_subnet_outside_the_vnet_or_on_a_subnet(alice, draft):
    html = alice.post(
        step_url(draft, "vnet"), {**VNET_OK, "gateway_subnet_prefix": "10.9.0.0/27"}
    ).content.decode()
    assert "is not inside the VNet address space" in field_message(html, "gateway_subnet_prefix")
    html = alice.post(
        step_url(draft, "vnet"), {**VNET_OK, "gateway_subnet_prefix": "172.16.20.0/27"}
    ).content.decode()
    assert "overlaps the existing subnet 'workload'" in field_message(html, "gateway_subnet_prefix")


def test_an_existing_gateway_subnet_is_reused(alice, draft):
    data = {"vnet_name": "vnet-spoke", "gateway_subnet_prefix": "10.50.255.224/27"}
    response = alice.post(step_url(draft, "vnet"), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.vnet_name == "vnet-spoke"
    assert draft.intent["vnet_prefixes"] == ["10.50.0.0/16"]
    html = alice.post(
        reverse("wizard:validate", args=[draft.slug, "vnet"]),
        data,
        headers={"HX-Request": "true", "HX-Trigger-Name": "gateway_subnet_prefix"},
    ).content.decode()
    assert "The existing GatewaySubnet 10.50.255.224/27 will be reused." in html


def test_a_valid_vnet_answer_is_stored_and_leads_to_the_gateway(alice, draft):
    response = alice.post(step_url(draft, "vnet"), VNET_OK)
    assert response["Location"] == step_url(draft, "gateway")
    draft.refresh_from_db()
    assert draft.intent["gateway_subnet_prefix"] == "172.16.19.224/27"
    assert draft.intent["vnet_prefixes"] == ["172.16.0.0/16"]


# --------------------------------------------------------------------------- step 2: gateway


def test_the_gateway_step_shows_throughput_tunnels_and_monthly_cost(alice, draft):
    html = alice.get(step_url(draft, "gateway")).content.decode()
    assert "VpnGw1AZ" in html and "650 Mbps" in html and "$142" in html
    assert "20–45+ minutes" in html
    assert 'value="Basic"' not in html  # no BGP: never offered


def test_it_refuses_a_generation_the_sku_does_not_have(alice, draft):
    data = {**GATEWAY_OK, "sku": "VpnGw4AZ", "generation": "Generation1"}
    html = alice.post(step_url(draft, "gateway"), data).content.decode()
    assert "VpnGw4AZ exists only in Generation2" in field_message(html, "generation")


def test_it_refuses_a_reserved_azure_asn(alice, draft):
    html = alice.post(
        step_url(draft, "gateway"), {**GATEWAY_OK, "azure_asn": "65518"}
    ).content.decode()
    assert "is reserved by Azure" in field_message(html, "azure_asn")


def test_it_refuses_an_azure_asn_equal_to_the_home_one(alice, draft):
    html = alice.post(
        step_url(draft, "gateway"), {**GATEWAY_OK, "azure_asn": "65010"}
    ).content.decode()
    assert "pfSense already uses ASN 65010" in field_message(html, "azure_asn")


# --------------------------------------------------------------------------- step 3: home end


def test_it_refuses_the_reserved_asn_65515_on_prem(alice, draft, dns):
    html = alice.post(step_url(draft, "lng"), {**LNG_OK, "onprem_asn": "65515"}).content.decode()
    message = field_message(html, "onprem_asn")
    assert "65515 is Azure's own default ASN" in message and "such as 65010" in message


def test_it_refuses_an_fqdn_with_two_a_records(alice, draft, dns):
    html = alice.post(
        step_url(draft, "lng"), {**LNG_OK, "onprem_fqdn": "two.example.net"}
    ).content.decode()
    message = field_message(html, "onprem_fqdn")
    assert "two.example.net" in message and "203.0.113.3" in message


def test_it_refuses_an_fqdn_that_does_not_exist_or_is_ipv6_only(alice, draft, dns):
    html = alice.post(
        step_url(draft, "lng"), {**LNG_OK, "onprem_fqdn": "nope.example.net"}
    ).content.decode()
    assert "does not exist (NXDOMAIN" in field_message(html, "onprem_fqdn")
    html = alice.post(
        step_url(draft, "lng"), {**LNG_OK, "onprem_fqdn": "v6only.example.net"}
    ).content.decode()
    assert "Azure does not support IPv6 endpoints" in field_message(html, "onprem_fqdn")


def test_the_live_dns_check_shows_the_address_and_its_ttl(alice, draft, dns):
    html = alice.post(
        reverse("wizard:validate", args=[draft.slug, "lng"]),
        LNG_OK,
        headers={"HX-Request": "true", "HX-Trigger-Name": "onprem_fqdn"},
    ).content.decode()
    assert "resolves to 203.0.113.2 (TTL 60 s)" in html
    # the transit /30 drawing is refreshed beside it, for both ends
    assert 'id="transit" hx-swap-oob="true"' in html
    assert "172.16.19.253/30" in html and "172.16.19.254" in html


def test_it_refuses_a_bgp_peer_ip_inside_the_vnet(alice, draft, dns):
    html = alice.post(
        step_url(draft, "lng"), {**LNG_OK, "onprem_bgp_ip": "172.16.20.5"}
    ).content.decode()
    assert "lies inside the VNet address space 172.16.0.0/16" in field_message(
        html, "onprem_bgp_ip"
    )


def test_it_refuses_a_private_static_public_ip(alice, draft, dns):
    data = {**LNG_OK, "endpoint": "ip", "onprem_public_ip": "192.168.178.20"}
    html = alice.post(step_url(draft, "lng"), data).content.decode()
    assert "is a private address Azure cannot reach" in field_message(html, "onprem_public_ip")


def test_apipa_mode_chooses_both_ends_of_the_30(alice, draft, dns):
    data = {**LNG_OK, "bgp_mode": "apipa", "onprem_bgp_ip": ""}
    response = alice.post(step_url(draft, "lng"), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.intent["onprem_apipa_ip"] == "169.254.21.1"
    assert draft.intent["azure_apipa_ip"] == "169.254.21.2"
    assert draft.intent["onprem_bgp_ip"] == "169.254.21.1"


def test_the_canonical_home_end_is_stored(alice, draft, dns):
    response = alice.post(step_url(draft, "lng"), LNG_OK)
    assert response["Location"] == step_url(draft, "connection")
    draft.refresh_from_db()
    assert draft.intent["onprem_fqdn"] == "home-s2s.example.net"
    assert draft.intent["onprem_public_ip"] == ""
    assert draft.intent["_wizard"]["dns"] == {"address": "203.0.113.2", "ttl": 60}


# --------------------------------------------------------------------------- step 4: connection


def test_it_refuses_a_psk_containing_a_tilde_without_echoing_it(alice, draft):
    typed = "Abcdefghijklmnop~qrstuvwxyz0123456789"
    data = {**CONNECTION_OK, "psk_choice": "type", "psk": typed}
    html = alice.post(step_url(draft, "connection"), data).content.decode()
    message = field_message(html, "psk")
    assert "contains a tilde (~) at position 17" in message
    assert "generate" in message
    assert typed not in html


def test_it_refuses_a_short_psk(alice, draft):
    data = {**CONNECTION_OK, "psk_choice": "type", "psk": "short"}
    html = alice.post(step_url(draft, "connection"), data).content.decode()
    assert "use at least 32" in field_message(html, "psk")


def test_a_generated_psk_is_shown_once_with_a_copy_button_then_never_again(alice, draft):
    response = alice.post(
        step_url(draft, "connection"), {**CONNECTION_OK, "psk_choice": "generate"}
    )
    draft.refresh_from_db()
    html = response.content.decode()
    assert response.status_code == 200
    assert str(draft.psk) != PSK and len(str(draft.psk)) >= 32
    assert f'value="{draft.psk}"' in html
    assert 'data-copy="#psk-value"' in html
    assert response["Cache-Control"] == "no-store"
    again = alice.get(step_url(draft, "connection")).content.decode()
    assert str(draft.psk) not in again
    assert "Keep the stored key (hidden)" in again


def test_a_custom_policy_with_gcm_encryption_needs_the_same_gcm_integrity(alice, draft):
    data = {
        **CONNECTION_OK,
        "preset": "custom",
        "ike_encryption": "AES256",
        "ike_integrity": "SHA256",
        "dh_group": "DHGroup14",
        "ipsec_encryption": "GCMAES256",
        "ipsec_integrity": "SHA256",
        "pfs_group": "PFS2048",
        "sa_lifetime_seconds": "27000",
        "sa_data_size_kilobytes": "102400000",
    }
    html = alice.post(step_url(draft, "connection"), data).content.decode()
    message = field_message(html, "ipsec_encryption")
    assert "Azure requires a GCM algorithm on both or neither" in message
    assert "set IPsec integrity to GCMAES256" in message


def test_the_custom_policy_offers_only_algorithms_both_ends_support(alice, draft):
    html = alice.get(step_url(draft, "connection")).content.decode()
    assert 'value="GCMAES256"' in html and 'value="ECP384"' in html
    for weak in ('value="DES"', 'value="DES3"', 'value="MD5"'):
        assert weak not in html


def test_it_refuses_a_dpd_timeout_outside_azures_range(alice, draft):
    html = alice.post(
        step_url(draft, "connection"), {**CONNECTION_OK, "dpd_timeout_seconds": "5"}
    ).content.decode()
    assert "outside Azure's 9-3600 s" in field_message(html, "dpd_timeout_seconds")


def test_connection_modes_come_with_one_line_explanations(alice, draft):
    html = alice.get(step_url(draft, "connection")).content.decode()
    assert "ResponderOnly (recommended behind NAT)" in html
    assert "no port forward is needed" in html


# --------------------------------------------------------------------------- step 5: pfSense


def test_it_refuses_lan_prefixes_overlapping_the_vnet(alice, draft):
    data = {**PFSENSE_OK, "lan_prefixes": "10.0.0.0/24\n172.16.5.0/24"}
    html = alice.post(step_url(draft, "pfsense"), data).content.decode()
    message = field_message(html, "lan_prefixes")
    assert "172.16.5.0/24 overlaps the VNet address space 172.16.0.0/16" in message
    assert "Renumber" in message


def test_it_refuses_no_lan_prefixes_and_a_bad_interface_name(alice, draft):
    data = {**PFSENSE_OK, "lan_prefixes": " ", "vti_descr": "Azure VTI!"}
    html = alice.post(step_url(draft, "pfsense"), data).content.decode()
    assert "Azure learns no route home" in field_message(html, "lan_prefixes")
    assert "cannot name a pfSense interface" in field_message(html, "vti_descr")


def test_it_asks_to_install_frr_when_the_firewall_lacks_it(alice, draft):
    draft.intent["_wizard"]["pfsense"]["frr_installed"] = False
    draft.save()
    html = alice.post(step_url(draft, "pfsense"), PFSENSE_OK).content.decode()
    assert "The FRR package is not installed" in field_message(html, "install_frr")
    response = alice.post(step_url(draft, "pfsense"), {**PFSENSE_OK, "install_frr": "on"})
    assert response.status_code == 302


def test_the_wan_interface_is_picked_from_the_firewalls_interfaces(alice, draft):
    html = alice.get(step_url(draft, "pfsense")).content.decode()
    assert '<select name="wan_interface"' in html and '<option value="lan">' in html


# --------------------------------------------------------------------------- step 6: NAT router


def test_initiator_only_behind_nat_needs_forwarded_ports(alice, draft):
    draft.intent["connection_mode"] = "InitiatorOnly"
    draft.save()
    html = alice.post(step_url(draft, "nat"), NAT_OK).content.decode()
    message = field_message(html, "ports_forwarded")
    assert "Azure can never reach it" in message and "ResponderOnly" in message


def test_the_nat_step_says_nothing_needs_forwarding_for_responder_only(alice, draft):
    html = alice.get(step_url(draft, "nat")).content.decode()
    assert "Nothing to forward" in html and "FRITZ!Box" in html


# --------------------------------------------------------------------------- navigation


def test_back_and_forward_keep_the_answers(alice, draft, dns):
    alice.post(step_url(draft, "lng"), {**LNG_OK, "onprem_asn": "65020"})
    html = alice.get(step_url(draft, "lng")).content.decode()
    assert 'value="65020"' in html
    assert f'href="{step_url(draft, "gateway")}"' in html  # Back
    html = alice.get(step_url(draft, "gateway")).content.decode()
    assert 'value="VpnGw1AZ"' in html and "checked" in html


def test_a_later_step_is_not_reachable_before_the_earlier_ones(alice, draft):
    draft.wizard_step = "gateway"
    draft.save()
    response = alice.get(step_url(draft, "pfsense"))
    assert response["Location"] == step_url(draft, "gateway")


def test_the_whole_wizard_with_posts_only_ends_in_a_complete_review(alice, dns, settings):
    alice.post(reverse("wizard:new"), SITE_OK)
    site = Site.objects.get(slug="home")
    from tests.wizard.conftest import VNETS

    site.intent = {"_wizard": {"vnets": VNETS, "pfsense": {"frr_installed": True}}}
    site.save()
    for step, data in (
        ("vnet", VNET_OK),
        ("gateway", GATEWAY_OK),
        ("lng", LNG_OK),
        ("connection", {**CONNECTION_OK, "psk_choice": "type", "psk": PSK}),
        ("pfsense", PFSENSE_OK),
        ("nat", NAT_OK),
    ):
        response = alice.post(step_url(site, step), data)
        assert response.status_code == 302, (step, response.content.decode()[:3000])
    site.refresh_from_db()
    assert site.wizard_step == "review"
    html = alice.get(step_url(site, "review")).content.decode()
    assert "Fix these first" not in html
    assert 'id="launch"' in html and "disabled" not in html.split('id="launch"')[1][:20]
    from s2svpn.intent import SiteIntent

    expected = SiteIntent(slug="home")
    assert site.get_intent() == expected


def test_a_site_asks_its_own_nameservers_so_the_sandbox_dns_answers_its_names(
    alice, draft, settings
):
    from s2svpn.sandbox.dns import SandboxDns
    from s2svpn.sandbox.world import World
    from tests.domain.dnsserver import LocalDns

    world = World()
    sandbox_dns = SandboxDns(world)
    with LocalDns() as empty:
        empty.start({})
        settings.S2SVPN_DNS_SERVERS = [empty.address]  # the "real" DNS knows no such name
        draft.dns_servers = sandbox_dns.start()  # what "Use the sandbox" fills in
        draft.save()
        try:
            live = alice.post(
                reverse("wizard:validate", args=[draft.slug, "lng"]),
                LNG_OK,
                headers={"HX-Request": "true", "HX-Trigger-Name": "onprem_fqdn"},
            ).content.decode()
            assert "resolves to 203.0.113.2" in live
            assert alice.post(step_url(draft, "lng"), LNG_OK).status_code == 302
            world.dns["home-s2s.example.net"] = "203.0.113.77"  # a DDNS update in the sandbox
            assert alice.post(step_url(draft, "lng"), LNG_OK).status_code == 302
            draft.refresh_from_db()
            assert draft.intent["_wizard"]["dns"]["address"] == "203.0.113.77"
        finally:
            sandbox_dns.stop()
        draft.dns_servers = ""  # back to S2SVPN_DNS_SERVERS: the name is unknown there
        draft.save()
        html = alice.post(step_url(draft, "lng"), LNG_OK).content.decode()
        assert "does not exist (NXDOMAIN" in field_message(html, "onprem_fqdn")


def test_the_slug_of_a_provisioned_site_cannot_change(alice, draft):
    draft.status = SiteStatus.ACTIVE
    draft.save()
    response = alice.post(step_url(draft, "site"), {**SITE_OK, "slug": "renamed"})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.slug == "home"


def test_the_pfsense_step_offers_the_fix_for_the_firewalls_own_traffic(alice, draft):
    html = alice.get(step_url(draft, "pfsense")).content.decode()
    assert "Source it from the LAN address" in html and "Switch this site to APIPA" in html
    response = alice.post(step_url(draft, "pfsense"), {**PFSENSE_OK, "self_traffic": "lan_source"})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.get_intent().self_traffic == "lan_source"
    assert draft.get_intent().bgp_mode == "azure_default"


def test_choosing_apipa_for_the_firewalls_own_traffic_switches_the_bgp_mode(alice, draft):
    response = alice.post(step_url(draft, "pfsense"), {**PFSENSE_OK, "self_traffic": "apipa"})
    assert response.status_code == 302
    draft.refresh_from_db()
    intent = draft.get_intent()
    assert (intent.bgp_mode, intent.self_traffic) == ("apipa", "explain")
    assert intent.onprem_bgp_ip == intent.onprem_apipa_ip == "169.254.21.1"
    assert intent.azure_apipa_ip == "169.254.21.2"
    html = alice.get(step_url(draft, "pfsense")).content.decode()
    assert "Source it from the LAN address" not in html  # APIPA: nothing left to fix
