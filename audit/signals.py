"""Events no view raises by itself: a secret changed on any write path (wizard, admin, shell), a
user's groups or a group's permissions changed. The Administrator role carries the staff flag."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from audit.log import record
from audit.models import Action
from s2svpn.roles import ADMINISTRATOR, sync_roles

SECRETS = ("client_secret", "pfsense_api_key", "psk", "apprise_urls")


def site_secrets_changed(sender: Any, instance: Any, update_fields: Any = None, **_: Any) -> None:
    """pre_save of wizard.Site: note which secrets differ from the stored ones (names only)."""
    names = [n for n in SECRETS if update_fields is None or n in update_fields]
    if not names:
        return
    stored = (
        sender._base_manager.filter(pk=instance.pk).values(*names).first() if instance.pk else {}
    )
    changed = [
        n for n in names if str(getattr(instance, n) or "") != str((stored or {}).get(n) or "")
    ]
    instance._audit_changed_secrets = changed


def site_saved(sender: Any, instance: Any, **_: Any) -> None:
    changed = instance.__dict__.pop("_audit_changed_secrets", [])
    if changed:
        record(Action.SECRET, instance, "changed: " + ", ".join(changed))


def groups_changed(
    sender: Any, instance: Any, action: str, pk_set: Any, reverse: bool, **_: Any
) -> None:
    """m2m_changed of User.groups (from either side)."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    User = get_user_model()
    if reverse:  # group.user_set.add(...)
        users = list(User.objects.filter(pk__in=pk_set or ()))
        groups = [instance]
    else:
        users = [instance]
        groups = list(Group.objects.filter(pk__in=pk_set or ()))
    verb = {
        "post_add": "added to",
        "post_remove": "removed from",
        "post_clear": "removed from all groups",
    }[action]
    names = ", ".join(g.name for g in groups)
    for user in users:
        record(Action.ROLE, detail=f"{user.get_username()} {verb} {names}".strip())
        _sync_staff(user)


def _sync_staff(user: Any) -> None:
    """Administrators may use the admin; others not (a superuser stays staff)."""
    staff = user.is_superuser or user.groups.filter(name=ADMINISTRATOR).exists()
    if user.is_staff != staff:
        type(user).objects.filter(pk=user.pk).update(is_staff=staff)
        user.is_staff = staff


def permissions_changed(
    sender: Any, instance: Any, action: str, pk_set: Any, reverse: bool, **_: Any
) -> None:
    """m2m_changed of Group.permissions: a role's meaning changed."""
    if action not in ("post_add", "post_remove", "post_clear") or reverse:
        return
    codenames = ", ".join(
        Permission.objects.filter(pk__in=pk_set or ()).values_list("codename", flat=True)[:20]
    )
    verb = {"post_add": "gained", "post_remove": "lost", "post_clear": "lost every permission"}[
        action
    ]
    record(Action.ROLE, detail=f"group {instance.name} {verb} {codenames}".strip())


def top_up_roles(sender: Any, **kwargs: Any) -> None:
    """post_migrate: the Administrator keeps every permission, new apps' included."""
    sync_roles(Group, Permission)
