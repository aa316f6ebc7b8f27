"""The one error type every client raises.

``permanent=True``: retrying cannot help (authentication, authorisation, validation, quota, a
conflicting resource). ``permanent=False``: try again later (429, 5xx, timeouts, "another
operation is in progress", dropped connections). Same shape as the domain's
:class:`~s2svpn.errors.InputError`: a ``message`` written to be shown as it is.
"""

from __future__ import annotations

from s2svpn.errors import Refusal


class ClientError(Refusal):
    def __init__(self, message: str, *, permanent: bool, code: str = "", status: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.status = status
