"""EncryptedTextField: a secret stored as a Fernet token, readable in Python, never in the DB."""

from __future__ import annotations

from django.db import models

from s2svpn import crypto

PREFIX = "fernet:"


class Secret(str):
    """A decrypted secret. ``repr`` masks it so it cannot leak through logs or tracebacks."""

    def __repr__(self) -> str:
        return "Secret('********')" if self else "Secret('')"


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest with Fernet"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return Secret("")
        if value.startswith(PREFIX):
            return Secret(crypto.decrypt(value[len(PREFIX) :]))
        return Secret(value)

    def to_python(self, value):
        if value is None:
            return Secret("")
        if isinstance(value, str) and value.startswith(PREFIX):
            return Secret(crypto.decrypt(value[len(PREFIX) :]))
        return Secret(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return ""
        return PREFIX + crypto.encrypt(str(value))

    def formfield(self, **kwargs):
        from wizard.forms.secrets import SecretFormField, SecretInput

        kwargs["form_class"] = SecretFormField
        kwargs["widget"] = SecretInput  # the admin would otherwise swap in a textarea
        return super().formfield(**kwargs)
