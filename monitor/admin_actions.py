"""Admin actions on the Site list and the verdict column, registered from ``monitor.apps``.

``wizard`` never imports ``monitor``: ``MonitorConfig.ready()`` extends the wizard's
``SiteAdmin`` at runtime with :func:`verdict_badge` (list column) and the actions
:func:`poll_now`, :func:`reset_azure_gateway` and :func:`repush_pfsense`.
"""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from monitor.models import VERDICT_COLOURS, Snapshot
from s2svpn.clients.errors import ClientError
from wizard.models import Site

log = logging.getLogger(__name__)
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


def do_reset_gateway(site: Site) -> str:
    """Reset the Azure gateway (task body). Returns what happened in words."""
    from wizard.services import azure_client

    try:
        azure_client(site).reset_gateway(site.get_intent())
    except ClientError as err:
        log.warning("gateway reset for %s failed: %s", site.slug, err.message)
        return f"failed: {err.message}"
    return "reset started"


def start_repush(site: Site) -> tuple[bool, str]:
    """Start a pfSense push run (the wizard's engine); (ok, message for the user)."""
    from wizard.engine import RunBusy, start_run
    from wizard.models import RunKind

    try:
        run = start_run(site, RunKind.PUSH)
    except RunBusy as err:
        return False, str(err)
    except Exception as err:  # e.g. the intent is incomplete
        return False, f"Could not start the pfSense push for {site.name}: {err}"
    return True, f"pfSense push #{run.pk} started for {site.name}."


@admin.action(description="Poll now")
def poll_now(modeladmin, request, queryset) -> None:
    from monitor.tasks import poll_sites

    ids = list(queryset.values_list("pk", flat=True))
    transaction.on_commit(lambda: poll_sites.delay(ids))
    modeladmin.message_user(request, f"Polling {len(ids)} site(s) now.", messages.SUCCESS)


@admin.action(description="Reset Azure gateway (re-resolves the home FQDN)")
def reset_azure_gateway(modeladmin, request, queryset) -> None:
    from monitor.tasks import reset_gateway

    count = 0
    for site in queryset:
        transaction.on_commit(lambda pk=site.pk: reset_gateway.delay(pk))
        count += 1
    modeladmin.message_user(
        request,
        f"Gateway reset requested for {count} site(s); their tunnels drop for a minute or two.",
        messages.SUCCESS,
    )


@admin.action(description="Re-push pfSense")
def repush_pfsense(modeladmin, request, queryset) -> None:
    for site in queryset:
        ok, message = start_repush(site)
        modeladmin.message_user(request, message, messages.SUCCESS if ok else messages.ERROR)


ACTIONS = (poll_now, reset_azure_gateway, repush_pfsense)


def extend_site_admin() -> None:
    """Add the verdict column and the actions to the registered ``SiteAdmin`` (idempotent)."""
    model_admin = admin.site._registry.get(Site)
    if model_admin is None:
        return
    cls = type(model_admin)
    if "verdict_badge" not in cls.list_display:
        display = list(cls.list_display)
        display.insert(min(2, len(display)), "verdict_badge")
        cls.list_display = tuple(display)
        cls.verdict_badge = staticmethod(verdict_badge)
        model_admin.list_display = cls.list_display
    actions = list(cls.actions or [])
    for action in ACTIONS:
        if action not in actions:
            actions.append(action)
    cls.actions = actions
    model_admin.actions = actions
    if "snapshot" not in (cls.list_select_related or ()):
        cls.list_select_related = ("snapshot",)
        model_admin.list_select_related = cls.list_select_related
