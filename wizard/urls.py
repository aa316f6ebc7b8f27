from __future__ import annotations

from django.urls import path

from wizard import views

app_name = "wizard"

urlpatterns = [
    path("", views.site_list, name="sites"),
    path("sites/<slug:slug>/", views.site_detail, name="site"),
]
