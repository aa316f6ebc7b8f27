from __future__ import annotations

from django.conf import settings
from django.db import models


class Action(models.TextChoices):
    LAUNCH = "launch", "Launched a provisioning run"
    RETRY = "retry", "Retried a run"
    RESUME = "resume", "Resumed a run"
    CANCEL = "cancel", "Cancelled a run"
    PUSH = "push", "Pushed pfSense"
    TEARDOWN = "teardown", "Tore down"
    POLL = "poll", "Polled now"
    RESET_GATEWAY = "reset_gateway", "Reset the Azure gateway"
    SECRET = "secret", "Changed a secret"
    ROLE = "role", "Changed a role"


class AuditEvent(models.Model):
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # kept when the user or the site is deleted later
    actor_name = models.CharField("who", max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    site = models.ForeignKey("wizard.Site", null=True, blank=True, on_delete=models.SET_NULL)
    site_name = models.CharField("site", max_length=80, blank=True)
    detail = models.CharField(max_length=300, blank=True, help_text="Never a secret's value.")

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        who = self.actor_name or "system"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {who}: {self.get_action_display()} {self.site_name}"
