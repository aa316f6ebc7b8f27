"""Status pages: read the database only (the poller writes it); thin views over monitor.present.

* ``/status/`` — verdict counts and a card per site, problems first, paginated, htmx-refreshed
  every 10 s (the partial ``monitor/_board.html`` when ``request.htmx``). Its query count does
  not depend on the number of sites.
* ``/status/<slug>/`` — one site: both halves, route tables vs the intent, findings with their
  actions, recent transitions and alerts.
* POST actions (CSRF): reset the Azure gateway, poll now, re-push pfSense — each only enqueues
  a task (nothing here calls Azure or pfSense).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from audit.log import record
from audit.models import Action
from monitor import clock, poller, present
from monitor.models import VERDICT_ORDER, Alert, Transition
from s2svpn.roles import OPERATE, VIEW_STATUS, requires
from wizard.models import Site
from wizard.views.common import enqueue

FILTERS = ("down", "degraded", "unknown", "healthy", "nodata")


def _page_size() -> int:
    return settings.S2SVPN_STATUS_PAGE_SIZE


def monitored_sites():
    return poller.monitored_sites()  # active sites, and those a pfSense push is working on


@requires(VIEW_STATUS)
def status_page(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    counts = {key: 0 for key in FILTERS}
    for row in monitored_sites().values("snapshot__verdict").annotate(n=Count("pk")):
        counts[row["snapshot__verdict"] or "nodata"] += row["n"]
    total = sum(counts.values())

    # neither the readings (their summary is stored) nor secrets or CA bundles are needed here
    sites = (
        monitored_sites()
        .select_related("snapshot")
        .defer(
            "snapshot__azure",
            "snapshot__pfsense",
            "azure_ids",
            "pfsense_ids",
            "client_secret",
            "pfsense_api_key",
            "psk",
            "apprise_urls",
            "arm_ca_bundle",
            "pfsense_ca_bundle",
        )
    )
    verdict = request.GET.get("verdict", "")
    if verdict == "nodata":
        sites = sites.filter(snapshot__isnull=True)
    elif verdict in FILTERS:
        sites = sites.filter(snapshot__verdict=verdict)
    query = request.GET.get("q", "").strip()
    if query:
        sites = sites.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    severity = Case(
        *[When(snapshot__verdict=v, then=Value(n)) for v, n in VERDICT_ORDER.items()],
        default=Value(len(VERDICT_ORDER)),
        output_field=IntegerField(),
    )
    sites = sites.annotate(severity=severity).order_by("severity", "name", "pk")
    paginator = Paginator(sites, _page_size())
    if not query:  # the verdict counts above already know how many there are
        paginator.__dict__["count"] = counts[verdict] if verdict in FILTERS else total
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "cards": present.cards(list(page.object_list), now),
        "page": page,
        "counts": counts,
        "total": total,
        "verdict": verdict,
        "query": query,
        "now": now,
        "filters": [
            (key, label, counts[key])
            for key, label in (
                ("down", "Down"),
                ("degraded", "Degraded"),
                ("unknown", "Unknown"),
                ("healthy", "Healthy"),
                ("nodata", "Not polled yet"),
            )
        ],
        "interval": settings.S2SVPN_POLL_INTERVAL,
    }
    template = "monitor/_board.html" if request.htmx else "monitor/status.html"
    return render(request, template, context)


@requires(VIEW_STATUS)
def site_page(request: HttpRequest, slug: str) -> HttpResponse:
    now = clock.now()
    site = get_object_or_404(Site.objects.select_related("snapshot"), slug=slug)
    card = present.cards([site], now, detail=True)[0]
    context = {
        "card": card,
        "site": site,
        "routes": present.route_sections(card),
        "halves": [h for h in (card.azure, card.pfsense) if h is not None],
        "transitions": Transition.objects.filter(site=site)[:50],
        "alerts": Alert.objects.filter(site=site)[:10],
        "week_timeline": present.week_timeline(site, card, now),
        "now": now,
    }
    template = "monitor/_site.html" if request.htmx else "monitor/site.html"
    return render(request, template, context)


@requires(OPERATE)
@require_POST
def reset_gateway(request: HttpRequest, slug: str) -> HttpResponse:
    from monitor.tasks import reset_gateway as task

    site = get_object_or_404(Site, slug=slug)
    enqueue(request, lambda: transaction.on_commit(lambda: task.delay(site.pk)))
    record(Action.RESET_GATEWAY, site)
    messages.success(
        request,
        f"Reset of {site.name}'s VPN gateway requested: Azure re-resolves the local network "
        "gateway's name; tunnels on that gateway drop for a minute or two.",
    )
    return redirect("monitor:site", slug=site.slug)


@requires(OPERATE)
@require_POST
def poll_now(request: HttpRequest, slug: str) -> HttpResponse:
    from monitor.tasks import poll_sites

    site = get_object_or_404(Site, slug=slug)
    enqueue(request, lambda: transaction.on_commit(lambda: poll_sites.delay([site.pk])))
    record(Action.POLL, site)
    messages.success(request, f"{site.name} will be polled now; the page refreshes by itself.")
    return redirect("monitor:site", slug=site.slug)


@requires(OPERATE)
@require_POST
def repush(request: HttpRequest, slug: str) -> HttpResponse:
    from monitor.jobs import start_repush

    site = get_object_or_404(Site, slug=slug)
    ok, message = enqueue(request, lambda: start_repush(site))
    if ok:
        record(Action.PUSH, site, message)
    (messages.success if ok else messages.error)(request, message)
    return redirect("monitor:site", slug=site.slug)
