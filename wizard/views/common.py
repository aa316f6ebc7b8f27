"""What the wizard's views share: step URLs and navigation, the enqueue helper, small facts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from audit.log import record
from audit.models import Action
from s2svpn import cost
from s2svpn.clients.errors import ClientError
from wizard import forms as wf
from wizard.models import Run, RunKind, Site, SiteStatus
from wizard.runs import start_run

T = TypeVar("T")
AUDITED_KINDS = {RunKind.PROVISION: Action.LAUNCH, RunKind.TEARDOWN: Action.TEARDOWN}


def enqueue(request: HttpRequest, work: Callable[[], T]) -> T:
    """Do ``work`` in one transaction; the tasks it sends leave the moment it commits.

    Every view that enqueues (launch, retry, resume, tear-down, poll, push, gateway reset) calls
    this. A broker that refuses the tasks never raises here: ``s2svpn.broker.Task`` logs what it
    could not send (the run is in the database and resumes by itself) and
    ``s2svpn.middleware.BrokerDownMiddleware`` tells the user on the next page.
    """
    with transaction.atomic():
        return work()


def start_site_run(request: HttpRequest, site: Site, kind: str, status: str, **fields: Any) -> Run:
    """Start a run of ``kind`` and set the site's status (and ``fields``) with it, or neither."""

    def work() -> Run:
        run = start_run(site, kind)
        site.status = status
        for name, value in fields.items():
            setattr(site, name, value)
        site.save(update_fields=["status", *fields, "updated"])
        record(AUDITED_KINDS[kind], site, f"run #{run.pk}")
        return run

    return enqueue(request, work)


def step_url(site: Site, step: str) -> str:
    return reverse("wizard:step", args=[site.slug, step])


def validate_url(site: Site | None, step: str) -> str:
    if site is None or not site.pk:
        return reverse("wizard:new_validate")
    return reverse("wizard:validate", args=[site.slug, step])


def reached(site: Site | None) -> int:
    """The index of the furthest step the draft may open."""
    if site is None or not site.pk:
        return 0
    if site.status != SiteStatus.DRAFT:
        return len(wf.STEPS) - 1
    key = site.wizard_step or "vnet"
    return wf.STEP_KEYS.index(key) if key in wf.STEP_KEYS else 1


def advance(site: Site, step: str) -> str:
    """Remember how far the wizard got; return the next step's key."""
    index = wf.STEP_KEYS.index(step)
    nxt = wf.STEP_KEYS[min(index + 1, len(wf.STEP_KEYS) - 1)]
    if site.status == SiteStatus.DRAFT and wf.STEP_KEYS.index(nxt) > reached(site):
        site.wizard_step = nxt
    return nxt


def _nav(site: Site | None, current: str) -> list[dict[str, Any]]:
    furthest = reached(site)
    out = []
    for index, info in enumerate(wf.STEPS):
        url = ""
        if site is not None and site.pk and index <= furthest:
            url = step_url(site, info.key)
        elif info.key == "site":
            url = reverse("wizard:new")
        out.append(
            {
                "n": index,
                "key": info.key,
                "title": info.short,
                "url": url,
                "current": info.key == current,
                "done": index < furthest,
            }
        )
    return out


def step_context(site: Site | None, step: str, **extra: Any) -> dict[str, Any]:
    index = wf.STEP_KEYS.index(step)
    prev = wf.STEP_KEYS[index - 1] if index > 0 else None
    return {
        "site": site,
        "step": step,
        "step_info": wf.STEPS[index],
        "step_number": index,
        "nav": _nav(site, step),
        "back_url": step_url(site, prev) if (site and site.pk and prev) else "",
        **extra,
    }


def latest_run(site: Site, kind: str | None = None) -> Run | None:
    runs = site.runs.all()
    if kind:
        runs = runs.filter(kind=kind)
    return runs.first()


def monitor_url(site: Site) -> str:
    return reverse("monitor:site", args=[site.slug])


def client_message(exc: Exception, what: str) -> str:
    if isinstance(exc, ClientError):
        return exc.message
    return (
        f"Could not reach {what}: {type(exc).__name__}: {exc}. Check the address and that it "
        "answers from this server."
    )


def hourly(site: Site) -> float | None:
    intent = site.get_intent()
    try:
        return cost.estimate(intent.sku, 1, active_active=intent.active_active).hourly_usd
    except ValueError:
        return None
