from __future__ import annotations

from django.urls import path

from monitor import views

app_name = "monitor"

urlpatterns = [
    path("", views.status_page, name="status"),
    path("<slug:slug>/", views.site_page, name="site"),
    path("<slug:slug>/reset-gateway/", views.reset_gateway, name="reset_gateway"),
    path("<slug:slug>/poll/", views.poll_now, name="poll_now"),
    path("<slug:slug>/repush/", views.repush, name="repush"),
]
