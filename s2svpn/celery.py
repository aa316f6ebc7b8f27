"""The Celery app. Tasks get ids only (never secrets); see wizard/tasks.py and monitor/tasks.py."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "s2svpn.settings")

app = Celery("s2svpn")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
