"""Write-only form handling for secrets: never rendered back, empty input keeps the stored value."""

from __future__ import annotations

from django import forms

from wizard import binding


class SecretInput(forms.PasswordInput):
    """A password box that never renders its value (render_value=False), with a hint."""

    def __init__(self, attrs=None):
        attrs = {"autocomplete": "new-password", **(attrs or {})}
        super().__init__(attrs=attrs, render_value=False)


class SecretFormField(forms.CharField):
    widget = SecretInput

    def __init__(self, *args, **kwargs):
        kwargs.pop("max_length", None)
        kwargs["required"] = False
        hint = "Write-only: leave empty to keep the stored value."
        kwargs["help_text"] = f"{kwargs.get('help_text') or ''} {hint}".strip()
        super().__init__(*args, **kwargs)

    def has_changed(self, initial, data):
        return bool(data)


class KeepSecretsMixin:
    """For ModelForms: an empty secret field keeps the instance's current value."""

    def _post_clean(self):
        super()._post_clean()
        for name, field in self.fields.items():
            if isinstance(field, SecretFormField) and not self.cleaned_data.get(name):
                setattr(self.instance, name, self.initial_secret(name))

    def initial_secret(self, name):
        if self.instance.pk:
            stored = type(self.instance)._base_manager.filter(pk=self.instance.pk)
            return stored.values_list(name, flat=True).first() or ""
        return ""


class BoundSecretsMixin:
    """For ModelForms of a Site: a stored secret whose endpoint the form changes must be entered
    again (:mod:`wizard.binding`); the error says why. ``self.moved`` keeps what moved."""

    moved: dict[str, list[str]]

    def endpoint_values(self, data: dict) -> dict:
        """The endpoint fields as they will be saved (a form may derive some, e.g. TLS trust)."""
        return data

    def clean(self):
        data = super().clean()
        self.moved = binding.moved(
            binding.stored_endpoint(self.instance), self.endpoint_values(dict(data))
        )
        for secret, fields in self.moved.items():
            if secret in self.fields and not data.get(secret) and self.initial_secret(secret):
                self.add_error(secret, binding.why(secret, fields))
        return data
