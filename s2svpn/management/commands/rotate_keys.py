"""Re-encrypt every stored secret with the first key of S2SVPN_FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from wizard.fields import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt secrets with the newest key (after prepending it to the key list)."

    def handle(self, *args, **options):
        count = 0
        for model in apps.get_models():
            names = [f.name for f in model._meta.fields if isinstance(f, EncryptedTextField)]
            if not names:
                continue
            with transaction.atomic():
                # values() decrypts with any key; update() encrypts with the newest one.
                for row in model._base_manager.select_for_update().values("pk", *names):
                    pk = row.pop("pk")
                    model._base_manager.filter(pk=pk).update(
                        **{name: str(value) for name, value in row.items()}
                    )
                    count += 1
        self.stdout.write(f"Re-encrypted the secrets of {count} rows with the newest key.")
