"""Steps for one Azure VPN gateway shared by several homes (s2svpn.gateway_share).

Provision: a site that adopts an existing gateway (``SiteIntent.existing_gateway``) creates no
GatewaySubnet, public IP nor gateway; it reads the gateway's public IP(s) for pfSense's phase 1,
checks the gateway's BGP settings agree with the site (never sending a PUT to it: that would touch
every other connection on it) and waits while someone else's build or update runs.

Teardown: the gateway is deleted only when Azure lists no other connection on it at teardown time
(other s2svpn sites, or the user's own connections) *and* this site built it, or s2svpn built it
(its ``s2svpn`` tag names the site) for a site whose teardown has since kept it for the others:
the last s2svpn site out removes what s2svpn built. A gateway without that tag (the user's) is
never deleted. Its public IPs (those tagged by s2svpn) and the GatewaySubnet go only with it.
Whatever is kept is said in the run log.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from s2svpn.clients.errors import ClientError
from s2svpn.gateway_share import adoption_conflicts, kept_message, other_connections
from wizard.context import StepContext
from wizard.models import RunKind, Site, SiteStatus
from wizard.results import Done, StepSpec, Wait
from wizard.step_helpers import remember_azure, wait_for, what_was_done

# Azure's refusal to delete a gateway that still has connections. The code is the one public
# deployment notes and scripts quote for this case (e.g. "Deleting the gateway then failed with
# VirtualNetworkGatewayCannotBeDeleted", found with the library's find_string in several
# repositories); the ARM sandbox answers the same (s2svpn/sandbox/arm/resources.py).
GATEWAY_IN_USE = "VirtualNetworkGatewayCannotBeDeleted"


def _missing(ctx: StepContext) -> ClientError:
    intent = ctx.intent
    return ClientError(
        f"VPN gateway {intent.gateway_name}, which this site adopts, was not found in resource "
        f"group {intent.resource_group}. Restore it, or choose the VNet again in the wizard "
        "(s2svpn then builds a gateway of the site's own).",
        permanent=True,
        code="GatewayMissing",
    )


# ---------------------------------------------------------------- provision (adopting)


def az_adopted_pip(ctx: StepContext) -> Done | Wait:
    """The adopted gateway's public IP(s), for pfSense's phase 1 (nothing is created)."""
    client = ctx.client("azure")
    gateway = client.get_gateway(ctx.intent)
    if gateway is None:
        raise _missing(ctx)
    if conflicts := adoption_conflicts(gateway, ctx.intent):  # before the site's first write
        raise ClientError(" ".join(conflicts), permanent=True, code="GatewayConflict")
    ips = client.gateway_public_ips(gateway)
    if not ips or any(not ip.ip_address for ip in ips):
        return wait_for(ctx, "other", f"VPN gateway {gateway.name}'s public IP is not known yet")
    addresses = [ip.ip_address for ip in ips]
    ctx.share(azure_public_ips=addresses)
    return Done(
        f"public IP {', '.join(addresses)} of the adopted VPN gateway {gateway.name} (adopted: "
        "kept at teardown unless it goes with the gateway)",
        ips[0].id,
        {"addresses": addresses},
    )


def az_adopted_gateway(ctx: StepContext) -> Done | Wait:
    """Adopt the existing gateway: its settings must agree with the site; never changed."""
    intent = ctx.intent
    gateway = ctx.client("azure").get_gateway(intent)
    if gateway is None:
        raise _missing(ctx)
    conflicts = adoption_conflicts(gateway, intent)
    if conflicts:
        raise ClientError(" ".join(conflicts), permanent=True, code="GatewayConflict")
    remember_azure(ctx.site, gateway=gateway.id)
    if not gateway.ready:
        return wait_for(
            ctx,
            "gateway",
            f"VPN gateway {gateway.name} (adopted) is {gateway.provisioning_state}; waiting for "
            "its build or update to finish",
        )
    bgp_ips = list(
        gateway.custom_bgp_ips if intent.bgp_mode == "apipa" else gateway.default_bgp_ips
    )
    if intent.bgp_mode == "apipa":
        bgp_ips = [intent.azure_apipa_ip, *(ip for ip in bgp_ips if ip != intent.azure_apipa_ip)]
    ctx.share(azure_bgp_ips=bgp_ips, azure_default_bgp_ips=list(gateway.default_bgp_ips))
    return Done(
        f"VPN gateway {gateway.name} adopted as it is (SKU {gateway.sku}, ASN {gateway.asn}, BGP "
        f"{', '.join(bgp_ips)}); this site adds only its local network gateway and connection",
        gateway.id,
        {"bgp_ips": bgp_ips},
    )


def adopting(specs: list[StepSpec]) -> list[StepSpec]:
    """A provision plan for a site that adopts a gateway: no GatewaySubnet step, the public IP
    and gateway steps read and check instead of creating, and the site's local network gateway
    waits for that check (a gateway that does not fit leaves nothing written in Azure)."""
    out = []
    for spec in specs:
        if spec.key == "az_subnet":
            continue
        if spec.key == "az_lng":
            spec = StepSpec(spec.key, spec.end, spec.title, spec.fn, ("az_pip",))
        if spec.key == "az_pip":
            spec = StepSpec(
                "az_pip",
                "azure",
                "Public IP address (of the adopted gateway)",
                az_adopted_pip,
                spec.depends_on,
            )
        elif spec.key == "az_gateway":
            spec = StepSpec(
                "az_gateway",
                "azure",
                "VPN gateway (adopted: checked, not changed)",
                az_adopted_gateway,
                ("az_pip",),
            )
        out.append(spec)
    return out


# ---------------------------------------------------------------- teardown


def _forget(site: Site, key: str) -> None:
    with transaction.atomic():
        fresh = Site.objects.select_for_update().get(pk=site.pk)
        fresh.azure_ids = {
            k: v for k, v in fresh.azure_ids.items() if not (k == key or k.startswith(key))
        }
        fresh.save(update_fields=["azure_ids"])
        site.azure_ids = fresh.azure_ids


# The key under which an adopting site records, before deleting it, that it inherited the gateway
# s2svpn built for another site (value: that site's slug). Teardown's gateway step forgets every
# key starting with "gateway" once the gateway is gone, so a re-run after a crash deletes on.
INHERITED = "gateway_built_for"


def deletes_gateway_subnet(site: Site) -> bool:
    """Does the site's teardown delete the GatewaySubnet along with a gateway it deletes?"""
    return (site.intent or {}).get("delete_gateway_subnet", True)


def _builder_released(ctx: StepContext, gateway) -> tuple[Site | None, str]:
    """(the site s2svpn built ``gateway`` for, why this site may delete it) when that site has
    given it up; (None, why it stays) otherwise; (None, "") when that site's teardown is still
    running and holds it (it decides: wait for it)."""
    slug = gateway.s2svpn_tag
    if not slug or gateway.name.lower() != f"s2svpn-{slug}-vpngw":
        return None, "s2svpn did not build it (it has no s2svpn tag of a site's gateway)"
    builder = Site.objects.filter(slug=slug).first()
    here = (ctx.site.subscription_id, ctx.site.arm_base_url, ctx.intent.resource_group)
    if builder is None or here != (
        builder.subscription_id,
        builder.arm_base_url,
        builder.get_intent().resource_group,
    ):
        # a gateway of another s2svpn installation (or a site deleted from the database):
        # nothing here says it is free
        return None, f"s2svpn built it for site {slug}, which this s2svpn does not know"
    last = builder.runs.order_by("-pk").first()
    if last is None or last.kind != RunKind.TEARDOWN:
        return None, f"site {slug}, which built it, still uses it"
    if "gateway" in builder.azure_ids:
        if last.active:
            return None, ""
        return None, f"site {slug}, which built it, still holds it (its teardown did not finish)"
    when = "was removed earlier" if builder.status == SiteStatus.REMOVED else "is being removed"
    return builder, f"built by s2svpn for site {slug}, which {when}; no connection uses it any more"


def _adopted_gateway(ctx: StepContext) -> Done | Wait | None:
    """An adopting site's teardown: keep the gateway (a ``Done`` saying why), wait for the
    teardown of the site that built it, or ``None``: this site deletes it, its public IPs (those
    its ipConfigurations reference and s2svpn tagged for that site, read from Azure now) and the
    GatewaySubnet when that site's own teardown would have (recorded first, for a re-run)."""
    intent, site = ctx.intent, ctx.site
    if site.azure_ids.get(INHERITED):
        return None  # decided by an earlier check of this step: delete on
    client = ctx.client("azure")
    gateway = client.get_gateway(intent)
    if gateway is None or gateway.provisioning_state == "Deleting":
        return _kept(ctx, "gateway", f"VPN gateway {intent.gateway_name} is gone or being deleted")
    users = other_connections(client.gateway_connections(intent), intent)
    if users:
        why = kept_message("VPN gateway", intent.gateway_name, users)
        return _kept(
            ctx, "gateway", f"{why} (this site adopted it; s2svpn did not build it for this site)"
        )
    builder, why = _builder_released(ctx, gateway)
    if builder is None and not why:
        return wait_for(
            ctx,
            "other",
            f"VPN gateway {gateway.name}: the teardown of site {gateway.s2svpn_tag}, which built "
            "it, is running; it decides whether the gateway goes",
        )
    if builder is None:
        return _kept(
            ctx,
            "gateway",
            f"VPN gateway {gateway.name} kept: this site adopted it, and {why}. No connection "
            "uses it any more, and Azure bills it by the hour: delete it, its public IP(s) and "
            "the GatewaySubnet in the Azure portal if nothing else needs them",
        )
    ips = [ip for ip in client.gateway_public_ips(gateway) if ip.s2svpn_tag == builder.slug]
    goes = {f"public_ip_{i + 1}": ip.id for i, ip in enumerate(ips)}
    if deletes_gateway_subnet(builder) and gateway.subnet_id:
        goes["subnet"] = gateway.subnet_id
    ctx.share(gateway_inherited=why)  # for the messages of this step and the next ones
    remember_azure(site, **goes, **{INHERITED: builder.slug})
    ctx.log(f"VPN gateway {gateway.name} to be deleted: {why}")
    return None


def _kept(ctx: StepContext, key: str, why: str) -> Done:
    _forget(ctx.site, key)
    ctx.log(why)
    return Done(why, data={"kept": True})


def _gateway_kept(ctx: StepContext) -> str:
    """Why the VPN gateway this site built stays ("" when this site may delete it): other
    connections use it (asked of Azure now, not of s2svpn's database)."""
    intent = ctx.intent
    users = other_connections(ctx.client("azure").gateway_connections(intent), intent)
    return kept_message("VPN gateway", intent.gateway_name, users) if users else ""


def _with_gateway_kept(ctx: StepContext, kind: str, key: str) -> str:
    """Why the gateway's public IPs / GatewaySubnet stay: the gateway is still there (or, for an
    adopting site, it did not inherit them with the gateway)."""
    intent = ctx.intent
    if not intent.owns_gateway:
        if any(k.startswith(key) for k in ctx.site.azure_ids):
            return ""  # inherited with the gateway, which this site's teardown deleted
        if ctx.data.get("gateway_inherited"):  # the gateway went, but not this with it
            if key == "subnet":
                return (
                    f"{kind} kept: the VPN gateway {intent.gateway_name} was deleted, but the "
                    "site that built it keeps its GatewaySubnet at teardown "
                    "(delete_gateway_subnet off)"
                )
            return (
                f"{kind} kept: the deleted VPN gateway {intent.gateway_name} used none that "
                "s2svpn created for the site that built it (no s2svpn tag)"
            )
        return f"{kind} kept: it belongs to the adopted VPN gateway {intent.gateway_name}"
    client = ctx.client("azure")
    gateway = client.get_gateway(intent)
    if gateway is None or gateway.provisioning_state == "Deleting":
        return ""
    users = other_connections(client.gateway_connections(intent), intent)
    return kept_message(kind, intent.gateway_name, users or ["(none listed)"])


def delete_inherited_ips(ctx: StepContext) -> Done | Wait:
    """Delete the public IPs of the gateway this site inherited (their ids recorded before it
    was deleted)."""
    ids = [v for k, v in sorted(ctx.site.azure_ids.items()) if k.startswith("public_ip_")]
    outcome = ctx.client("azure").delete_public_ips_by_id(ids, wait=False)
    did = what_was_done(ctx, "deleted" if outcome in ("deleting", "deleted") else "already gone")
    if outcome == "deleting":
        return wait_for(ctx, "other", "public IP is being deleted")
    _forget(ctx.site, "public_ip_")
    return Done(f"public IP {did} (of the VPN gateway deleted above)")


def unless_shared(
    kind: str, key: str, delete: Callable[[StepContext], Done | Wait]
) -> Callable[[StepContext], Done | Wait]:
    """Teardown's ``delete`` step for the gateway (``key == "gateway"``), its public IPs or the
    GatewaySubnet, run only when nothing else still uses the gateway; else kept and said so."""

    def step(ctx: StepContext) -> Done | Wait:
        if not ctx.step.data.get("deleting"):
            if key == "gateway" and not ctx.intent.owns_gateway:
                if (decided := _adopted_gateway(ctx)) is not None:
                    return decided
            elif why := (
                _gateway_kept(ctx) if key == "gateway" else _with_gateway_kept(ctx, kind, key)
            ):
                return _kept(ctx, key, why)
        try:
            outcome = delete(ctx)
        except ClientError as error:
            # a connection added between the check and the DELETE: Azure refuses; keep it
            if key == "gateway" and error.code == GATEWAY_IN_USE:
                users = other_connections(
                    ctx.client("azure").gateway_connections(ctx.intent), ctx.intent
                )
                if users and not ctx.intent.owns_gateway:  # not inherited after all: what
                    for inherited in (INHERITED, "public_ip_", "subnet"):  # came with it stays
                        _forget(ctx.site, inherited)
                    ctx.share(gateway_inherited="")
                if users:
                    return _kept(ctx, key, kept_message(kind, ctx.intent.gateway_name, users))
            raise
        if isinstance(outcome, Wait):
            ctx.step.data["deleting"] = True
        elif key == "gateway" and (why := ctx.data.get("gateway_inherited")):
            outcome = Done(
                f"VPN gateway {ctx.intent.gateway_name} deleted: {why}", outcome.resource_id
            )
        return outcome

    step.__name__ = step.__qualname__ = f"delete_{key.rstrip('_')}_unless_shared"
    return step
