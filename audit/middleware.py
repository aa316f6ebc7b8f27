"""Remember the request's user while the request runs, for events raised by signals."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

current_user: ContextVar[Any] = ContextVar("audit_current_user", default=None)


class CurrentUserMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_user.set(request.user)  # AuthenticationMiddleware runs first
        try:
            return self.get_response(request)
        finally:
            current_user.reset(token)
