from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 only when the database and the broker answer and a worker beat within a minute
    (``"worker": "missing"`` otherwise, which the compose healthchecks read)."""
    from s2svpn.health import report

    body, ok = report(connection)
    return JsonResponse(body, status=200 if ok else 503)
