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

        # A run that ends, in any way, lets go of the firewall it held for its push.
        from wizard.firewall import release_run
        from wizard.models import Run
        from wizard.signals import run_finished

        run_finished.connect(release_run, sender=Run, dispatch_uid="wizard.firewall.release_run")
