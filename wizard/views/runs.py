"""A site's runs: the progress page (htmx polling that stops with 286 when the run ends), Retry,
Resume, Cancel and the confirmed tear-down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from audit.log import record
from audit.models import Action
from s2svpn.roles import OPERATE, requires
from wizard.models import Run, RunKind, RunStatus, Site, SiteStatus, StepState
from wizard.plan import build_plan
from wizard.runs import RunBusy, cancel_run, retry_run
from wizard.views.common import enqueue, hourly, monitor_url, start_site_run

STALL_SECONDS = 30  # a step overdue this long offers Resume


def _run_context(site: Site, run: Run) -> dict[str, Any]:
    steps = list(run.steps.all())
    groups = []
    for end, title in (("azure", "Azure"), ("pfsense", "pfSense"), ("both", "Both ends")):
        members = [s for s in steps if s.end == end]
        if members:
            groups.append({"end": end, "title": title, "steps": members})
    return {
        "site": site,
        "run": run,
        "groups": groups,
        "steps": steps,
        "intent": site.get_intent(),
        "hourly": hourly(site),
        "can_retry": run.status in (RunStatus.FAILED, RunStatus.ERRORED),
        "can_resume": run.status == RunStatus.CANCELLED or _stalled(run, steps),
        "poll_url": reverse("wizard:run", args=[site.slug, run.pk]),
        "monitor_url": monitor_url(site),
    }


def _stalled(run: Run, steps: list) -> bool:
    """A live run whose re-checks are overdue (e.g. every worker was down for a while)."""
    if not run.active or run.is_terminal:
        return False
    late = timezone.now() - timedelta(seconds=STALL_SECONDS)
    return any(
        (s.state == StepState.WAITING and s.next_check_at and s.next_check_at < late)
        or (s.state == StepState.QUEUED and s.queued_at and s.queued_at < late)
        for s in steps
    )


def _site_run(slug: str, run_id: int) -> tuple[Site, Run]:
    site = get_object_or_404(Site, slug=slug)
    return site, get_object_or_404(Run, pk=run_id, site=site)


def _to_run(site: Site, run: Run) -> HttpResponseRedirect:
    return redirect(reverse("wizard:run", args=[site.slug, run.pk]))


@requires(OPERATE)
def run_progress(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    site, run = _site_run(slug, run_id)
    context = _run_context(site, run)
    if request.htmx and not request.htmx.boosted:
        html = render_to_string("wizard/partials/run.html", context, request)
        if run.is_terminal:
            return HttpResponseStopPolling(html)
        return HttpResponse(html)
    return render(request, "wizard/run.html", context)


@requires(OPERATE)
@require_POST
def run_retry(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    site, run = _site_run(slug, run_id)
    if run.status not in (RunStatus.FAILED, RunStatus.ERRORED):
        messages.info(request, "Only a failed run can be retried.")
        return _to_run(site, run)
    try:
        enqueue(request, lambda: _retry(site, run))
    except RunBusy as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Retrying: the failed steps run again; finished ones are kept.")
    return _to_run(site, run)


@requires(OPERATE)
@require_POST
def run_resume(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    """Continue a cancelled run, or nudge a live one whose re-checks were lost."""
    site, run = _site_run(slug, run_id)

    def resume() -> None:
        if run.is_terminal:
            retry_run(run)
            _set_status(site, run)
        _dispatch_waiting(run)
        record(Action.RESUME, site, f"run #{run.pk}")

    try:
        enqueue(request, resume)
    except RunBusy as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Resumed: waiting steps are checked again now.")
    return _to_run(site, run)


def _retry(site: Site, run: Run) -> None:
    retry_run(run)
    _set_status(site, run)
    record(Action.RETRY, site, f"run #{run.pk}")


def _set_status(site: Site, run: Run) -> None:
    status = SiteStatus.TEARING_DOWN if run.kind == RunKind.TEARDOWN else SiteStatus.PROVISIONING
    Site.objects.filter(pk=site.pk).update(status=status)


def _dispatch_waiting(run: Run) -> None:
    from wizard.tasks import advance_run, execute_step

    ids = list(
        run.steps.filter(state__in=[StepState.QUEUED, StepState.WAITING]).values_list(
            "pk", flat=True
        )
    )

    def send() -> None:
        for step_id in ids:
            execute_step.delay(step_id)
        advance_run.delay(run.pk)

    transaction.on_commit(send)


@requires(OPERATE)
@require_POST
def run_cancel(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    site, run = _site_run(slug, run_id)
    cancel_run(run)
    record(Action.CANCEL, site, f"run #{run.pk}")
    messages.info(
        request, "Cancelled. Nothing already created is removed; Resume continues the run."
    )
    return _to_run(site, run)


@requires(OPERATE)
def teardown(request: HttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            error = (
                "Tick the box to confirm: tear-down deletes the connection, the local network "
                "gateway, the VPN gateway and its public IP(s), and s2svpn's pfSense objects."
            )
        else:
            try:
                run = start_site_run(request, site, RunKind.TEARDOWN, SiteStatus.TEARING_DOWN)
            except RunBusy as exc:
                messages.error(request, str(exc))
                return redirect(site.get_absolute_url())
            return _to_run(site, run)
    return render(
        request,
        "wizard/teardown.html",
        {
            "site": site,
            "intent": site.get_intent(),
            "hourly": hourly(site),
            "error": error,
            "plan": build_plan(site),
        },
    )
