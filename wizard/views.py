from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from wizard.models import Site


def site_list(request: HttpRequest) -> HttpResponse:
    return render(request, "wizard/site_list.html", {"sites": Site.objects.all()})


def site_detail(request: HttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    return render(request, "wizard/site_detail.html", {"site": site})
