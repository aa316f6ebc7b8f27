"""The site list, a site's page and the manual export (pfSense GUI steps, config.xml fragment)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from s2svpn import manual
from s2svpn.roles import OPERATE, VIEW_STATUS, requires
from wizard import forms as wf
from wizard.models import RunKind, Site
from wizard.plan import azure_bgp_ip, known_facts
from wizard.views.common import hourly, latest_run, monitor_url, reached, step_url

PSK_PLACEHOLDER = "<your pre-shared key>"


@requires(VIEW_STATUS)
def site_list(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(OPERATE):  # a Viewer's home is the status page
        return redirect("monitor:status")
    sites = list(Site.objects.all())
    for site in sites:
        site.latest_run = latest_run(site)
    return render(request, "wizard/site_list.html", {"sites": sites})


@requires(OPERATE)
def site_detail(request: HttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    return render(
        request,
        "wizard/site_detail.html",
        {
            "site": site,
            "intent": site.get_intent(),
            "run": latest_run(site),
            "provision_run": latest_run(site, RunKind.PROVISION),
            "runs": site.runs.all()[:10],
            "monitor_url": monitor_url(site),
            "resume_url": step_url(site, wf.STEP_KEYS[reached(site)]),
            "hourly": hourly(site),
        },
    )


def _manual_values(site: Site) -> dict[str, str]:
    intent = site.get_intent()
    facts = known_facts(site)
    public_ip = facts.get("azure_public_ip") or "<Azure gateway public IP>"
    bgp_ip = facts.get("azure_bgp_ip") or azure_bgp_ip(intent, facts)
    return {"azure_public_ip": str(public_ip), "azure_bgp_ip": str(bgp_ip)}


# kind -> (renderer, content type, file name suffix)
MANUALS = {
    "gui": (manual.gui_instructions, "text/markdown", "pfsense-gui.md"),
    "xml": (manual.config_xml_fragment, "application/xml", "config.xml"),
}


@requires(OPERATE)
def manual_export(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    """The pfSense GUI steps or the config.xml fragment, for a firewall configured by hand."""
    site = get_object_or_404(Site, slug=slug)
    render_text, content_type, filename = MANUALS[kind]
    text = render_text(site.get_intent(), psk_placeholder=PSK_PLACEHOLDER, **_manual_values(site))
    response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="s2svpn-{site.slug}-{filename}"'
    return response
