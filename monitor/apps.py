from __future__ import annotations

from django.apps import AppConfig


class MonitorConfig(AppConfig):
    name = "monitor"

    def ready(self) -> None:
        from django.conf import settings

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
        from monitor.admin_actions import extend_site_admin

        extend_site_admin()
