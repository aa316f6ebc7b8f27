"""The three roles, as Django groups holding permissions (created by ``audit``'s data migration):

* **Viewer** — the status pages (``wizard.view_status``).
* **Operator** — also the wizard, runs, push, poll and tear-down (``wizard.operate_site``).
* **Administrator** — every permission, and the admin (members get the staff flag): users,
  roles, stored sites and their secrets.

Views declare what they need with :func:`requires`; a logged-in user without it gets 403, an
anonymous one is sent to the login page first (``LoginRequiredMiddleware``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import permission_required

VIEW_STATUS = "wizard.view_status"
OPERATE = "wizard.operate_site"

VIEWER = "Viewer"
OPERATOR = "Operator"
ADMINISTRATOR = "Administrator"

# role -> permissions as "app_label.codename"; the Administrator holds every permission
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    VIEWER: (VIEW_STATUS,),
    OPERATOR: (VIEW_STATUS, OPERATE),
}


def requires(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a view: 403 for a logged-in user without ``permission``."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        checked = permission_required(permission, raise_exception=True)(view)
        checked.required_permission = permission  # type: ignore[attr-defined]
        return checked

    return decorate


def sync_roles(group_model: Any, permission_model: Any) -> None:
    """Create the three groups and give each its permissions (idempotent; the models may be the
    historical ones of a migration)."""
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = [
            permission_model.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in (name.split(".", 1) for name in names)
        ]
        group.permissions.add(*wanted)
    admin, _ = group_model.objects.get_or_create(name=ADMINISTRATOR)
    admin.permissions.add(*permission_model.objects.all())
