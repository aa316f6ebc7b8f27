"""The one error type every client raises.

``permanent=True``: retrying cannot help (authentication, authorisation, validation, quota, a
conflicting resource). ``permanent=False``: try again later (429, 5xx, timeouts, "another
operation is in progress", dropped connections).
"""

from __future__ import annotations


class ClientError(Exception):
    def __init__(self, message: str, *, permanent: bool, code: str = "", status: int | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return self.message
