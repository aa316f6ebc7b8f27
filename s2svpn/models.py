"""Liveness rows: every worker and beat process refreshes its own row every few seconds."""

from __future__ import annotations

from django.db import models


class WorkerBeat(models.Model):
    """A worker's (or beat's) heartbeat: when it last beat and which steps it is executing, so a
    step whose worker went silent is re-dispatched at once instead of after its lease."""

    name = models.CharField(max_length=200, unique=True)  # node name and pid
    kind = models.CharField(max_length=10, default="worker")  # worker | beat
    started = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)
    holding = models.JSONField(default=list, blank=True)  # ids of the steps it is executing

    class Meta:
        ordering = ["-beat_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"
