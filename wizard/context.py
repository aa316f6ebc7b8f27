"""What a step function gets: the site, its step row, run-wide data, a log and the clients."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from wizard.models import Run, Site, Step

LOG_LIMIT = 200  # log lines kept per step


class StepContext:
    """What a step function gets: the site, its step row, run-wide data, and a logger."""

    def __init__(self, step: Step):
        self.step = step
        self.run = step.run
        self.site: Site = step.run.site
        self.intent = self.site.get_intent()
        self._clients: dict[str, Any] = {}

    @property
    def data(self) -> dict[str, Any]:
        """Run-wide facts shared between steps (e.g. the Azure public IP)."""
        return self.run.data

    def share(self, **values: Any) -> None:
        """Store run-wide facts atomically (other steps may be writing theirs concurrently)."""
        if values.items() <= self.run.data.items():
            return  # stored already
        with transaction.atomic():
            run = Run.objects.select_for_update().get(pk=self.run.pk)
            run.data.update(values)
            run.save(update_fields=["data"])
            self.run.data = run.data

    def log(self, message: str) -> None:
        append_log(self.step, message)

    def client(self, name: str) -> Any:
        if name not in self._clients:
            from wizard import services

            self._clients[name] = services.cached_client(name, self.site)
        return self._clients[name]


def with_line(log: list, message: str) -> list:
    """``log`` plus a timestamped line, keeping the last ``LOG_LIMIT``."""
    line = {"t": timezone.now().isoformat(timespec="seconds"), "m": message[:500]}
    return [*log, line][-LOG_LIMIT:]


def append_log(step: Step, message: str) -> None:
    step.log = with_line(step.log, message)
    Step.objects.filter(pk=step.pk).update(log=step.log)
