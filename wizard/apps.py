from __future__ import annotations

from django.apps import AppConfig


class WizardConfig(AppConfig):
    name = "wizard"
