"""Admin for stored sites: secrets are write-only and masked; Azure resource ids read-only."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from s2svpn.roles import OPERATE
from wizard.forms.secrets import BoundSecretsMixin, KeepSecretsMixin
from wizard.models import Run, Site, Step

SECRET_FIELDS = ("client_secret", "pfsense_api_key", "psk", "apprise_urls")


class SiteAdminForm(BoundSecretsMixin, KeepSecretsMixin, forms.ModelForm):
    """The same validation as the wizard (the model's validators and constraints) and the same
    rule for stored secrets: one whose endpoint changes must be entered again."""

    class Meta:
        model = Site
        fields = "__all__"


class SiteListExtras:
    """Columns and actions other apps add to the Site list (the monitor: its verdict column,
    "Poll now", "Reset Azure gateway", "Re-push pfSense"). ``wizard`` never imports them; the
    other app registers them when its ``admin`` module is loaded (admin autodiscovery)."""

    def __init__(self) -> None:
        self.columns: list[Callable] = []
        self.actions: list[Callable] = []  # SiteAdmin.actions is this list
        self.select_related: list[str] = []

    def add_column(self, column: Callable, *, select_related: tuple[str, ...] = ()) -> None:
        if column not in self.columns:
            self.columns.append(column)
        self.select_related += [name for name in select_related if name not in self.select_related]

    def add_action(self, action: Callable) -> None:
        if action not in self.actions:
            self.actions.append(action)


site_list_extras = SiteListExtras()


def _masked(value) -> str:
    return "••••••••" if value else "—"


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    form = SiteAdminForm
    list_display = ("name", "slug", "sandbox_badge", "status", "location", "psk_set", "updated")
    list_filter = ("status", "sandbox", "azure_auth", "location")
    search_fields = ("name", "slug", "resource_group", "vnet_name", "pfsense_url")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("azure_ids_table", "pfsense_ids", "created", "updated")
    exclude = ("azure_ids",)
    actions = site_list_extras.actions
    fieldsets = (
        (None, {"fields": ("name", "slug", "sandbox", "status", "maintenance")}),
        (
            "Azure",
            {
                "fields": (
                    "azure_auth",
                    "tenant_id",
                    "client_id",
                    "client_secret",
                    "subscription_id",
                    "resource_group",
                    "location",
                    "vnet_name",
                    "arm_base_url",
                    "arm_ca_bundle",
                )
            },
        ),
        (
            "pfSense",
            {
                "fields": (
                    "pfsense_url",
                    "pfsense_api_key",
                    "pfsense_ca_bundle",
                    "pfsense_fingerprint",
                )
            },
        ),
        ("Tunnel", {"fields": ("psk", "dns_servers", "intent")}),
        ("Alerts", {"fields": ("alert_emails", "apprise_urls")}),
        ("Created resources", {"fields": ("azure_ids_table", "pfsense_ids", "created", "updated")}),
    )

    def get_list_display(self, request):
        display = list(super().get_list_display(request))
        return (*display[:2], *site_list_extras.columns, *display[2:])

    def get_list_select_related(self, request):
        return tuple(site_list_extras.select_related) or super().get_list_select_related(request)

    def has_operate_permission(self, request) -> bool:
        """The Site list's actions (poll, reset, re-push) are an Operator's (s2svpn.roles)."""
        return request.user.has_perm(OPERATE)

    @admin.display(description="Mode", ordering="sandbox")
    def sandbox_badge(self, obj: Site) -> str:
        return (
            format_html('<span class="badge {}">{}</span>', "sandbox", "sandbox")
            if obj.sandbox
            else "live"
        )

    @admin.display(description="PSK")
    def psk_set(self, obj: Site) -> str:
        return _masked(obj.psk)

    @admin.display(description="Azure resource ids")
    def azure_ids_table(self, obj: Site) -> str:
        if not obj.azure_ids:
            return "—"
        rows = format_html_join(
            "", "<tr><th>{}</th><td><code>{}</code></td></tr>", sorted(obj.azure_ids.items())
        )
        return format_html("<table>{}</table>", rows)


class StepInline(admin.TabularInline):
    model = Step
    extra = 0
    can_delete = False
    fields = ("key", "end", "state", "attempts", "started", "finished", "message", "error")
    readonly_fields = fields


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("pk", "site", "kind", "status", "created", "finished")
    list_filter = ("kind", "status")
    search_fields = ("site__name", "site__slug")
    readonly_fields = (
        "site",
        "kind",
        "status",
        "active",
        "created",
        "started",
        "finished",
        "error",
        "data",
    )
    inlines = [StepInline]
