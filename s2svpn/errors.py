"""The one error shape of s2svpn: a message written for the person using the app (never holding a
secret), raised where something is refused.

:class:`InputError` is an answer the domain core refuses (an ASN, an address, a policy, a SKU, a
PSK, a DNS name); ``field`` names the :class:`~s2svpn.intent.SiteIntent` field it belongs to, so a
form puts the message next to that field. Each domain module keeps its own subclass (``AsnError``,
``AddressError``, ...) with its default field, so callers catch what they mean, or all of them as
``InputError``. :class:`~s2svpn.clients.errors.ClientError` is the same shape for the external
systems, with ``permanent``.

Pure: no Django, no SDK.
"""

from __future__ import annotations


class Refusal(Exception):
    """An error whose ``message`` is meant to be shown as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(Refusal, ValueError):
    """An answer that cannot work; ``field`` is the SiteIntent field it belongs to."""

    field = ""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field
