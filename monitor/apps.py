from __future__ import annotations

from django.apps import AppConfig


class MonitorConfig(AppConfig):
    name = "monitor"

    def ready(self) -> None:
        from django.conf import settings

        from monitor.receivers import poll_after_run
        from wizard.models import Run
        from wizard.signals import run_finished

        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            interval = float(getattr(settings, "S2SVPN_POLL_INTERVAL", 60))
            schedule.setdefault(
                "monitor-poll",
                {
                    "task": "monitor.tasks.poll_all",
                    "schedule": interval,
                    "options": {"expires": interval},
                },
            )
            schedule.setdefault(
                "monitor-prune", {"task": "monitor.tasks.prune", "schedule": 3600.0}
            )
        run_finished.connect(poll_after_run, sender=Run, dispatch_uid="monitor.poll_after_run")
