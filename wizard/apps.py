from __future__ import annotations

from django.apps import AppConfig


class WizardConfig(AppConfig):
    name = "wizard"

    def ready(self) -> None:
        # Make s2svpn's Celery app the current one in every Django process (web, worker, shell),
        # so `task.delay()` publishes to the configured broker, not Celery's default app.
        import s2svpn.celery  # noqa: F401

        # The step code registers the plan of each run kind with the engine.
        import wizard.steps  # noqa: F401
