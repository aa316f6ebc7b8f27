"""The VNet step off the canonical path (issue #15): a subscription with no VNet gets a new one
proposed (name, resource group, region, a space overlapping no home LAN or other VNet), and a VNet
without a free /27 gets an address space offered; the review lists what will be created."""

from __future__ import annotations

import re

import pytest

from tests.wizard.conftest import VNETS, step_url
from tests.wizard.test_steps import field_message
from wizard.models import Site

pytestmark = pytest.mark.django_db

FULL = {
    "name": "vnet-full",
    "location": "westeurope",
    "resource_group": "rg-home-s2s",
    "address_prefixes": ["10.60.0.0/24"],
    "subnets": [["apps", "10.60.0.0/24"]],
}
NEW = {
    "vnet_choice": "new",
    "new_vnet_name": "vnet-s2svpn",
    "new_resource_group": "rg-s2svpn",
    "new_location": "westeurope",
    "new_vnet_prefixes": "10.1.0.0/16",
    "gateway_subnet_prefix": "10.1.255.224/27",
}


def with_vnets(site: Site, vnets: list, **drop) -> Site:
    intent = {k: v for k, v in site.intent.items() if k not in drop}
    intent["_wizard"] = {**intent["_wizard"], "vnets": vnets}
    site.intent = intent
    site.save()
    return site


def test_a_subscription_without_vnets_is_offered_a_new_one_with_a_free_space(alice, draft):
    with_vnets(draft, [], gateway_subnet_prefix=1)
    html = alice.get(step_url(draft, "vnet")).content.decode()
    assert 'id="no-vnets"' in html
    assert re.search(r'<input type="radio" name="vnet_choice" value="new"[^>]*checked', html)
    assert 'value="10.1.0.0/16"' in html  # 10.0.0.0/24 is a home LAN
    assert 'value="10.1.255.224/27"' in html
    assert 'value="vnet-hub"' in html  # the site's VNet name, not taken yet
    assert "Microsoft.Resources/subscriptions/resourceGroups/write" in html  # what it needs


def test_a_new_vnet_is_stored_with_its_group_and_region(alice, draft):
    with_vnets(draft, [])
    response = alice.post(step_url(draft, "vnet"), NEW)
    assert response.status_code == 302 and response["Location"] == step_url(draft, "gateway")
    draft.refresh_from_db()
    assert (draft.vnet_name, draft.resource_group, draft.location) == (
        "vnet-s2svpn",
        "rg-s2svpn",
        "westeurope",
    )
    assert draft.intent["create_vnet"] is True
    assert draft.intent["vnet_prefixes"] == ["10.1.0.0/16"]
    assert draft.intent["gateway_subnet_prefix"] == "10.1.255.224/27"
    intent = draft.get_intent()
    assert intent.create_vnet and intent.vnet_added_prefix == ""


def test_a_new_vnet_overlapping_a_home_lan_or_another_vnet_is_refused(alice, draft):
    html = alice.post(
        step_url(draft, "vnet"), {**NEW, "new_vnet_prefixes": "10.0.0.0/16"}
    ).content.decode()
    message = field_message(html, "new_vnet_prefixes")
    assert "overlaps 10.0.0.0/24" in message and "such as" in message
    html = alice.post(
        step_url(draft, "vnet"), {**NEW, "new_vnet_prefixes": "172.16.0.0/12"}
    ).content.decode()
    assert "overlaps 172.16.0.0/16" in field_message(html, "new_vnet_prefixes")


def test_a_new_vnet_needs_a_valid_name_and_not_an_existing_one(alice, draft):
    html = alice.post(step_url(draft, "vnet"), {**NEW, "new_vnet_name": "-x"}).content.decode()
    assert "is not a VNet name" in field_message(html, "new_vnet_name")
    data = {**NEW, "new_vnet_name": "vnet-hub", "new_resource_group": "rg-home-s2s"}
    html = alice.post(step_url(draft, "vnet"), data).content.decode()
    assert "already exists in rg-home-s2s" in field_message(html, "new_vnet_name")


def test_a_gateway_subnet_outside_the_new_space_is_replaced_by_a_proposal(alice, draft):
    data = {**NEW, "gateway_subnet_prefix": "172.16.19.224/27"}
    html = alice.post(step_url(draft, "vnet"), data).content.decode()
    assert "10.1.255.224/27 is filled in now" in field_message(html, "gateway_subnet_prefix")
    assert 'value="10.1.255.224/27"' in html


def test_choosing_an_existing_vnet_when_there_is_none_says_to_create_one(alice, draft):
    with_vnets(draft, [])
    data = {"vnet_choice": "existing", "gateway_subnet_prefix": "10.1.255.224/27"}
    html = alice.post(step_url(draft, "vnet"), data).content.decode()
    assert "choose Create a new VNet" in field_message(html, "vnet_choice")


def test_a_vnet_without_a_free_27_is_offered_an_address_space(alice, draft):
    with_vnets(draft, [*VNETS, FULL])
    data = {"vnet_choice": "existing", "vnet_name": "vnet-full", "gateway_subnet_prefix": ""}
    data["gateway_subnet_prefix"] = "10.60.0.0/27"
    html = alice.post(step_url(draft, "vnet"), data).content.decode()
    message = field_message(html, "gateway_subnet_prefix")
    assert "vnet-full (10.60.0.0/24) has no free /27 for a GatewaySubnet" in message
    assert "10.60.1.0/27" in message and "box ticked" in message
    assert 'value="10.60.1.0/27"' in html

    data = {**data, "add_space": "on", "added_prefix": "10.60.1.0/27"}
    data["gateway_subnet_prefix"] = "10.60.1.0/27"
    response = alice.post(step_url(draft, "vnet"), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.intent["vnet_added_prefix"] == "10.60.1.0/27"
    assert draft.intent["vnet_prefixes"] == ["10.60.0.0/24", "10.60.1.0/27"]
    assert draft.intent["create_vnet"] is False
    from wizard.plan import build_plan

    objects = {(o.kind, o.name): o for o in build_plan(draft).objects}
    added = objects[("VNet address space", "10.60.1.0/27")]
    assert added.action == "create" and added.values["teardown"] == "removed again"


def test_an_added_space_that_overlaps_is_refused(alice, draft):
    with_vnets(draft, [*VNETS, FULL])
    data = {
        "vnet_choice": "existing",
        "vnet_name": "vnet-full",
        "add_space": "on",
        "added_prefix": "10.50.0.0/27",
        "gateway_subnet_prefix": "10.50.0.0/27",
    }
    html = alice.post(step_url(draft, "vnet"), data).content.decode()
    assert "overlaps 10.50.0.0/27" in field_message(html, "added_prefix")


def test_the_review_lists_the_group_and_vnet_to_create(alice, draft):
    with_vnets(draft, [])
    assert alice.post(step_url(draft, "vnet"), NEW).status_code == 302
    from wizard.plan import build_plan

    draft.refresh_from_db()
    objects = {(o.kind, o.name): o for o in build_plan(draft).objects}
    group = objects[("Resource group", "rg-s2svpn")]
    vnet = objects[("Virtual network", "vnet-s2svpn")]
    assert group.action == "create" and vnet.action == "create"
    assert vnet.values["address space"] == "10.1.0.0/16"
    html = alice.get(step_url(draft, "review")).content.decode()
    assert "Resource group" in html and "rg-s2svpn" in html and "10.1.0.0/16" in html
