from __future__ import annotations

from django.urls import path

from wizard import views

app_name = "wizard"

urlpatterns = [
    path("", views.site_list, name="sites"),
    path("new/", views.wizard_new, name="new"),
    path("new/validate/", views.validate, name="new_validate"),
    path("sites/<slug:slug>/", views.site_detail, name="site"),
    path("sites/<slug:slug>/wizard/<str:step>/", views.wizard_step, name="step"),
    path("sites/<slug:slug>/wizard/<str:step>/validate/", views.validate, name="validate"),
    path("sites/<slug:slug>/launch/", views.launch, name="launch"),
    path("sites/<slug:slug>/teardown/", views.teardown, name="teardown"),
    path("sites/<slug:slug>/runs/<int:run_id>/", views.run_progress, name="run"),
    path("sites/<slug:slug>/runs/<int:run_id>/retry/", views.run_retry, name="run_retry"),
    path("sites/<slug:slug>/runs/<int:run_id>/resume/", views.run_resume, name="run_resume"),
    path("sites/<slug:slug>/runs/<int:run_id>/cancel/", views.run_cancel, name="run_cancel"),
    path("sites/<slug:slug>/manual/pfsense-gui.md", views.manual_gui, name="manual_gui"),
    path("sites/<slug:slug>/manual/config.xml", views.manual_xml, name="manual_xml"),
]
