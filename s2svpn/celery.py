"""The Celery app. Tasks get ids only (never secrets); see wizard/tasks.py and monitor/tasks.py."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_postrun, worker_init

from s2svpn.vardir import prepare

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "s2svpn.settings")
# `celery -A s2svpn worker|beat` starts here: the state directory and generated keys exist
# before Django reads its settings (a no-op when they do already).
prepare()

app = Celery("s2svpn", task_cls="s2svpn.broker:Task")  # a broker outage never raises
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Worker and beat heartbeats, the reconnect guard, beat's one-pending-copy rule (signal hooks).
import s2svpn.beat  # noqa: E402
import s2svpn.heartbeat  # noqa: E402, F401


@worker_init.connect
def _preload(**_: object) -> None:
    """Load the SDKs and the step code in the worker's main process, before the pool forks, so
    no child pays for the imports inside the first task it runs (the web process never needs
    them to enqueue a task)."""
    import azure.mgmt.network  # noqa: F401
    import httpx  # noqa: F401
    from azure.core.pipeline.transport import RequestsTransport  # noqa: F401 - requests, urllib3

    import s2svpn.clients.azure
    import s2svpn.clients.pfsense  # noqa: F401
    import wizard.steps  # noqa: F401


@task_postrun.connect
def _drop_broken_connections(**_: object) -> None:
    """Workers keep their database connection between tasks (``CELERY_DB_REUSE_MAX``), so drop it
    after a task when it broke (e.g. PostgreSQL restarted) or outlived ``CONN_MAX_AGE``: the next
    task then connects afresh instead of failing on a dead connection."""
    from django.db import close_old_connections

    close_old_connections()
