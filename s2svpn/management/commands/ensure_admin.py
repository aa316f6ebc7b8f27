"""Create an admin account if none exists; print the generated password once."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin account (S2SVPN_ADMIN_USER / S2SVPN_ADMIN_PASSWORD override)."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("S2SVPN_ADMIN_USER", "admin")
        password = os.environ.get("S2SVPN_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        shown = (
            "(from S2SVPN_ADMIN_PASSWORD)" if os.environ.get("S2SVPN_ADMIN_PASSWORD") else password
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created admin account: username {username!r}, password {shown}\n"
                "This password is shown only once: note it now, change it under /admin/."
            )
        )
