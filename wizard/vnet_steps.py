"""The steps for what a site creates before its GatewaySubnet: the resource group and the VNet
(``SiteIntent.create_vnet``), or an address prefix added to an existing VNet that had no free /27
(``SiteIntent.vnet_added_prefix``); and their teardown.

What s2svpn creates is written into ``Site.azure_ids`` *before* the create request is sent
(``created_resource_group``, ``created_vnet``, ``added_vnet_prefix``): a worker that dies right
after Azure accepted the request leaves the record behind, so teardown still removes it; a group,
VNet or prefix that existed before the run is never recorded and never removed. Teardown also
re-checks at its own time: a VNet another gateway still uses and a resource group that holds
anything else are kept, with the reason in the run log.

Provision (dependencies in brackets)::

    pf_check ─► az_rg ─► az_vnet ─► az_subnet …      (az_pip and az_lng also after az_rg)
"""

from __future__ import annotations

from django.db import transaction

from wizard.context import StepContext
from wizard.models import Site
from wizard.results import Done, StepSpec, Wait
from wizard.step_helpers import remember_azure, settled, wait_for, what_was_done

RG_KEY = "created_resource_group"
VNET_KEY = "created_vnet"
PREFIX_KEY = "added_vnet_prefix"


def creates_vnet(site: Site) -> bool:
    return bool((site.intent or {}).get("create_vnet"))


def adds_prefix(site: Site) -> str:
    return str((site.intent or {}).get("vnet_added_prefix") or "")


def _rg_id(ctx: StepContext) -> str:
    client = ctx.client("azure")
    return f"/subscriptions/{client.subscription_id}/resourceGroups/{ctx.intent.resource_group}"


def _vnet_id(ctx: StepContext) -> str:
    return f"{_rg_id(ctx)}/providers/Microsoft.Network/virtualNetworks/{ctx.intent.vnet_name}"


def _forget(ctx: StepContext, key: str) -> None:
    with transaction.atomic():
        fresh = Site.objects.select_for_update().get(pk=ctx.site.pk)
        fresh.azure_ids = {k: v for k, v in fresh.azure_ids.items() if k != key}
        fresh.save(update_fields=["azure_ids"])
        ctx.site.azure_ids = fresh.azure_ids


# ---------------------------------------------------------------- provision


def az_rg(ctx: StepContext) -> Done:
    client, intent = ctx.client("azure"), ctx.intent
    if client.get_resource_group(intent.resource_group) is None:
        remember_azure(ctx.site, **{RG_KEY: _rg_id(ctx)})
    group = client.ensure_resource_group(intent)
    did = what_was_done(ctx, group.action)
    if did == "created" or RG_KEY in ctx.site.azure_ids:
        return Done(f"resource group {group.name} created in {group.location}", group.id)
    return Done(f"resource group {group.name} exists: used as it is (never deleted)", group.id)


def az_vnet(ctx: StepContext) -> Done | Wait:
    client, intent = ctx.client("azure"), ctx.intent
    parts = []
    if intent.create_vnet:
        if client.find_vnet(intent) is None:
            remember_azure(ctx.site, **{VNET_KEY: _vnet_id(ctx)})
        vnet = client.ensure_vnet(intent)
        ours = VNET_KEY in ctx.site.azure_ids
        parts.append(
            f"VNet {vnet.name} ({', '.join(vnet.address_prefixes)}) "
            + ("created" if ours else "exists with this address space: used as it is")
        )
    if intent.vnet_added_prefix:
        prefix = intent.vnet_added_prefix
        current = client.find_vnet(intent)
        if current is not None and prefix not in current.address_prefixes:
            remember_azure(ctx.site, **{PREFIX_KEY: prefix})
        vnet = client.set_vnet_prefix(intent, prefix, present=True)
        ours = ctx.site.azure_ids.get(PREFIX_KEY) == prefix
        parts.append(
            f"address space {prefix} " + ("added" if ours else "already there: used as it is")
        )
    what_was_done(ctx, vnet.action)
    if waiting := settled(ctx, "virtual network", vnet.name, vnet.provisioning_state):
        return waiting
    return Done("; ".join(parts), vnet.id)


def provision_specs(site: Site, after: tuple[str, ...]) -> list[StepSpec]:
    """The steps before the GatewaySubnet, when the site creates anything ([] otherwise)."""
    specs = []
    if creates_vnet(site):
        specs.append(StepSpec("az_rg", "azure", "Resource group", az_rg, after))
        after = ("az_rg",)
    if creates_vnet(site) or adds_prefix(site):
        title = "Virtual network" if creates_vnet(site) else "VNet address space"
        specs.append(StepSpec("az_vnet", "azure", title, az_vnet, after))
    return specs


# ---------------------------------------------------------------- teardown


def _remove_prefix(ctx: StepContext) -> Done | Wait:
    prefix = ctx.site.azure_ids.get(PREFIX_KEY)
    if not prefix:
        return Done("address space: nothing s2svpn added")
    client, intent = ctx.client("azure"), ctx.intent
    vnet = client.find_vnet(intent)
    if vnet is None:
        _forget(ctx, PREFIX_KEY)
        return Done(f"address space {prefix}: the VNet is already gone")
    from netaddr import IPNetwork

    inside = [s.name for s in vnet.subnets if IPNetwork(s.address_prefix) in IPNetwork(prefix)]
    if inside:
        return Done(
            f"address space {prefix} kept: subnet {', '.join(inside)} still lies in it "
            "(remove it, then tear down again)"
        )
    result = client.set_vnet_prefix(intent, prefix, present=False)
    what_was_done(ctx, result.action)
    if result.provisioning_state not in ("Succeeded", ""):
        return wait_for(ctx, "other", f"address space {prefix} is being removed")
    _forget(ctx, PREFIX_KEY)
    return Done(f"address space {prefix} removed from VNet {vnet.name}")


def _delete_vnet(ctx: StepContext) -> Done | Wait:
    client, intent = ctx.client("azure"), ctx.intent
    if VNET_KEY not in ctx.site.azure_ids:
        return Done(f"VNet {intent.vnet_name} kept: s2svpn did not create it")
    vnet = client.find_vnet(intent)
    if vnet is not None and vnet.provisioning_state != "Deleting":
        used = [s for s in vnet.subnets if s.ip_configuration_ids]
        if used:
            users = ", ".join(
                i.split("/providers/", 1)[-1] for s in used for i in s.ip_configuration_ids
            )
            return Done(
                f"VNet {vnet.name} kept: subnet {', '.join(s.name for s in used)} is still in use "
                f"by {users}"
            )
    outcome = client.delete_vnet(intent)
    did = what_was_done(ctx, "deleted" if outcome in ("deleting", "deleted") else "already gone")
    if outcome == "deleting":
        return wait_for(ctx, "other", f"VNet {intent.vnet_name} is being deleted")
    _forget(ctx, VNET_KEY)
    return Done(f"VNet {intent.vnet_name} {did}")


def _delete_rg(ctx: StepContext) -> Done | Wait:
    client, name = ctx.client("azure"), ctx.intent.resource_group
    if RG_KEY not in ctx.site.azure_ids:
        return Done(f"resource group {name} kept: s2svpn did not create it")
    if not ctx.step.data.get("deleting"):
        # A group delete removes everything in it: only an empty group goes, checked now.
        others = client.resource_group_contents(name)
        if others:
            names = ", ".join(i.rsplit("/", 1)[-1] for i in others[:5])
            more = f" and {len(others) - 5} more" if len(others) > 5 else ""
            return Done(
                f"resource group {name} kept: it still holds {names}{more}, which s2svpn did not "
                "create"
            )
    outcome = client.delete_resource_group(name)
    did = what_was_done(ctx, "deleted" if outcome in ("deleting", "deleted") else "already gone")
    if outcome == "deleting":
        ctx.step.data["deleting"] = True
        wait = wait_for(ctx, "other", f"resource group {name} is being deleted")
        wait.data["deleting"] = True
        return wait
    _forget(ctx, RG_KEY)
    return Done(f"resource group {name} {did}")


def teardown_specs(site: Site, last: tuple[str, ...], subnet: tuple[str, ...]) -> list[StepSpec]:
    """After the site's own Azure resources (``last``: every other Azure teardown step;
    ``subnet``: the GatewaySubnet's) are gone: the added prefix, the VNet, the resource group."""
    specs = []
    if adds_prefix(site):
        specs.append(
            StepSpec(
                "az_vnet_space",
                "azure",
                "Remove the address space s2svpn added",
                _remove_prefix,
                subnet,
            )
        )
    if creates_vnet(site):
        specs.append(StepSpec("az_vnet", "azure", "Delete the virtual network", _delete_vnet, last))
        specs.append(
            StepSpec("az_rg", "azure", "Delete the resource group", _delete_rg, (*last, "az_vnet"))
        )
    return specs
