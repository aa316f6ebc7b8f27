from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.db.models.signals import m2m_changed, post_migrate, post_save, pre_save

        from audit import signals

        pre_save.connect(signals.site_secrets_changed, sender="wizard.Site")
        post_save.connect(signals.site_saved, sender="wizard.Site")
        m2m_changed.connect(signals.groups_changed, sender=get_user_model().groups.through)
        m2m_changed.connect(signals.permissions_changed, sender=Group.permissions.through)
        post_migrate.connect(signals.top_up_roles, sender=self)
