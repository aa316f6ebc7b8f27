"""What every step of a run shares: when it started, how it waits for Azure (ETA and re-check),
what it did over all its checks, and the Azure ids it remembers on the site."""

from __future__ import annotations

import time

from django.db import transaction

from s2svpn.clients.errors import ClientError
from wizard.context import StepContext
from wizard.models import Site
from wizard.results import Wait
from wizard.timing import expected, recheck


def step_started(ctx: StepContext) -> float:
    if "started_at" not in ctx.step.data:
        ctx.step.data["started_at"] = time.time()
    return ctx.step.data["started_at"]


def wait_for(ctx: StepContext, what: str, message: str) -> Wait:
    started = step_started(ctx)
    eta = max(started + expected(ctx, what) - time.time(), 0.0)
    did = {"did": ctx.step.data["did"]} if "did" in ctx.step.data else {}
    return Wait(
        recheck(ctx, what, started),
        message,
        eta_seconds=eta if what == "gateway" else None,
        data={"started_at": started, **did},
    )


def what_was_done(ctx: StepContext, action: str) -> str:
    """What the step did over all its checks: a resource created (or deleted) on the first check
    and found finished on a later one was created (deleted), not "unchanged" ("already gone")."""
    first = ctx.step.data.setdefault("did", action)
    return first if first in ("created", "updated", "deleted") else action


def remember_azure(site: Site, **ids: str) -> None:
    if all(site.azure_ids.get(k) == v for k, v in ids.items() if v):
        return  # known already (every re-check): no write
    with transaction.atomic():
        fresh = Site.objects.select_for_update().get(pk=site.pk)
        fresh.azure_ids = {**fresh.azure_ids, **{k: v for k, v in ids.items() if v}}
        fresh.save(update_fields=["azure_ids"])
        site.azure_ids = fresh.azure_ids


def azure_succeeded(state: str) -> bool:
    return state in ("Succeeded", "")


def failed_in_azure(kind: str, name: str, state: str) -> ClientError:
    return ClientError(
        f"Azure reports the {kind} {name} as {state}. Open it in the Azure portal for the reason, "
        "then Retry (s2svpn re-applies the same settings).",
        permanent=True,
        code="ProvisioningFailed",
    )


def settled(ctx: StepContext, what: str, name: str, state: str, **ids: str) -> Wait | None:
    """Remember a resource Azure is creating; raise if Azure failed it; a ``Wait`` until done."""
    remember_azure(ctx.site, **ids)
    if state == "Failed":
        raise failed_in_azure(what, name, "Failed")
    if not azure_succeeded(state):
        return wait_for(ctx, "other", f"{what} {name} is being created")
    return None
