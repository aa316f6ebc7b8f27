"""Admin for the monitor's rows (read-only: the poller writes them)."""

from __future__ import annotations

from django.contrib import admin

from monitor.models import Alert, Sample, Snapshot, Transition


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
