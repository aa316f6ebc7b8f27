"""The wizard's pages: thin adapters over the forms (domain core), the clients and the run engine.

One view per page, one page template each, and named partials under ``templates/wizard/partials``
returned when the request comes from htmx (django-htmx, https://django-htmx.readthedocs.io/).
Every page also works without JavaScript: buttons are real form submits, links have an href.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from s2svpn import cost, netplan
from s2svpn.clients.errors import ClientError
from s2svpn.psk import generate_psk
from wizard import forms as wf
from wizard import sandbox_info
from wizard.models import AzureAuth, Run, RunKind, RunStatus, Site, SiteStatus, StepState
from wizard.plan import azure_bgp_ip, build_plan, known_facts
from wizard.runs import RunBusy, cancel_run, retry_run, start_run

logger = logging.getLogger(__name__)

STALL_SECONDS = 30  # a step overdue this long offers Resume


# --------------------------------------------------------------------------- small helpers


def _step_url(site: Site, step: str) -> str:
    return reverse("wizard:step", args=[site.slug, step])


def _validate_url(site: Site | None, step: str) -> str:
    if site is None or not site.pk:
        return reverse("wizard:new_validate")
    return reverse("wizard:validate", args=[site.slug, step])


def _reached(site: Site | None) -> int:
    if site is None or not site.pk:
        return 0
    if site.status != SiteStatus.DRAFT:
        return len(wf.STEPS) - 1
    key = site.wizard_step or "vnet"
    return wf.STEP_KEYS.index(key) if key in wf.STEP_KEYS else 1


def _advance(site: Site, step: str) -> str:
    """Remember how far the wizard got; return the next step's key."""
    index = wf.STEP_KEYS.index(step)
    nxt = wf.STEP_KEYS[min(index + 1, len(wf.STEP_KEYS) - 1)]
    if site.status == SiteStatus.DRAFT and wf.STEP_KEYS.index(nxt) > _reached(site):
        site.wizard_step = nxt
    return nxt


def _nav(site: Site | None, current: str) -> list[dict[str, Any]]:
    reached = _reached(site)
    out = []
    for index, info in enumerate(wf.STEPS):
        url = ""
        if site is not None and site.pk and index <= reached:
            url = _step_url(site, info.key)
        elif info.key == "site":
            url = reverse("wizard:new")
        out.append(
            {
                "n": index,
                "key": info.key,
                "title": info.short,
                "url": url,
                "current": info.key == current,
                "done": index < reached,
            }
        )
    return out


def _context(site: Site | None, step: str, **extra: Any) -> dict[str, Any]:
    index = wf.STEP_KEYS.index(step)
    prev = wf.STEP_KEYS[index - 1] if index > 0 else None
    return {
        "site": site,
        "step": step,
        "step_info": wf.STEPS[index],
        "step_number": index,
        "nav": _nav(site, step),
        "back_url": _step_url(site, prev) if (site and site.pk and prev) else "",
        **extra,
    }


def _latest_run(site: Site, kind: str | None = None) -> Run | None:
    runs = site.runs.all()
    if kind:
        runs = runs.filter(kind=kind)
    return runs.first()


def _monitor_url(site: Site) -> str:
    for name in ("monitor:site", "monitor:site_status", "monitor:detail"):
        try:
            return reverse(name, args=[site.slug])
        except NoReverseMatch:
            continue
    return f"/status/{site.slug}/"


@contextmanager
def _closing(client: Any) -> Iterator[Any]:
    try:
        yield client
    finally:
        close = getattr(client, "close", None)
        if close:
            close()


def _client_message(exc: Exception, what: str) -> str:
    if isinstance(exc, ClientError):
        return exc.message
    return (
        f"Could not reach {what}: {type(exc).__name__}: {exc}. Check the address and that it "
        "answers from this server."
    )


# --------------------------------------------------------------------------- site list / detail


def site_list(request: HttpRequest) -> HttpResponse:
    sites = list(Site.objects.all())
    for site in sites:
        site.latest_run = _latest_run(site)
    return render(request, "wizard/site_list.html", {"sites": sites})


def site_detail(request: HttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    intent = site.get_intent()
    return render(
        request,
        "wizard/site_detail.html",
        {
            "site": site,
            "intent": intent,
            "run": _latest_run(site),
            "provision_run": _latest_run(site, RunKind.PROVISION),
            "runs": site.runs.all()[:10],
            "monitor_url": _monitor_url(site),
            "resume_url": _step_url(site, wf.STEP_KEYS[_reached(site)]),
            "hourly": _hourly(site),
        },
    )


def _hourly(site: Site) -> float | None:
    intent = site.get_intent()
    try:
        return cost.estimate(intent.sku, 1, active_active=intent.active_active).hourly_usd
    except ValueError:
        return None


# --------------------------------------------------------------------------- step 0: site


def wizard_new(request: HttpRequest) -> HttpResponse:
    return _site_step(request, None)


def _site_step(request: HttpRequest, site: Site | None) -> HttpResponse:
    instance = site or Site()
    vurl = _validate_url(site, "site")
    extra: dict[str, Any] = {}
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "sandbox":
            return _use_sandbox(request, site)
        form = wf.SiteForm(request.POST, instance=instance, validate_url=vurl)
        if action in ("test_azure", "test_pfsense", "fetch_fingerprint"):
            form.is_valid()
            result = _connection_test(action, form, site)
            if action == "fetch_fingerprint" and result.get("fingerprint"):
                data = request.POST.copy()
                data["pfsense_fingerprint"] = result["fingerprint"]
                data["pfsense_tls"] = "fingerprint"
                form = wf.SiteForm(data, instance=site or Site(), validate_url=vurl)
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
                _advance(new, "site")
                if not new.wizard_step and new.status == SiteStatus.DRAFT:
                    new.wizard_step = "vnet"
                new.save()
            return redirect(_step_url(new, "vnet"))
    else:
        form = wf.SiteForm(instance=instance, validate_url=vurl)
    wf.mark_invalid(form)
    return render(
        request,
        "wizard/step_site.html",
        _context(
            site,
            "site",
            form=form,
            sandbox_available=sandbox_info.load() is not None,
            **extra,
        ),
    )


def _use_sandbox(request: HttpRequest, site: Site | None) -> HttpResponse:
    """Fill both connections with the local sandboxes (``manage.py sandbox`` writes where)."""
    info = sandbox_info.load()
    if info is None:
        messages.error(
            request,
            "The sandboxes are not running, so there is nothing to fill in: start them with "
            "`make run` (or `python manage.py sandbox`) and press Use the sandbox again.",
        )
        return redirect(_step_url(site, "site") if site else reverse("wizard:new"))
    if site is None:
        site = Site(status=SiteStatus.DRAFT, wizard_step="site")
        name = (request.POST.get("name") or "").strip()
        slug = (request.POST.get("slug") or "").strip()
        site.name = name or "Home lab"
        site.slug = (
            slug
            if slug and wf.Site._meta.get_field("slug").max_length >= len(slug) and slug.islower()
            else ""
        )
        if not site.slug or Site.objects.filter(slug=site.slug).exists():
            site.slug = wf.new_slug(site.slug or "home")
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
    site.save()
    messages.success(
        request,
        "Filled in with the local sandboxes (a stand-in Azure and pfSense on this machine). Test "
        "the connections if you like, then continue.",
    )
    return redirect(_step_url(site, "site"))


def _form_site(form: wf.SiteForm, site: Site | None) -> Site:
    """An unsaved Site with the typed values and, for empty secrets, the stored ones."""
    probe = form.instance
    if site is not None:
        for name in ("client_secret", "pfsense_api_key"):
            if not (form.cleaned_data.get(name) if hasattr(form, "cleaned_data") else ""):
                setattr(probe, name, getattr(site, name))
    tls = form.cleaned_data.get("pfsense_tls") if hasattr(form, "cleaned_data") else None
    if tls == "ca":
        probe.pfsense_fingerprint = ""
    elif tls == "fingerprint":
        probe.pfsense_ca_bundle = ""
    return probe


def _connection_test(action: str, form: wf.SiteForm, site: Site | None) -> dict[str, Any]:
    from wizard import services

    probe = _form_site(form, site)
    if action == "test_azure":
        try:
            with _closing(services.azure_client(probe)) as client:
                vnets = list(client.list_vnets())
        except Exception as exc:
            return {"key": "azure", "ok": False, "text": _client_message(exc, "Azure")}
        names = ", ".join(sorted(str(getattr(v, "name", v)) for v in vnets)) or "none"
        return {
            "key": "azure",
            "ok": True,
            "text": f"Connected to Azure: subscription {probe.subscription_id} shows "
            f"{len(vnets)} virtual network(s): {names}.",
        }
    if action == "test_pfsense":
        try:
            with _closing(services.pfsense_client(probe)) as client:
                pre = client.preflight(probe.get_intent())
        except Exception as exc:
            return {"key": "pfsense", "ok": False, "text": _client_message(exc, "pfSense")}
        snap = preflight_snapshot(pre)
        if site is not None and site.pk:
            wf.set_wizard_data(site, pfsense=snap)
            site.save(update_fields=["intent", "updated"])
        return {"key": "pfsense", "ok": True, "text": describe_preflight(snap)}
    # fetch_fingerprint
    from s2svpn.clients.pfsense import PfSenseClient

    url = (form.data.get("pfsense_url") or "").strip().rstrip("/")
    if not url.lower().startswith("https://"):
        return {
            "key": "fingerprint",
            "ok": False,
            "text": "Enter the pfSense URL (https://…) first, then fetch its fingerprint.",
        }
    try:
        fp = PfSenseClient.fetch_fingerprint(url)
    except Exception as exc:
        return {"key": "fingerprint", "ok": False, "text": _client_message(exc, "pfSense")}
    pretty = wf.pretty_fingerprint(str(fp))
    return {
        "key": "fingerprint",
        "ok": True,
        "fingerprint": pretty,
        "text": f"The firewall presents a certificate with SHA-256 fingerprint {pretty}. Compare "
        "it with System › Cert. Manager › Certificates on pfSense; if it matches, keep it "
        "(it is now in the fingerprint field) and save.",
    }


def preflight_snapshot(pre: Any) -> dict[str, Any]:
    """The facts of a pfSense preflight the wizard keeps (JSON only)."""

    def pick(*names: str, default: Any = None) -> Any:
        for name in names:
            value = pre.get(name) if isinstance(pre, dict) else getattr(pre, name, None)
            if value is not None:
                return value
        return default

    interfaces = pick("interfaces", default=[]) or []
    if isinstance(interfaces, dict):
        interfaces = list(interfaces)
    names = []
    for item in interfaces:
        if isinstance(item, str):
            names.append(item)
        else:
            ident = item.get("id") if isinstance(item, dict) else getattr(item, "id", None)
            if ident:
                names.append(str(ident))
    return {
        "pfsense_version": str(pick("pfsense_version", "version", default="") or ""),
        "api_version": str(pick("api_version", "restapi_version", default="") or ""),
        "frr_installed": pick("frr_installed"),
        "wan_interface": str(pick("wan_interface", "wan", default="") or ""),
        "interfaces": names,
    }


def describe_preflight(snap: dict[str, Any]) -> str:
    parts = ["Connected to pfSense"]
    if snap.get("pfsense_version"):
        parts.append(f"version {snap['pfsense_version']}")
    if snap.get("api_version"):
        parts.append(f"REST API {snap['api_version']}")
    text = ", ".join(parts) + "."
    if snap.get("frr_installed") is True:
        text += " The FRR package is installed."
    elif snap.get("frr_installed") is False:
        text += " The FRR package is not installed yet (the wizard can install it)."
    if snap.get("wan_interface"):
        text += f" WAN interface: {snap['wan_interface']}."
    return text


# --------------------------------------------------------------------------- steps 1-7


def wizard_step(request: HttpRequest, slug: str, step: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    if step not in wf.STEP_KEYS:
        raise Http404("no such wizard step")
    if step == "site":
        return _site_step(request, site)
    if wf.STEP_KEYS.index(step) > _reached(site):
        messages.info(request, "Finish this step first; the later ones build on its answers.")
        return redirect(_step_url(site, wf.STEP_KEYS[_reached(site)]))
    if step == "review":
        return _review(request, site)
    extra: dict[str, Any] = {}
    if request.method == "GET":
        extra.update(_refresh_outside_facts(request, site, step))
    form_class = wf.STEP_FORMS[step]
    vurl = _validate_url(site, step)
    if request.method == "POST":
        form = form_class(request.POST, site=site, validate_url=vurl)
        if form.is_valid():
            form.apply(site)
            generated = None
            if step == "connection" and form.cleaned_data.get("psk_choice") == "generate":
                generated = generate_psk()
                site.psk = generated
            nxt = _advance(site, step)
            site.save()
            if generated:
                response = render(
                    request,
                    "wizard/psk_once.html",
                    _context(site, step, psk=generated, next_url=_step_url(site, nxt)),
                )
                response["Cache-Control"] = "no-store"
                return response
            return redirect(_step_url(site, nxt))
    else:
        form = form_class(site=site, validate_url=vurl)
    wf.mark_invalid(form)
    return render(
        request,
        f"wizard/step_{step}.html",
        _context(site, step, form=form, **extra, **_step_extras(site, step, form)),
    )


def _refresh_outside_facts(request: HttpRequest, site: Site, step: str) -> dict[str, Any]:
    """Read what a step shows from the real ends (VNets, pfSense preflight) and keep it."""
    from wizard import services

    data = wf.wizard_data(site)
    if step == "vnet" and (request.GET.get("refresh") or not data.get("vnets")):
        try:
            with _closing(services.azure_client(site)) as client:
                vnets = vnet_snapshot(client)
        except Exception as exc:
            return {"outside_error": _client_message(exc, "Azure")}
        wf.set_wizard_data(site, vnets=vnets)
        site.save(update_fields=["intent", "updated"])
    if step == "pfsense" and (request.GET.get("refresh") or not data.get("pfsense")):
        try:
            with _closing(services.pfsense_client(site)) as client:
                snap = preflight_snapshot(client.preflight(site.get_intent()))
        except Exception as exc:
            return {"outside_error": _client_message(exc, "pfSense")}
        wf.set_wizard_data(site, pfsense=snap)
        site.save(update_fields=["intent", "updated"])
    return {}


def vnet_snapshot(client: Any) -> list[dict[str, Any]]:
    """The subscription's VNets with address space and subnets, as JSON for the draft."""
    out = []
    for vnet in client.list_vnets():
        subnets = getattr(vnet, "subnets", None)
        if subnets is None and hasattr(client, "get_vnet"):
            rg = getattr(vnet, "resource_group", None)
            try:
                full = client.get_vnet(rg, vnet.name) if rg else client.get_vnet(vnet.name)
            except TypeError:
                full = client.get_vnet(vnet.name)
            subnets = getattr(full, "subnets", []) or []
        prefixes = (
            getattr(vnet, "address_prefixes", None) or getattr(vnet, "address_space", None) or []
        )
        out.append(
            {
                "name": vnet.name,
                "location": getattr(vnet, "location", ""),
                "resource_group": getattr(vnet, "resource_group", ""),
                "address_prefixes": list(prefixes),
                "subnets": [
                    [
                        s.name,
                        getattr(s, "address_prefix", None)
                        or (getattr(s, "address_prefixes", None) or [""])[0],
                    ]
                    for s in subnets or []
                ],
            }
        )
    return out


def _step_extras(site: Site, step: str, form: Any) -> dict[str, Any]:
    intent = site.get_intent()
    if step == "vnet":
        chosen = form["vnet_name"].value() or site.vnet_name
        return {"vnet": form.vnet(chosen), "vnets": form.vnets()}
    if step == "gateway":
        return {"sku_rows": form.rows}
    if step == "lng":
        mode = form["bgp_mode"].value() or intent.bgp_mode
        return {"transit": wf.transit_preview(site, mode), "intent": intent}
    if step == "connection":
        return {"policy_fields": [f[0] for f in wf.POLICY_FIELDS], "has_psk": bool(site.psk)}
    if step == "pfsense":
        return {"preflight": wf.wizard_data(site).get("pfsense") or {}}
    if step == "nat":
        return {"advice": wf.nat_advice(intent), "intent": intent}
    return {}


@require_POST
def validate(request: HttpRequest, slug: str | None = None, step: str = "site") -> HttpResponse:
    """htmx live validation: the form is checked whole, the triggering field's message returned."""
    site = get_object_or_404(Site, slug=slug) if slug else None
    if step not in wf.STEP_FORMS:
        raise Http404("no such wizard step")
    vurl = _validate_url(site, step)
    if step == "site":
        form = wf.SiteForm(request.POST, instance=site or Site(), validate_url=vurl)
    else:
        assert site is not None
        form = wf.STEP_FORMS[step](request.POST, site=site, validate_url=vurl)
    form.is_valid()
    name = (request.htmx.trigger_name if request.htmx else None) or request.POST.get("_field", "")
    if name not in form.fields:
        return HttpResponse(status=204)
    html = render_to_string(
        "wizard/partials/feedback.html", {"field": form[name], "form": form}, request
    )
    if step == "lng" and site is not None:
        mode = request.POST.get("bgp_mode") or site.get_intent().bgp_mode
        transit = getattr(form, "transit", None) or wf.transit_preview(site, mode)
        html += render_to_string(
            "wizard/partials/transit.html",
            {"transit": transit, "intent": site.get_intent(), "oob": True},
            request,
        )
    return HttpResponse(html)


# --------------------------------------------------------------------------- review and launch


def review_problems(site: Site) -> list[dict[str, str]]:
    """Everything still wrong with the site, each with the step that fixes it."""
    problems = []
    intent = site.get_intent()
    for field, message in netplan.validate_intent(intent):
        if field == "onprem_fqdn" and intent.onprem_fqdn.lower() in wf.sandbox_dns(site):
            continue  # the sandbox's own DNS answers this name (checked in the step)
        step = wf.FIELD_STEP.get(field, "site")
        problems.append(
            {"field": field, "message": message, "step": step, "url": _step_url(site, step)}
        )
    if not site.psk:
        problems.append(
            {
                "field": "psk",
                "message": "No pre-shared key is stored yet; generate or type one.",
                "step": "connection",
                "url": _step_url(site, "connection"),
            }
        )
    if not site.vnet_name:
        problems.append(
            {
                "field": "vnet_name",
                "message": "No virtual network is chosen; pick one.",
                "step": "vnet",
                "url": _step_url(site, "vnet"),
            }
        )
    return problems


def _review(request: HttpRequest, site: Site) -> HttpResponse:
    plan = build_plan(site, live=True)
    return render(
        request,
        "wizard/step_review.html",
        _context(
            site,
            "review",
            plan=plan,
            problems=review_problems(site),
            intent=site.get_intent(),
            active_run=site.runs.filter(active=True).first(),
        ),
    )


@require_POST
def launch(request: HttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    problems = review_problems(site)
    if problems:
        messages.error(request, "Fix the problems listed below before launching.")
        return redirect(_step_url(site, "review"))
    try:
        with transaction.atomic():
            run = start_run(site, RunKind.PROVISION)
            site.status = SiteStatus.PROVISIONING
            site.wizard_step = "review"
            site.save(update_fields=["status", "wizard_step", "updated"])
    except RunBusy as exc:
        messages.error(request, str(exc))
        return redirect(site.get_absolute_url())
    return redirect(reverse("wizard:run", args=[site.slug, run.pk]))


# --------------------------------------------------------------------------- runs


def _run_context(site: Site, run: Run) -> dict[str, Any]:
    steps = list(run.steps.all())
    groups = []
    for end, title in (("azure", "Azure"), ("pfsense", "pfSense"), ("both", "Both ends")):
        members = [s for s in steps if s.end == end]
        if members:
            groups.append({"end": end, "title": title, "steps": members})
    return {
        "site": site,
        "run": run,
        "groups": groups,
        "steps": steps,
        "intent": site.get_intent(),
        "hourly": _hourly(site),
        "can_retry": run.status in (RunStatus.FAILED, RunStatus.ERRORED),
        "can_resume": run.status == RunStatus.CANCELLED or _stalled(run, steps),
        "poll_url": reverse("wizard:run", args=[site.slug, run.pk]),
        "monitor_url": _monitor_url(site),
    }


def _stalled(run: Run, steps: list) -> bool:
    """A live run whose re-checks are overdue (e.g. every worker was down for a while)."""
    if not run.active or run.is_terminal:
        return False
    late = timezone.now() - timedelta(seconds=STALL_SECONDS)
    return any(
        (s.state == StepState.WAITING and s.next_check_at and s.next_check_at < late)
        or (s.state == StepState.QUEUED and s.queued_at and s.queued_at < late)
        for s in steps
    )


def run_progress(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    run = get_object_or_404(Run, pk=run_id, site=site)
    context = _run_context(site, run)
    if request.htmx and not request.htmx.boosted:
        html = render_to_string("wizard/partials/run.html", context, request)
        if run.is_terminal:
            return HttpResponseStopPolling(html)
        return HttpResponse(html)
    return render(request, "wizard/run.html", context)


def _run_action(request: HttpRequest, slug: str, run_id: int) -> tuple[Site, Run]:
    site = get_object_or_404(Site, slug=slug)
    run = get_object_or_404(Run, pk=run_id, site=site)
    return site, run


def _to_run(site: Site, run: Run) -> HttpResponseRedirect:
    return redirect(reverse("wizard:run", args=[site.slug, run.pk]))


@require_POST
def run_retry(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    site, run = _run_action(request, slug, run_id)
    if run.status not in (RunStatus.FAILED, RunStatus.ERRORED):
        messages.info(request, "Only a failed run can be retried.")
        return _to_run(site, run)
    try:
        retry_run(run)
    except RunBusy as exc:
        messages.error(request, str(exc))
    else:
        _set_status_for(site, run)
        messages.success(request, "Retrying: the failed steps run again; finished ones are kept.")
    return _to_run(site, run)


@require_POST
def run_resume(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    """Continue a cancelled run, or nudge a live one whose re-checks were lost."""
    site, run = _run_action(request, slug, run_id)
    try:
        if run.is_terminal:
            retry_run(run)
            _set_status_for(site, run)
        _dispatch_waiting(run)
    except RunBusy as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Resumed: waiting steps are checked again now.")
    return _to_run(site, run)


def _dispatch_waiting(run: Run) -> None:
    from wizard.tasks import advance_run, execute_step

    ids = list(
        run.steps.filter(state__in=[StepState.QUEUED, StepState.WAITING]).values_list(
            "pk", flat=True
        )
    )

    def send() -> None:
        for step_id in ids:
            execute_step.delay(step_id)
        advance_run.delay(run.pk)

    transaction.on_commit(send)


@require_POST
def run_cancel(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    site, run = _run_action(request, slug, run_id)
    cancel_run(run)
    messages.info(
        request, "Cancelled. Nothing already created is removed; Resume continues the run."
    )
    return _to_run(site, run)


def _set_status_for(site: Site, run: Run) -> None:
    status = SiteStatus.TEARING_DOWN if run.kind == RunKind.TEARDOWN else SiteStatus.PROVISIONING
    Site.objects.filter(pk=site.pk).update(status=status)


def teardown(request: HttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    intent = site.get_intent()
    hourly = _hourly(site)
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            error = (
                "Tick the box to confirm: tear-down deletes the connection, the local network "
                "gateway, the VPN gateway and its public IP(s), and s2svpn's pfSense objects."
            )
        else:
            try:
                with transaction.atomic():
                    run = start_run(site, RunKind.TEARDOWN)
                    site.status = SiteStatus.TEARING_DOWN
                    site.save(update_fields=["status", "updated"])
            except RunBusy as exc:
                messages.error(request, str(exc))
                return redirect(site.get_absolute_url())
            return _to_run(site, run)
    return render(
        request,
        "wizard/teardown.html",
        {
            "site": site,
            "intent": intent,
            "hourly": hourly,
            "error": error,
            "plan": build_plan(site),
        },
    )


# --------------------------------------------------------------------------- manual export


def _manual_values(site: Site) -> dict[str, str]:
    intent = site.get_intent()
    facts = known_facts(site)
    public_ip = facts.get("azure_public_ip") or "<Azure gateway public IP>"
    bgp_ip = facts.get("azure_bgp_ip") or azure_bgp_ip(intent, facts)
    return {"azure_public_ip": str(public_ip), "azure_bgp_ip": str(bgp_ip)}


def manual_gui(request: HttpRequest, slug: str) -> HttpResponse:
    from s2svpn import manual

    site = get_object_or_404(Site, slug=slug)
    text = manual.gui_instructions(
        site.get_intent(), psk_placeholder="<your pre-shared key>", **_manual_values(site)
    )
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="s2svpn-{site.slug}-pfsense-gui.md"'
    return response


def manual_xml(request: HttpRequest, slug: str) -> HttpResponse:
    from s2svpn import manual

    site = get_object_or_404(Site, slug=slug)
    text = manual.config_xml_fragment(
        site.get_intent(), psk_placeholder="<your pre-shared key>", **_manual_values(site)
    )
    response = HttpResponse(text, content_type="application/xml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="s2svpn-{site.slug}-config.xml"'
    return response
