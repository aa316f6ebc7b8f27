from __future__ import annotations

from django.urls import path

from wizard.views import pages, runs, site_step, steps

app_name = "wizard"

urlpatterns = [
    path("", pages.site_list, name="sites"),
    path("new/", site_step.wizard_new, name="new"),
    path("new/validate/", steps.validate, name="new_validate"),
    path("sites/<slug:slug>/", pages.site_detail, name="site"),
    path("sites/<slug:slug>/wizard/<str:step>/", steps.wizard_step, name="step"),
    path("sites/<slug:slug>/wizard/<str:step>/validate/", steps.validate, name="validate"),
    path("sites/<slug:slug>/launch/", steps.launch, name="launch"),
    path("sites/<slug:slug>/teardown/", runs.teardown, name="teardown"),
    path("sites/<slug:slug>/runs/<int:run_id>/", runs.run_progress, name="run"),
    path("sites/<slug:slug>/runs/<int:run_id>/retry/", runs.run_retry, name="run_retry"),
    path("sites/<slug:slug>/runs/<int:run_id>/resume/", runs.run_resume, name="run_resume"),
    path("sites/<slug:slug>/runs/<int:run_id>/cancel/", runs.run_cancel, name="run_cancel"),
    path(
        "sites/<slug:slug>/manual/pfsense-gui.md",
        pages.manual_export,
        {"kind": "gui"},
        name="manual_gui",
    ),
    path(
        "sites/<slug:slug>/manual/config.xml",
        pages.manual_export,
        {"kind": "xml"},
        name="manual_xml",
    ),
]
