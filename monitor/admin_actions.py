"""The monitor's column and actions on the wizard's Site list, added through
``wizard.admin.site_list_extras`` by ``monitor.admin`` (``wizard`` never imports ``monitor``)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from audit.log import record
from audit.models import Action
from monitor import jobs
from monitor.models import VERDICT_COLOURS, Snapshot
from wizard.models import Site

LABELS = {"healthy": "Healthy", "degraded": "Degraded", "down": "Down", "unknown": "Unknown"}


@admin.display(description="Verdict", ordering="snapshot__verdict")
def verdict_badge(site: Site) -> str:
    try:
        snap = site.snapshot
    except Snapshot.DoesNotExist:
        return "—"
    return format_html(
        '<span class="verdict {}" title="{}">{}</span>',
        VERDICT_COLOURS.get(snap.verdict, "grey"),
        snap.reason,
        LABELS.get(snap.verdict, snap.verdict),
    )


@admin.action(description="Poll now", permissions=["operate"])
def poll_now(modeladmin, request, queryset) -> None:
    from monitor.tasks import poll_sites

    ids = list(queryset.values_list("pk", flat=True))
    transaction.on_commit(lambda: poll_sites.delay(ids))
    for site in queryset:
        record(Action.POLL, site, "from the admin")
    modeladmin.message_user(request, f"Polling {len(ids)} site(s) now.", messages.SUCCESS)


@admin.action(
    description="Reset Azure gateway (re-resolves the home FQDN)", permissions=["operate"]
)
def reset_azure_gateway(modeladmin, request, queryset) -> None:
    from monitor.tasks import reset_gateway

    count = 0
    for site in queryset:
        transaction.on_commit(lambda pk=site.pk: reset_gateway.delay(pk))
        record(Action.RESET_GATEWAY, site, "from the admin")
        count += 1
    modeladmin.message_user(
        request,
        f"Gateway reset requested for {count} site(s); their tunnels drop for a minute or two.",
        messages.SUCCESS,
    )


@admin.action(description="Re-push pfSense", permissions=["operate"])
def repush_pfsense(modeladmin, request, queryset) -> None:
    for site in queryset:
        ok, message = jobs.start_repush(site)
        if ok:
            record(Action.PUSH, site, message)
        modeladmin.message_user(request, message, messages.SUCCESS if ok else messages.ERROR)


ACTIONS = (poll_now, reset_azure_gateway, repush_pfsense)
