"""Steps for one Azure VPN gateway shared by several homes (s2svpn.gateway_share).

Provision: a site that adopts an existing gateway (``SiteIntent.existing_gateway``) creates no
GatewaySubnet, public IP nor gateway; it reads the gateway's public IP(s) for pfSense's phase 1,
checks the gateway's BGP settings agree with the site (never sending a PUT to it: that would touch
every other connection on it) and waits while someone else's build or update runs.

Teardown: the gateway is deleted only when this site built it *and* Azure lists no other
connection on it at teardown time (other s2svpn sites, or the user's own connections); its public
IPs and the GatewaySubnet go only with it. Whatever is kept is said in the run log.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from s2svpn.clients.errors import ClientError
from s2svpn.gateway_share import adoption_conflicts, kept_message, other_connections
from wizard.context import StepContext
from wizard.models import Site
from wizard.results import Done, StepSpec, Wait
from wizard.step_helpers import remember_azure, wait_for

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
        f"public IP {', '.join(addresses)} of the adopted VPN gateway {gateway.name} (not ours: "
        "kept at teardown)",
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


def _gateway_kept(ctx: StepContext) -> str:
    """Why the VPN gateway stays ("" when this site may delete it): adopted, or other
    connections use it (asked of Azure now, not of s2svpn's database)."""
    intent = ctx.intent
    users = other_connections(ctx.client("azure").gateway_connections(intent), intent)
    if not intent.owns_gateway:
        if users:
            return kept_message("VPN gateway", intent.gateway_name, users) + (
                " (this site adopted it; s2svpn did not build it for this site)"
            )
        return (
            f"VPN gateway {intent.gateway_name} kept: this site adopted it (s2svpn did not build "
            "it for this site). No connection uses it any more, and Azure bills it by the hour: "
            "delete it, its public IP(s) and the GatewaySubnet in the Azure portal if nothing "
            "else needs them"
        )
    return kept_message("VPN gateway", intent.gateway_name, users) if users else ""


def _with_gateway_kept(ctx: StepContext, kind: str) -> str:
    """Why the gateway's public IPs / GatewaySubnet stay: the gateway is still there."""
    intent = ctx.intent
    if not intent.owns_gateway:
        return f"{kind} kept: it belongs to the adopted VPN gateway {intent.gateway_name}"
    client = ctx.client("azure")
    gateway = client.get_gateway(intent)
    if gateway is None or gateway.provisioning_state == "Deleting":
        return ""
    users = other_connections(client.gateway_connections(intent), intent)
    return kept_message(kind, intent.gateway_name, users or ["(none listed)"])


def unless_shared(
    kind: str, key: str, delete: Callable[[StepContext], Done | Wait]
) -> Callable[[StepContext], Done | Wait]:
    """Teardown's ``delete`` step for the gateway (``key == "gateway"``), its public IPs or the
    GatewaySubnet, run only when nothing else still uses the gateway; else kept and said so."""

    def step(ctx: StepContext) -> Done | Wait:
        if not ctx.step.data.get("deleting"):
            why = _gateway_kept(ctx) if key == "gateway" else _with_gateway_kept(ctx, kind)
            if why:
                _forget(ctx.site, key)
                ctx.log(why)
                return Done(why, data={"kept": True})
        try:
            outcome = delete(ctx)
        except ClientError as error:
            # a connection added between the check and the DELETE: Azure refuses; keep it
            if key == "gateway" and error.code == GATEWAY_IN_USE and (why := _gateway_kept(ctx)):
                _forget(ctx.site, key)
                ctx.log(why)
                return Done(why, data={"kept": True})
            raise
        if isinstance(outcome, Wait):
            ctx.step.data["deleting"] = True
        return outcome

    step.__name__ = step.__qualname__ = f"delete_{key.rstrip('_')}_unless_shared"
    return step
