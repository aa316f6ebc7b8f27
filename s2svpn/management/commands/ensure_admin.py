"""Create an admin account (an Administrator) if none exists; print the generated password once."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from s2svpn.roles import ADMINISTRATOR


class Command(BaseCommand):
    help = "Create the first admin account (S2SVPN_ADMIN_USER / S2SVPN_ADMIN_PASSWORD override)."

    def handle(self, *args, **options):
        User = get_user_model()
        administrators, _ = Group.objects.get_or_create(name=ADMINISTRATOR)
        if User.objects.filter(is_superuser=True).exists():
            for user in User.objects.filter(is_superuser=True).exclude(groups=administrators):
                user.groups.add(administrators)  # accounts made before the roles existed
            return
        username = os.environ.get("S2SVPN_ADMIN_USER", "admin")
        password = os.environ.get("S2SVPN_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        user.groups.add(administrators)
        shown = (
            "(from S2SVPN_ADMIN_PASSWORD)" if os.environ.get("S2SVPN_ADMIN_PASSWORD") else password
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created admin account: username {username!r}, password {shown}\n"
                "This password is shown only once: note it now, change it under /admin/."
            )
        )
