"""A site that creates its resource group and VNet (or adds an address space to a full VNet):
the run creates them before the GatewaySubnet, re-runs adopt them, a crash right after Azure
accepted the request loses nothing, and teardown removes exactly what s2svpn created."""

from __future__ import annotations

import pytest

from s2svpn.clients.azure import AzureVpnClient
from s2svpn.clients.errors import ClientError
from tests.conftest import make_sandbox_site
from tests.monitor.sandbox_world import run_to_end
from wizard.models import RunKind, RunStatus

pytestmark = pytest.mark.django_db

NEW_VNET = {
    "create_vnet": True,
    "vnet_prefixes": ["10.1.0.0/16"],
    "gateway_subnet_prefix": "10.1.255.224/27",
}


@pytest.fixture
def empty_sandboxes(tmp_path, settings):
    """A fresh sandbox subscription: no resource group, no VNet."""
    from s2svpn.sandbox.runtime import start_sandboxes

    boxes = start_sandboxes(tmp_path / "sandboxes", profile="fast", seed=False)
    boxes.write_connection_file(settings.S2SVPN_SANDBOX_DIR / "connection.json")
    yield boxes
    boxes.stop()


def messages(run) -> dict[str, str]:
    return {step.key: step.message for step in run.steps.all()}


def order(run) -> list[str]:
    return [s.key for s in run.steps.order_by("started", "pk") if s.started]


def test_a_fresh_subscription_gets_its_group_and_vnet_and_teardown_removes_them(empty_sandboxes):
    arm = empty_sandboxes.arm
    assert arm.resource_groups() == [] and arm.resources("virtualNetworks") == []
    site = make_sandbox_site(empty_sandboxes, slug="fresh", **NEW_VNET)
    run = run_to_end(site)
    assert run.status == RunStatus.SUCCEEDED, run.error
    said = messages(run)
    assert said["az_rg"] == "resource group rg-home-s2s created in westeurope"
    assert said["az_vnet"] == "VNet vnet-hub (10.1.0.0/16) created"
    started = order(run)
    assert started.index("az_rg") < started.index("az_vnet") < started.index("az_subnet")
    assert started.index("az_rg") < started.index("az_pip")
    site.refresh_from_db()
    assert {"created_resource_group", "created_vnet"} <= set(site.azure_ids)
    assert arm.resource_groups() == ["rg-home-s2s"]

    teardown = run_to_end(site, RunKind.TEARDOWN)
    assert teardown.status == RunStatus.SUCCEEDED, teardown.error
    said = messages(teardown)
    assert said["az_vnet"] == "VNet vnet-hub deleted"
    assert said["az_rg"] == "resource group rg-home-s2s deleted"
    assert arm.resource_groups() == [] and arm.resources() == []
    site.refresh_from_db()
    assert "created_vnet" not in site.azure_ids and "created_resource_group" not in site.azure_ids


def test_a_second_run_adopts_the_group_and_vnet_it_created(empty_sandboxes):
    site = make_sandbox_site(empty_sandboxes, slug="again", **NEW_VNET)
    assert run_to_end(site).status == RunStatus.SUCCEEDED
    before = {r["id"] for r in empty_sandboxes.arm.resources()}
    again = run_to_end(site)
    assert again.status == RunStatus.SUCCEEDED, again.error
    assert {r["id"] for r in empty_sandboxes.arm.resources()} == before
    site.refresh_from_db()
    assert {"created_resource_group", "created_vnet"} <= set(site.azure_ids)


def test_a_crash_right_after_azure_created_the_group_still_tears_it_down(
    empty_sandboxes, monkeypatch
):
    original = AzureVpnClient.ensure_resource_group
    calls = []

    def dies_after_the_put(self, intent):
        group = original(self, intent)
        calls.append(group.action)
        if len(calls) == 1:  # the worker "dies": Azure has the group, the step never finished
            raise ClientError("connection reset by peer", permanent=False)
        return group

    monkeypatch.setattr(AzureVpnClient, "ensure_resource_group", dies_after_the_put)
    site = make_sandbox_site(empty_sandboxes, slug="crash", **NEW_VNET)
    run = run_to_end(site)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert calls == ["created", "unchanged"]
    assert messages(run)["az_rg"] == "resource group rg-home-s2s created in westeurope"
    assert run_to_end(site, RunKind.TEARDOWN).status == RunStatus.SUCCEEDED
    assert empty_sandboxes.arm.resource_groups() == []


def test_an_existing_group_with_other_resources_is_kept_and_only_the_vnet_goes(empty_sandboxes):
    arm = empty_sandboxes.arm
    arm.seed_vnet(
        "rg-home-s2s", "vnet-other", "westeurope", ["10.9.0.0/16"], {"apps": "10.9.1.0/24"}
    )
    site = make_sandbox_site(empty_sandboxes, slug="shared", **NEW_VNET)
    run = run_to_end(site)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert "used as it is" in messages(run)["az_rg"]
    site.refresh_from_db()
    assert "created_resource_group" not in site.azure_ids

    teardown = run_to_end(site, RunKind.TEARDOWN)
    assert teardown.status == RunStatus.SUCCEEDED, teardown.error
    said = messages(teardown)
    assert said["az_rg"] == "resource group rg-home-s2s kept: s2svpn did not create it"
    assert [v["name"] for v in arm.resources("virtualNetworks")] == ["vnet-other"]
    assert arm.resource_groups() == ["rg-home-s2s"]


def test_a_group_it_created_that_now_holds_someone_elses_resource_is_kept(empty_sandboxes):
    arm = empty_sandboxes.arm
    site = make_sandbox_site(empty_sandboxes, slug="grown", **NEW_VNET)
    assert run_to_end(site).status == RunStatus.SUCCEEDED
    arm.seed_vnet("rg-home-s2s", "vnet-later", "westeurope", ["10.9.0.0/16"])
    teardown = run_to_end(site, RunKind.TEARDOWN)
    assert teardown.status == RunStatus.SUCCEEDED, teardown.error
    assert messages(teardown)["az_rg"] == (
        "resource group rg-home-s2s kept: it still holds vnet-later, which s2svpn did not create"
    )
    assert [v["name"] for v in arm.resources("virtualNetworks")] == ["vnet-later"]


def test_an_address_space_added_to_a_full_vnet_is_removed_again(empty_sandboxes):
    arm = empty_sandboxes.arm
    arm.seed_vnet(
        "rg-home-s2s", "vnet-full", "westeurope", ["10.60.0.0/24"], {"apps": "10.60.0.0/24"}
    )
    site = make_sandbox_site(
        empty_sandboxes,
        slug="grow",
        vnet_name="vnet-full",
        vnet_prefixes=["10.60.0.0/24"],
        vnet_added_prefix="10.61.0.0/27",
        gateway_subnet_prefix="10.61.0.0/27",
    )
    site.vnet_name = "vnet-full"
    site.save()
    run = run_to_end(site)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert messages(run)["az_vnet"] == "address space 10.61.0.0/27 added"
    (vnet,) = arm.resources("virtualNetworks")
    assert vnet["properties"]["addressSpace"]["addressPrefixes"] == ["10.60.0.0/24", "10.61.0.0/27"]

    teardown = run_to_end(site, RunKind.TEARDOWN)
    assert teardown.status == RunStatus.SUCCEEDED, teardown.error
    assert messages(teardown)["az_vnet_space"] == (
        "address space 10.61.0.0/27 removed from VNet vnet-full"
    )
    (vnet,) = arm.resources("virtualNetworks")
    assert vnet["properties"]["addressSpace"]["addressPrefixes"] == ["10.60.0.0/24"]
    assert [s["name"] for s in vnet["properties"]["subnets"]] == ["apps"]


def test_a_vnet_whose_gateway_another_home_still_uses_is_kept_with_its_group(empty_sandboxes):
    from dataclasses import replace

    from tests.azure.conftest import PSK

    arm = empty_sandboxes.arm
    site = make_sandbox_site(empty_sandboxes, slug="first", **NEW_VNET)
    assert run_to_end(site).status == RunStatus.SUCCEEDED
    # another home's connection on the same gateway (as a site adopting it would add)
    client = AzureVpnClient.for_sandbox(
        arm.base_url, arm.ca_file, arm.subscription_id, polling_interval=0
    )
    try:
        other = replace(site.get_intent(), slug="other", onprem_asn=65020)
        lng = client.ensure_local_gateway(other)
        gateway = client.get_gateway(site.get_intent())
        client.ensure_connection(other, gateway.id, lng.id, PSK)
    finally:
        client.close()

    teardown = run_to_end(site, RunKind.TEARDOWN)
    assert teardown.status == RunStatus.SUCCEEDED, teardown.error
    said = messages(teardown)
    assert said["az_vnet"].startswith("VNet vnet-hub kept: subnet GatewaySubnet is still in use by")
    assert said["az_rg"].startswith("resource group rg-home-s2s kept: it still holds")
    assert arm.resource_groups() == ["rg-home-s2s"]
    assert [v["name"] for v in arm.resources("virtualNetworks")] == ["vnet-hub"]
    assert [c["name"] for c in arm.resources("connections")] == ["s2svpn-other-conn"]


def test_a_crash_right_after_azure_accepted_the_vnet_still_tears_it_down(
    empty_sandboxes, monkeypatch
):
    original = AzureVpnClient.ensure_vnet
    calls = []

    def dies_after_the_put(self, intent):
        vnet = original(self, intent)
        calls.append(vnet.action)
        if len(calls) == 1:
            raise ClientError("connection reset by peer", permanent=False)
        return vnet

    monkeypatch.setattr(AzureVpnClient, "ensure_vnet", dies_after_the_put)
    site = make_sandbox_site(empty_sandboxes, slug="vcrash", **NEW_VNET)
    run = run_to_end(site)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert calls[0] == "created" and calls[1] in ("unchanged", "in_progress")
    assert messages(run)["az_vnet"] == "VNet vnet-hub (10.1.0.0/16) created"
    assert run_to_end(site, RunKind.TEARDOWN).status == RunStatus.SUCCEEDED
    assert empty_sandboxes.arm.resources("virtualNetworks") == []
    assert empty_sandboxes.arm.resource_groups() == []


def test_a_vnet_of_that_name_with_another_space_fails_the_run_before_anything_billable(
    empty_sandboxes,
):
    arm = empty_sandboxes.arm
    arm.seed_vnet("rg-home-s2s", "vnet-hub", "westeurope", ["10.9.0.0/16"])
    site = make_sandbox_site(empty_sandboxes, slug="clash", **NEW_VNET)
    run = run_to_end(site)
    assert run.status == RunStatus.FAILED
    assert "already exists with address space 10.9.0.0/16, without 10.1.0.0/16" in run.error
    assert arm.resources("publicIPAddresses") == [] and arm.resources("localNetworkGateways") == []
    site.refresh_from_db()
    assert "created_vnet" not in site.azure_ids and "created_resource_group" not in site.azure_ids
