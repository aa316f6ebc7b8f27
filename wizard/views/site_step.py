"""Step 0 of the wizard: the site and how to reach both ends, with its connection tests and the
"Use the sandbox" shortcut."""

from __future__ import annotations

import json
import re
from contextlib import closing
from typing import Any

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse

from s2svpn import azure_role
from s2svpn.roles import OPERATE, requires
from wizard import binding, sandbox_info, services
from wizard import forms as wf
from wizard.models import AzureAuth, Site, SiteStatus
from wizard.validators import GUID_PATTERN, RESOURCE_GROUP_PATTERN
from wizard.views.common import advance, client_message, step_context, step_url, validate_url

TESTS = ("test_azure", "test_pfsense", "fetch_fingerprint")
PSK_DROPPED = (
    "An end of the tunnel moved, so the stored pre-shared key was removed: it is only ever sent "
    "where it was stored. Enter or generate a new one on the Connection step."
)


@requires(OPERATE)
def wizard_new(request: HttpRequest) -> HttpResponse:
    return site_step(request, None)


def site_step(request: HttpRequest, site: Site | None) -> HttpResponse:
    vurl = validate_url(site, "site")
    extra: dict[str, Any] = {}
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "sandbox":
            return _use_sandbox(request, site)
        form = wf.SiteForm(request.POST, site=site, validate_url=vurl)
        if action in TESTS:
            form.is_valid()
            result = _connection_test(action, form, site)
            if action == "fetch_fingerprint" and result.get("fingerprint"):
                data = request.POST.copy()
                data["pfsense_fingerprint"] = result["fingerprint"]
                data["pfsense_tls"] = "fingerprint"
                form = wf.SiteForm(data, site=site, validate_url=vurl)
                form.is_valid()
            if request.htmx:
                html = render_to_string(
                    "wizard/partials/test_result.html", {"result": result}, request
                )
                if action == "fetch_fingerprint" and result.get("fingerprint"):
                    html += render_to_string(
                        "wizard/partials/field.html",
                        {"field": form["pfsense_fingerprint"], "oob": True, "form": form},
                        request,
                    )
                return HttpResponse(html)
            extra["tests"] = {action: result}
        elif form.is_valid():
            with transaction.atomic():
                new = form.save(commit=False)
                new.sandbox = new.azure_auth == AzureAuth.SANDBOX
                if not new.pk:
                    new.status = SiteStatus.DRAFT
                advance(new, "site")
                if not new.wizard_step and new.status == SiteStatus.DRAFT:
                    new.wizard_step = "vnet"
                new.save()
            if "psk" in form.dropped:
                messages.warning(request, PSK_DROPPED)
            return redirect(step_url(new, "vnet"))
    else:
        form = wf.SiteForm(site=site, validate_url=vurl)
    wf.mark_invalid(form)
    return render(
        request,
        "wizard/step_site.html",
        step_context(
            site,
            "site",
            form=form,
            sandbox_available=sandbox_info.load() is not None,
            azure_role=_azure_role(form),
            **extra,
        ),
    )


def _azure_role(form: wf.SiteForm) -> dict[str, Any]:
    """The least-privilege role and the az commands for the subscription and group typed so far
    (placeholders until they are valid)."""
    sub = str(form["subscription_id"].value() or "").strip()
    group = str(form["resource_group"].value() or "").strip()
    sub = sub if re.fullmatch(GUID_PATTERN, sub) else "<subscription-id>"
    group = group if re.fullmatch(RESOURCE_GROUP_PATTERN, group) else "<resource-group>"
    return {
        "actions": [(action, azure_role.WHY[action]) for action in azure_role.REQUIRED_ACTIONS],
        "definition": json.dumps(azure_role.portal_role_definition(sub, group), indent=2),
        "commands": azure_role.az_commands(sub, group),
    }


def _use_sandbox(request: HttpRequest, site: Site | None) -> HttpResponse:
    """Fill both connections with the local sandboxes (``manage.py sandbox`` writes where)."""
    info = sandbox_info.load()
    if info is None:
        messages.error(
            request,
            "The sandboxes are not running, so there is nothing to fill in: start them with "
            "`make run` (or `python manage.py sandbox`) and press Use the sandbox again.",
        )
        return redirect(step_url(site, "site") if site else reverse("wizard:new"))
    original = site
    if site is None:
        site = Site(status=SiteStatus.DRAFT, wizard_step="site")
        site.name = (request.POST.get("name") or "").strip() or "Home lab"
        slug = (request.POST.get("slug") or "").strip()
        # a typed slug is taken as it is (and validated below); an empty or taken one is made up
        site.slug = wf.new_slug(slug or "home") if not slug or _taken(slug) else slug
    site.sandbox = True
    site.azure_auth = AzureAuth.SANDBOX
    site.tenant_id = site.client_id = ""
    site.client_secret = ""
    site.subscription_id = wf.sandbox_subscription(info)
    site.resource_group = info.get("resource_group") or site.resource_group or "rg-home-s2s"
    site.location = info.get("location") or site.location or "westeurope"
    site.vnet_name = info.get("vnet_name") or site.vnet_name
    site.arm_base_url = info["arm_base_url"]
    site.arm_ca_bundle = sandbox_info.read_pem(info.get("ca_file"))
    site.pfsense_url = info["pfsense_url"]
    site.pfsense_api_key = info["pfsense_api_key"]
    site.pfsense_ca_bundle = sandbox_info.read_pem(info.get("pfsense_ca_file"))
    site.pfsense_fingerprint = "" if site.pfsense_ca_bundle else info.get("pfsense_fingerprint", "")
    # the sandbox's DDNS names are answered by its own nameserver: ask it for this site
    site.dns_servers = info.get("dns_server") or ""
    timing = info.get("timing") or {}
    wf.set_wizard_data(
        site,
        expected={
            "gateway": float(timing.get("gateway_seconds", 60.0)),
            "other": float(timing.get("other_seconds", 1.5)),
        },
    )
    dropped = binding.drop_moved_secrets(site, {"pfsense_api_key"})
    try:
        site.full_clean()  # the same validation as the wizard's form and the admin
    except ValidationError as exc:
        messages.error(request, "Cannot use the sandbox: " + " ".join(_messages(exc)))
        return redirect(step_url(original, "site") if original else reverse("wizard:new"))
    site.save()
    if "psk" in dropped:
        messages.warning(request, PSK_DROPPED)
    messages.success(
        request,
        "Filled in with the local sandboxes (a stand-in Azure and pfSense on this machine). Test "
        "the connections if you like, then continue.",
    )
    return redirect(step_url(site, "site"))


def _taken(slug: str) -> bool:
    return Site.objects.filter(slug=slug).exists()


def _messages(exc: ValidationError) -> list[str]:
    out = []
    for field, texts in exc.message_dict.items():
        label = "" if field == NON_FIELD_ERRORS else f"{Site._meta.get_field(field).verbose_name}: "
        out += [f"{label}{text}" for text in texts]
    return out


def _form_site(form: wf.SiteForm, site: Site | None) -> Site:
    """An unsaved Site with the typed values and, for empty secrets, the stored ones, but only
    while their endpoint is the one they were stored with (wizard.binding)."""
    probe = form.instance  # the form put the stored secrets back for empty fields
    for name in ("client_secret", "pfsense_api_key"):
        if not form.cleaned_data.get(name) and name in form.moved:
            setattr(probe, name, "")
    tls = form.cleaned_data.get("pfsense_tls")
    if tls == "ca":
        probe.pfsense_fingerprint = ""
    elif tls == "fingerprint":
        probe.pfsense_ca_bundle = ""
    return probe


def _connection_test(action: str, form: wf.SiteForm, site: Site | None) -> dict[str, Any]:
    probe = _form_site(form, site)
    needs = {"test_azure": "client_secret", "test_pfsense": "pfsense_api_key"}.get(action)
    if needs in form.moved and not getattr(probe, needs) and _uses_secret(probe, needs):
        # the stored secret belongs to the old endpoint: nothing is sent to the new one
        key = "azure" if needs == "client_secret" else "pfsense"
        return {"key": key, "ok": False, "text": binding.why(needs, form.moved[needs])}
    if action == "test_azure":
        try:
            with closing(services.azure_client(probe)) as client:
                vnets = client.list_vnets()
        except Exception as exc:
            return {"key": "azure", "ok": False, "text": client_message(exc, "Azure")}
        names = ", ".join(sorted(v.name for v in vnets)) or "none"
        return {
            "key": "azure",
            "ok": True,
            "text": f"Connected to Azure: subscription {probe.subscription_id} shows "
            f"{len(vnets)} virtual network(s): {names}."
            + ("" if vnets else " The next step offers to create one."),
        }
    if action == "test_pfsense":
        try:
            with closing(services.pfsense_client(probe)) as client:
                snap = wf.firewall_facts(client, probe.get_intent())
        except Exception as exc:
            return {"key": "pfsense", "ok": False, "text": client_message(exc, "pfSense")}
        if site is not None:
            wf.set_wizard_data(site, pfsense=snap)
            site.save(update_fields=["intent", "updated"])
        return {"key": "pfsense", "ok": True, "text": wf.describe_preflight(snap)}
    return _fetch_fingerprint(form)


def _uses_secret(probe: Site, name: str) -> bool:
    return name == "pfsense_api_key" or probe.azure_auth == AzureAuth.SERVICE_PRINCIPAL


def _fetch_fingerprint(form: wf.SiteForm) -> dict[str, Any]:
    from s2svpn.clients.pfsense import fetch_fingerprint

    url = (form.data.get("pfsense_url") or "").strip().rstrip("/")
    if not url.lower().startswith("https://"):
        return {
            "key": "fingerprint",
            "ok": False,
            "text": "Enter the pfSense URL (https://…) first, then fetch its fingerprint.",
        }
    try:
        fp = fetch_fingerprint(url)
    except Exception as exc:
        return {"key": "fingerprint", "ok": False, "text": client_message(exc, "pfSense")}
    pretty = wf.pretty_fingerprint(fp)
    return {
        "key": "fingerprint",
        "ok": True,
        "fingerprint": pretty,
        "text": f"The firewall presents a certificate with SHA-256 fingerprint {pretty}. Compare "
        "it with System › Cert. Manager › Certificates on pfSense; if it matches, keep it "
        "(it is now in the fingerprint field) and save.",
    }
