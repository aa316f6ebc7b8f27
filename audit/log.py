"""``record()``: write one audit event (never pass a secret's value as ``detail``)."""

from __future__ import annotations

from typing import Any

from audit.middleware import current_user
from audit.models import AuditEvent


def record(action: str, site: Any = None, detail: str = "", actor: Any = None) -> AuditEvent:
    """Store who (``actor``, else the current request's user, else the system) did ``action``."""
    user = actor if actor is not None else current_user.get()
    if user is not None and not user.is_authenticated:
        user = None
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user is not None else "",
        action=action,
        site=site if site is not None and site.pk else None,
        site_name=str(site.name)[:80] if site is not None else "",
        detail=detail[:300],
    )
