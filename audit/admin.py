"""The audit trail in the admin: read-only, for whoever holds ``audit.view_auditevent``."""

from __future__ import annotations

from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_name", "action", "site_name", "detail")
    list_filter = ("action",)
    search_fields = ("actor_name", "site_name", "detail")
    date_hierarchy = "at"
    readonly_fields = ("at", "actor", "actor_name", "action", "site", "site_name", "detail")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
