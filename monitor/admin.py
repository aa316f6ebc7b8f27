"""Admin for the monitor's rows (read-only: the poller writes them), and the monitor's column
and actions on the wizard's Site list."""

from __future__ import annotations

from django.contrib import admin

from monitor.admin_actions import ACTIONS, verdict_badge
from monitor.models import Alert, Sample, Snapshot, Transition
from wizard.admin import site_list_extras

site_list_extras.add_column(verdict_badge, select_related=("snapshot",))
for action in ACTIONS:
    site_list_extras.add_action(action)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnly):
    list_display = ("site", "verdict", "reason", "polled_at", "verdict_since")
    list_filter = ("verdict",)
    search_fields = ("site__name", "site__slug")
    list_select_related = ("site",)


@admin.register(Transition)
class TransitionAdmin(ReadOnly):
    list_display = ("at", "site", "dimension", "old", "new", "reason")
    list_filter = ("dimension", "new")
    search_fields = ("site__name", "site__slug", "reason")
    date_hierarchy = "at"
    list_select_related = ("site",)


@admin.register(Alert)
class AlertAdmin(ReadOnly):
    list_display = ("at", "site", "kind", "subject", "muted", "delivery")
    list_filter = ("kind", "muted")
    search_fields = ("site__name", "subject")
    list_select_related = ("site",)


@admin.register(Sample)
class SampleAdmin(ReadOnly):
    list_display = ("site", "resolution", "bucket", "traffic_in", "traffic_out", "polls")
    list_filter = ("resolution",)
    list_select_related = ("site",)
