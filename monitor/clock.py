"""The monitor's clock: the status pages ask it for "now", so a test can fix the moment a page
is drawn at (uptime and "down since" are measured up to it)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
