from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def status_page(request: HttpRequest) -> HttpResponse:
    return render(request, "monitor/status.html", {})
