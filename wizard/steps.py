"""The step functions of each run kind: one run across both ends, ordered for speed.

Provision (dependencies in brackets; a site that creates its resource group and VNet runs
``wizard.vnet_steps`` first)::

    az_subnet ─┐
    az_pip ────┼─► az_gateway (start, then re-check; never holds a worker) ─┐
    az_lng ────│──────────────────────────────────────────────────────────┬─► az_connection ─► az_psk ─┐
               └─► pf_preflight ─► pf_phase1 ─────► pf_rest (P2, VTI, rule, FRR; apply once) ─────────┴─► verify
                               └─► pf_frr (install FRR) ─┘       (also after az_gateway)

pfSense phase 1 is written as soon as the gateway's public IP exists (it is static and known long
before the gateway is ready) and the FRR package installs meanwhile; phase 2 (and with it
pfSense's initiation) waits for the gateway in both BGP modes, so pfSense never initiates towards a
public IP with nothing behind it. Every step is idempotent: it reads, compares and then creates / updates / does nothing,
so a re-run after a crash only re-checks.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import transaction

from s2svpn import activeactive, pfsense_push, pfsense_tunnels, preconditions
from s2svpn.clients.errors import ClientError
from wizard import vnet_steps
from wizard.context import StepContext
from wizard.engine import register_plan
from wizard.firewall import on_the_firewall
from wizard.models import RunKind, Site
from wizard.results import Done, StepSpec, Wait
from wizard.shared_steps import (
    adopting,
    delete_inherited_ips,
    deletes_gateway_subnet,
    unless_shared,
)
from wizard.step_helpers import (
    azure_succeeded,
    failed_in_azure,
    remember_azure,
    settled,
    step_started,
    wait_for,
    what_was_done,
)

# ---------------------------------------------------------------- Azure steps


def az_subnet(ctx: StepContext) -> Done | Wait:
    subnet = ctx.client("azure").ensure_gateway_subnet(ctx.intent, wait=False)
    state = subnet.provisioning_state
    did = what_was_done(ctx, subnet.action or "ready")
    if waiting := settled(ctx, "GatewaySubnet", subnet.address_prefix, state, subnet=subnet.id):
        return waiting
    return Done(f"GatewaySubnet {subnet.address_prefix} {did}", subnet.id)


def az_pip(ctx: StepContext) -> Done | Wait:
    ips = ctx.client("azure").ensure_public_ips(ctx.intent, wait=False)
    remember_azure(ctx.site, **{f"public_ip_{i + 1}": ip.id for i, ip in enumerate(ips)})
    pending = [
        ip.name for ip in ips if not azure_succeeded(ip.provisioning_state) or not ip.ip_address
    ]
    if pending:
        return wait_for(ctx, "other", f"public IP {', '.join(pending)} is being created")
    addresses = [ip.ip_address for ip in ips]
    ctx.share(azure_public_ips=addresses)
    return Done(f"public IP {', '.join(addresses)}", ips[0].id, {"addresses": addresses})


def az_lng(ctx: StepContext) -> Done | Wait:
    lng = ctx.client("azure").ensure_local_gateway(ctx.intent, wait=False)
    state = lng.provisioning_state
    if waiting := settled(
        ctx, "local network gateway", lng.name, state, local_network_gateway=lng.id
    ):
        return waiting
    endpoint = lng.fqdn or lng.gateway_ip
    return Done(
        f"local network gateway → {endpoint}, BGP {lng.bgp_asn}/{lng.bgp_peering_address}", lng.id
    )


def az_gateway(ctx: StepContext) -> Done | Wait:
    client = ctx.client("azure")
    gateway = client.get_gateway(ctx.intent)
    if gateway is None or (
        gateway.provisioning_state == "Failed" and not ctx.step.data.get("restarted")
    ):
        subnet_id = ctx.site.azure_ids.get("subnet") or client.get_gateway_subnet(ctx.intent).id
        pip_ids = [
            ctx.site.azure_ids[key]
            for key in sorted(ctx.site.azure_ids)
            if key.startswith("public_ip_")
        ]
        gateway = client.start_gateway(ctx.intent, subnet_id, pip_ids)
        ctx.log(f"VPN gateway build {gateway.action or 'started'} ({gateway.provisioning_state})")
        if gateway.provisioning_state == "Failed":
            ctx.step.data["restarted"] = True
    elif gateway.provisioning_state == "Succeeded" and not ctx.step.data.get("checked"):
        # An existing gateway: adopt it if it matches (start_gateway sends no PUT then), or
        # convert it between active-standby and active-active (an in-place update on Azure).
        subnet_id = ctx.site.azure_ids.get("subnet", gateway.subnet_id)
        pip_ids = pfsense_tunnels.gateway_public_ip_ids(gateway, ctx.intent, ctx.site.azure_ids)
        gateway = client.start_gateway(ctx.intent, subnet_id, pip_ids)
        if gateway.action == "updated":
            ctx.log(f"VPN gateway update started: {pfsense_tunnels.conversion(ctx.intent)}")
    ctx.step.data["checked"] = True
    remember_azure(ctx.site, gateway=gateway.id)
    if gateway.provisioning_state == "Failed":
        raise failed_in_azure("VPN gateway", gateway.name, "Failed")
    if not gateway.ready:
        return wait_for(
            ctx,
            "gateway",
            f"VPN gateway {gateway.name} is being built ({gateway.provisioning_state}); "
            "Azure takes 20–45 minutes",
        )
    bgp_ips = list(
        gateway.custom_bgp_ips if ctx.intent.bgp_mode == "apipa" else gateway.default_bgp_ips
    )
    if ctx.intent.bgp_mode == "apipa" and not bgp_ips:
        bgp_ips = [ctx.intent.azure_apipa_ip]
    ctx.share(azure_bgp_ips=bgp_ips, azure_default_bgp_ips=list(gateway.default_bgp_ips))
    return Done(
        f"VPN gateway ready: ASN {gateway.asn}, BGP {', '.join(bgp_ips)}",
        gateway.id,
        {"bgp_ips": bgp_ips},
    )


def az_connection(ctx: StepContext) -> Done | Wait:
    client = ctx.client("azure")
    ids = ctx.site.azure_ids
    conn = client.ensure_connection(
        ctx.intent, ids["gateway"], ids["local_network_gateway"], str(ctx.site.psk), wait=False
    )
    if waiting := settled(
        ctx, "connection", conn.name, conn.provisioning_state, connection=conn.id
    ):
        return waiting
    return Done(f"connection {conn.name}: {conn.protocol} {conn.mode}, BGP on", conn.id)


def az_psk(ctx: StepContext) -> Done | Wait:
    """Set the PSK through the sharedkey operation (unless it already matches) and read it back."""
    client = ctx.client("azure")
    psk = str(ctx.site.psk)
    if client.shared_key_matches(ctx.intent, psk):
        return Done("pre-shared key read back from Azure: it matches")
    if not ctx.step.data.get("set"):
        client.set_shared_key(ctx.intent, psk, wait=False)
        ctx.step.data["set"] = True
        return wait_for(ctx, "other", "pre-shared key sent through the sharedkey operation")
    return wait_for(ctx, "other", "waiting for Azure to store the pre-shared key")


# ---------------------------------------------------------------- pfSense steps


def _pf_state(ctx: StepContext) -> dict[str, Any]:
    """This run's push state; a new push starts from what the last one must hand over."""
    if "pf" in ctx.data:
        return dict(ctx.data["pf"])
    return pfsense_tunnels.new_push_state(ctx.site.pfsense_ids or None)


def _save_pf(ctx: StepContext, state: dict[str, Any]) -> None:
    ctx.share(pf=state)
    Site.objects.filter(pk=ctx.site.pk).update(pfsense_ids=state)


def _azure_bgp_ip(ctx: StepContext) -> str:
    if ctx.intent.bgp_mode == "apipa":
        return ctx.intent.azure_apipa_ip
    ips = ctx.data.get("azure_bgp_ips") or []
    if ips:
        return ips[0]
    intent = ctx.intent  # predicted: the bottom of the GatewaySubnet when active-active
    return activeactive.predicted_default_bgp_ips(
        intent.gateway_subnet_prefix, intent.active_active
    )[0]


def _desired(ctx: StepContext, state: dict[str, Any]):
    return pfsense_push.build_desired(
        ctx.intent,
        state,
        azure_public_ip=ctx.data["azure_public_ips"][0],
        azure_bgp_ip=_azure_bgp_ip(ctx),
        psk=str(ctx.site.psk),
    )


def _second(ctx: StepContext):
    """An active-active site's second tunnel (instance 1), else None (s2svpn.pfsense_tunnels)."""
    return pfsense_tunnels.second_tunnel(
        ctx.intent, ctx.data.get("azure_public_ips") or [], ctx.data.get("azure_bgp_ips") or []
    )


def _guarded(ctx: StepContext, state: dict[str, Any], work) -> Any:
    """Run a pfSense write; on a permanent error undo this push and restore the checkpoint."""
    try:
        return work()
    except ClientError as error:
        _save_pf(ctx, state)
        if error.permanent and state.get("checkpoint"):
            ctx.log("pfSense push failed; rolling back what it wrote and restoring the checkpoint")
            pfsense_tunnels.rollback(ctx.client("pfsense"), state)
            pfsense_push.rollback(ctx.client("pfsense"), state)
            _save_pf(ctx, state)
        raise


def _pf_preflight(ctx: StepContext) -> Done:
    state = _pf_state(ctx)
    client = ctx.client("pfsense")
    pfsense_push.preflight(
        client, ctx.intent, azure_public_ip=ctx.data["azure_public_ips"][0], state=state
    )
    items = pfsense_push.plan(client, _desired(ctx, state), state)
    if second := _second(ctx):
        items += pfsense_tunnels.plan(client, second, state, str(ctx.site.psk))
    state["plan"] = [item.to_dict() for item in items]
    pfsense_push.checkpoint(client, state)
    _save_pf(ctx, state)
    summary = ", ".join(f"{i.kind} {i.action}" for i in items)
    return Done(f"preflight ok; plan: {summary}; checkpoint taken")


def pf_check(ctx: StepContext) -> Done:
    """Read-only, before anything billable in Azure: the firewall's conflicts with this site."""
    found = preconditions.check(
        ctx.client("pfsense"), ctx.intent, azure_bgp_ip=_azure_bgp_ip(ctx), psk=str(ctx.site.psk)
    )
    if found:
        raise ClientError(preconditions.summary(found), permanent=True, code="Conflict")
    return Done("the firewall is ready for this site (read only; nothing written)")


def _pf_begin(ctx: StepContext) -> tuple[dict[str, Any], Any, Any]:
    """What a pfSense write starts from: the push's state, the client, the desired objects."""
    state = _pf_state(ctx)
    return state, ctx.client("pfsense"), _desired(ctx, state)


def _pf_phase1(ctx: StepContext) -> Done:
    state, client, desired = _pf_begin(ctx)

    second = _second(ctx)
    # A re-push always writes the key: pfSense never shows it, so a key changed on the firewall
    # cannot be seen, only overwritten. A provision sends it when it differs from the last one.
    resend = ctx.step.run.kind == RunKind.PUSH or None

    def work():
        action = pfsense_push.write_phase1(client, desired, state, update_psk=resend)
        if resend:
            action = f"{action} (pre-shared key re-sent)"
        if second is not None:
            other = pfsense_tunnels.write_phase1(client, second, state, str(ctx.site.psk))
            action = f"{action}; phase 1 to {second.azure_public_ip} {other}"
        return action

    action = _guarded(ctx, state, work)
    _save_pf(ctx, state)
    return Done(f"phase 1 to {ctx.data['azure_public_ips'][0]} {action} (ikeid {state['ikeid']})")


def _pf_frr(ctx: StepContext) -> Done | Wait:
    """Install pfSense-pkg-frr once and follow it (the install runs for minutes on the firewall,
    longer than any request): progress shows on the run page."""
    state = _pf_state(ctx)
    progress = pfsense_push.install_frr(ctx.client("pfsense"), state, now=time.time())
    _save_pf(ctx, state)
    if progress["status"] == "installed":
        return Done(
            "pfSense-pkg-frr installed"
            if state.get("installed_frr")
            else "pfSense-pkg-frr already installed"
        )
    return Wait(
        5.0,
        f"installing pfSense-pkg-frr on the firewall ({progress['elapsed']:.0f} s so far; pfSense "
        "installs frr9, libyang2 and their dependencies, usually within a few minutes)",
    )


def _pf_rest(ctx: StepContext) -> Done:
    state, client, desired = _pf_begin(ctx)

    second = _second(ctx)

    def work():
        pfsense_push.write(client, desired, state)
        if second is not None:
            pfsense_tunnels.write(client, second, state, str(ctx.site.psk))
        elif pfsense_tunnels.SECOND in state:  # converted back to active-standby
            removed = pfsense_tunnels.teardown(client, ctx.intent, state)
            state.pop(pfsense_tunnels.SECOND)
            ctx.log("second tunnel removed: " + (", ".join(removed) or "nothing left"))
        _save_pf(ctx, state)
        pfsense_push.apply(client, state)

    _guarded(ctx, state, work)
    _save_pf(ctx, state)
    changed = ", ".join(state.get("applied") or []) or "nothing"
    return Done(
        f"phase 2 (VTI {state.get('port')}), interface, rule and FRR written; applied: {changed}"
    )


# ---------------------------------------------------------------- both ends


def verify(ctx: StepContext) -> Done | Wait:
    """Both ends agree: Azure says the connection is Connected, and pfSense holds the IKE and child
    SAs and an Established BGP session with Azure's BGP address, prefixes received and sent.

    A BGP session is one TCP session: Established on pfSense, with Azure's address as the
    neighbour, is Established on Azure too. Azure's own BGP tables (getBgpPeerStatus /
    getLearnedRoutes, long-running POSTs that take tens of seconds on real Azure) are not waited
    for here; the monitor reads them right after the run and shows them on the status page."""
    started = step_started(ctx)
    conn = ctx.client("azure").get_connection(ctx.intent)
    connected = conn is not None and conn.status == "Connected"
    state = _pf_state(ctx)
    pf = pfsense_push.verify(
        ctx.client("pfsense"), ctx.intent, state, attempt=0, max_attempts=10**6
    )
    if second := _second(ctx):
        pf = pfsense_tunnels.combine(
            pf, pfsense_tunnels.verify(ctx.client("pfsense"), second, state)
        )
    if pf["result"] == "failed":
        raise ClientError(pf["reason"], permanent=True, code="VerifyFailed")
    if connected and pf["result"] == "ok":
        pfsense_push.finish(ctx.client("pfsense"), state)
        _save_pf(ctx, state)
        return Done(
            f"Connected; BGP Established; pfSense learned {', '.join(pf['learned'])} from Azure "
            f"and advertises {', '.join(pf['advertised'])}",
            data={"learned_from_azure": pf["learned"], "advertised_to_azure": pf["advertised"]},
        )
    limit = settings.S2SVPN_VERIFY_SECONDS
    if time.time() - started > limit:
        reason = pf["reason"] or f"Azure connection {conn.status if conn else 'missing'}"
        raise ClientError(
            f"The tunnel did not come up within {limit:.0f} s: {reason}. Check the status page "
            "for a diagnosis, then Retry.",
            permanent=True,
            code="VerifyTimeout",
        )
    why = (
        f"Azure: {conn.status if conn else 'no connection'}; "
        f"pfSense: {pf['reason'] or pf['result']}"
    )
    # Brisk at first (the tunnel usually comes up within a second or two of the connection),
    # then backing off to at most 30 s while IKE retries or a BGP hold timer runs out.
    checks = ctx.step.data.get("checks", 0) + 1
    return Wait(
        min(0.2 * 1.5 ** (checks - 1), 30.0), why, data={"started_at": started, "checks": checks}
    )


VERIFY_TITLE = "Tunnel Connected, BGP Established both ways"
PF_CHECK_TITLE = "pfSense ready for this site (checked before Azure)"


def _pfsense_specs(after: str, rest_deps: tuple[str, ...]) -> list[StepSpec]:
    """The pfSense steps of a provision and of a push: preflight (after ``after``), phase 1, and
    the rest (after ``rest_deps``)."""
    return [
        StepSpec(
            "pf_preflight", "pfsense", "Preflight, plan and checkpoint", pf_preflight, (after,)
        ),
        StepSpec("pf_phase1", "pfsense", "IPsec phase 1", pf_phase1, ("pf_preflight",)),
        StepSpec("pf_frr", "pfsense", "FRR package", pf_frr, ("pf_preflight",)),
        StepSpec(
            "pf_rest",
            "pfsense",
            "Phase 2 (VTI), interface, firewall rule, FRR BGP",
            pf_rest,
            rest_deps,
        ),
    ]


@register_plan(RunKind.PROVISION)
def provision_plan(site: Site) -> list[StepSpec]:
    # APIPA mode knows Azure's BGP address early, but phase 2 still waits for the gateway:
    # applying it starts pfSense's initiation towards a public IP with nothing behind it
    rest_deps = ("pf_phase1", "pf_frr", "az_gateway")
    first = ("pf_check",)  # nothing is created (or billed) in Azure before pfSense is checked
    # a resource group and VNet s2svpn creates (or an address space it adds) come first
    created = vnet_steps.provision_specs(site, first)
    # public IP and local network gateway wait for them too: a VNet that cannot be created (a
    # conflicting one of that name) fails the run before anything billable exists
    in_vnet = in_group = (created[-1].key,) if created else first
    specs = [
        StepSpec("pf_check", "pfsense", PF_CHECK_TITLE, pf_check),
        *created,
        StepSpec("az_subnet", "azure", "GatewaySubnet", az_subnet, in_vnet),
        StepSpec("az_pip", "azure", "Public IP address", az_pip, in_group),
        StepSpec("az_lng", "azure", "Local network gateway", az_lng, in_group),
        StepSpec("az_gateway", "azure", "VPN gateway", az_gateway, ("az_subnet", "az_pip")),
        *_pfsense_specs("az_pip", rest_deps),
        StepSpec("az_connection", "azure", "Connection", az_connection, ("az_gateway", "az_lng")),
        StepSpec(
            "az_psk", "azure", "Pre-shared key (set and read back)", az_psk, ("az_connection",)
        ),
        StepSpec("verify", "both", VERIFY_TITLE, verify, ("az_psk", "pf_rest")),
    ]
    # a VPN gateway that already serves the VNet: adopted as it is (wizard.shared_steps)
    return specs if site.get_intent().owns_gateway else adopting(specs)


# ---------------------------------------------------------------- push (pfSense only)


def _azure_facts(ctx: StepContext) -> Done | Wait:
    client = ctx.client("azure")
    gateway = client.get_gateway(ctx.intent)
    if gateway is None or not gateway.ready:
        raise ClientError(
            "The Azure VPN gateway does not exist or is not ready; provision the site first.",
            permanent=True,
            code="GatewayMissing",
        )
    if ctx.intent.owns_gateway:
        ips = [
            client.get_public_ip(ctx.intent, name).ip_address for name in ctx.intent.public_ip_names
        ]
    else:  # an adopted gateway's IPs have names of their own
        ips = [ip.ip_address for ip in client.gateway_public_ips(gateway)]
    bgp = list(
        gateway.custom_bgp_ips if ctx.intent.bgp_mode == "apipa" else gateway.default_bgp_ips
    )
    ctx.share(azure_public_ips=ips, azure_bgp_ips=bgp)
    return Done(f"Azure gateway {', '.join(ips)}, BGP {', '.join(bgp)}")


@register_plan(RunKind.PUSH)
def push_plan(site: Site) -> list[StepSpec]:
    return [
        StepSpec("az_facts", "azure", "Read the Azure gateway", _azure_facts),
        *_pfsense_specs("az_facts", ("pf_phase1", "pf_frr")),
        StepSpec("verify", "both", VERIFY_TITLE, verify, ("pf_rest",)),
    ]


# ---------------------------------------------------------------- teardown


def _deleter(kind: str, method: str, key: str):
    def step(ctx: StepContext) -> Done | Wait:
        outcome = getattr(ctx.client("azure"), method)(ctx.intent, wait=False)
        did = what_was_done(
            ctx, "deleted" if outcome in ("deleting", "deleted") else "already gone"
        )
        if outcome == "deleting":
            return wait_for(
                ctx, "gateway" if key == "gateway" else "other", f"{kind} is being deleted"
            )
        with transaction.atomic():
            fresh = Site.objects.select_for_update().get(pk=ctx.site.pk)
            fresh.azure_ids = {
                k: v for k, v in fresh.azure_ids.items() if not (k == key or k.startswith(key))
            }
            fresh.save(update_fields=["azure_ids"])
        return Done(f"{kind} {did}")

    return step


def _pf_teardown(ctx: StepContext) -> Done:
    state = dict(ctx.site.pfsense_ids or {})
    removed = pfsense_tunnels.teardown(ctx.client("pfsense"), ctx.intent, state)
    removed += pfsense_push.teardown(ctx.client("pfsense"), ctx.intent, state)
    Site.objects.filter(pk=ctx.site.pk).update(pfsense_ids={})
    return Done("removed from pfSense: " + (", ".join(removed) or "nothing left to remove"))


@register_plan(RunKind.TEARDOWN)
def teardown_plan(site: Site) -> list[StepSpec]:
    owns = site.get_intent().owns_gateway
    # an adopting site deletes the gateway only when s2svpn built it for a site already torn
    # down and nothing uses it any more; then its public IPs by the ids read from it
    titles = (
        (
            "Delete the VPN gateway",
            "Delete the public IP address(es)",
            "Delete the GatewaySubnet",
        )
        if owns
        else (
            "VPN gateway (adopted: kept unless s2svpn built it and nothing uses it)",
            "Public IP address(es) (of the adopted gateway: deleted only with it)",
            "GatewaySubnet (of the adopted gateway: deleted only with it)",
        )
    )
    specs = [
        StepSpec("pf_teardown", "pfsense", "Remove s2svpn's objects from pfSense", pf_teardown),
        StepSpec(
            "az_connection",
            "azure",
            "Delete the connection",
            _deleter("connection", "delete_connection", "connection"),
        ),
        StepSpec(
            "az_lng",
            "azure",
            "Delete the local network gateway",
            _deleter("local network gateway", "delete_local_gateway", "local_network_gateway"),
            ("az_connection",),
        ),
        StepSpec(
            "az_gateway",
            "azure",
            titles[0],
            # kept while other connections use it (asked of Azure), or when adopted
            unless_shared(
                "VPN gateway", "gateway", _deleter("VPN gateway", "delete_gateway", "gateway")
            ),
            ("az_connection",),
        ),
        StepSpec(
            "az_pip",
            "azure",
            titles[1],
            unless_shared(
                "Public IP(s)",
                "public_ip_",
                _deleter("public IP", "delete_public_ips", "public_ip_")
                if owns
                else delete_inherited_ips,
            ),
            ("az_gateway",),
        ),
    ]
    if deletes_gateway_subnet(site):
        specs.append(
            StepSpec(
                "az_subnet",
                "azure",
                titles[2],
                unless_shared(
                    "GatewaySubnet",
                    "subnet",
                    _deleter("GatewaySubnet", "delete_gateway_subnet", "subnet"),
                ),
                ("az_gateway",),
            )
        )
    # then what s2svpn created for the site (only if it did): added address space, VNet, group
    azure = tuple(s.key for s in specs if s.end == "azure")
    subnet = ("az_subnet",) if "az_subnet" in azure else ("az_gateway",)
    return specs + vnet_steps.teardown_specs(site, azure, subnet)


# Each firewall step runs only while its run holds the firewall (wizard.firewall): one push per
# firewall at a time, from the preflight's checkpoint to the verified tunnel.
pf_preflight = on_the_firewall(_pf_preflight)
pf_phase1 = on_the_firewall(_pf_phase1)
pf_frr = on_the_firewall(_pf_frr)
pf_rest = on_the_firewall(_pf_rest)
pf_teardown = on_the_firewall(_pf_teardown)
verify = on_the_firewall(verify)
