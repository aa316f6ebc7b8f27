"""Steps 1-7 of the wizard, walked through the table in :mod:`wizard.forms`, their live
validation, the review and Launch."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from s2svpn import netplan
from s2svpn.roles import OPERATE, requires
from wizard import forms as wf
from wizard.models import RunKind, Site, SiteStatus
from wizard.plan import build_plan, live_conflicts
from wizard.runs import RunBusy
from wizard.views.common import (
    advance,
    client_message,
    reached,
    start_site_run,
    step_context,
    step_url,
    validate_url,
)
from wizard.views.site_step import site_step


@requires(OPERATE)
def wizard_step(request: HttpRequest, slug: str, step: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    info = wf.STEP.get(step)
    if info is None:
        raise Http404("no such wizard step")
    if step == "site":
        return site_step(request, site)
    furthest = reached(site)
    if wf.STEP_KEYS.index(step) > furthest:
        messages.info(request, "Finish this step first; the later ones build on its answers.")
        return redirect(step_url(site, wf.STEP_KEYS[furthest]))
    if info.form is None:
        return _review(request, site)
    extra: dict[str, Any] = {}
    if request.method == "GET" and info.outside is not None:
        extra.update(_read_outside(request, site, info.outside))
    vurl = validate_url(site, step)
    if request.method == "POST":
        form = info.form(request.POST, site=site, validate_url=vurl)
        if form.is_valid():
            form.apply(site)
            nxt = advance(site, step)
            site.save()
            if form.shown_once:
                response = render(
                    request,
                    "wizard/psk_once.html",
                    step_context(site, step, psk=form.shown_once, next_url=step_url(site, nxt)),
                )
                response["Cache-Control"] = "no-store"
                return response
            return redirect(step_url(site, nxt))
    else:
        form = info.form(site=site, validate_url=vurl)
    wf.mark_invalid(form)
    return render(
        request,
        info.template,
        step_context(site, step, form=form, **extra, **info.extras(site, form)),
    )


def _read_outside(request: HttpRequest, site: Site, outside: wf.OutsideRead) -> dict[str, Any]:
    """Read what a step shows from a real end (VNets, pfSense preflight) and keep it."""
    if not request.GET.get("refresh") and wf.wizard_data(site).get(outside.key):
        return {}
    try:
        outside.read(site)
    except Exception as exc:
        return {"outside_error": client_message(exc, outside.end)}
    site.save(update_fields=["intent", "updated"])
    return {}


@requires(OPERATE)
@require_POST
def validate(request: HttpRequest, slug: str | None = None, step: str = "site") -> HttpResponse:
    """htmx live validation: the form is checked whole, the triggering field's message returned."""
    site = get_object_or_404(Site, slug=slug) if slug else None
    info = wf.STEP.get(step)
    if info is None or info.form is None or (site is None and step != "site"):
        raise Http404("no such wizard step")
    form = info.form(request.POST, site=site, validate_url=validate_url(site, step))
    form.is_valid()
    name = (request.htmx.trigger_name if request.htmx else None) or request.POST.get("_field", "")
    if name not in form.fields:
        return HttpResponse(status=204)
    html = render_to_string(
        "wizard/partials/feedback.html", {"field": form[name], "form": form}, request
    )
    if info.live_partial:
        context = {**info.extras(site, form), "oob": True}
        html += render_to_string(info.live_partial, context, request)
    return HttpResponse(html)


# --------------------------------------------------------------------------- review and launch


def review_problems(site: Site) -> list[dict[str, str]]:
    """Everything still wrong with the site, each with the step that fixes it."""
    problems = []
    intent = site.get_intent()
    for field, message in netplan.validate_intent(intent):
        problems.append(_problem(site, field, message, wf.FIELD_STEP.get(field, "site")))
    if not site.psk:
        problems.append(
            _problem(
                site, "psk", "No pre-shared key is stored yet; generate or type one.", "connection"
            )
        )
    if not site.vnet_name:
        problems.append(
            _problem(site, "vnet_name", "No virtual network is chosen; pick one.", "vnet")
        )
    return problems


def _problem(site: Site, field: str, message: str, step: str) -> dict[str, str]:
    return {"field": field, "message": message, "step": step, "url": step_url(site, step)}


def conflict_problems(site: Site, conflicts: list) -> list[dict[str, str]]:
    """Each conflict on the firewall, with the step whose answer resolves it."""
    return [
        _problem(site, c.field or "pfsense", c.message, wf.FIELD_STEP.get(c.field, "pfsense"))
        for c in conflicts
    ]


def _review(request: HttpRequest, site: Site) -> HttpResponse:
    plan = build_plan(site, live=True)
    return render(
        request,
        wf.STEP["review"].template,
        step_context(
            site,
            "review",
            plan=plan,
            problems=review_problems(site) + conflict_problems(site, plan.conflicts),
            intent=site.get_intent(),
            active_run=site.runs.filter(active=True).first(),
        ),
    )


@requires(OPERATE)
@require_POST
def launch(request: HttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    if review_problems(site) or live_conflicts(site):
        messages.error(request, "Fix the problems listed below before launching.")
        return redirect(step_url(site, "review"))
    try:
        run = start_site_run(
            request, site, RunKind.PROVISION, SiteStatus.PROVISIONING, wizard_step="review"
        )
    except RunBusy as exc:
        messages.error(request, str(exc))
        return redirect(site.get_absolute_url())
    return redirect(reverse("wizard:run", args=[site.slug, run.pk]))
