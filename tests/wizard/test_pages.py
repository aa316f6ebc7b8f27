"""The pages around the wizard: the site list, a site's page, Launch, the progress page with its
polling that stops when the run ends, Retry / Resume / Cancel, tear-down and the manual export."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.wizard.conftest import step_url
from wizard.models import Run, RunKind, RunStatus, SiteStatus, StepState

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def test_the_site_list_has_a_new_site_button_and_labels_sandbox_sites(alice, draft):
    draft.sandbox = True
    draft.save()
    html = alice.get("/").content.decode()
    assert 'id="new-site"' in html and reverse("wizard:new") in html
    assert "Home lab" in html and 'class="badge sandbox"' in html


def test_an_empty_site_list_invites_to_create_the_first_site(alice):
    assert "Create your first site" in alice.get("/").content.decode()


def test_the_review_lists_what_is_still_wrong_with_a_link_to_the_step(alice, draft):
    draft.intent["lan_prefixes"] = ["172.16.5.0/24"]
    draft.intent["onprem_fqdn"] = ""
    draft.intent["onprem_public_ip"] = "203.0.113.2"
    draft.save()
    html = alice.get(step_url(draft, "review")).content.decode()
    assert "Fix these first" in html
    assert "overlaps the VNet address space" in html
    assert f'href="{step_url(draft, "pfsense")}"' in html
    response = alice.post(reverse("wizard:launch", args=[draft.slug]))
    assert response["Location"] == step_url(draft, "review")
    assert not Run.objects.exists()


def test_the_review_shows_every_object_the_cost_and_the_time(alice, draft, dns):
    html = alice.get(step_url(draft, "review")).content.decode()
    for name in (
        "GatewaySubnet",
        "s2svpn-home-pip1",
        "s2svpn-home-lng",
        "s2svpn-home-vpngw",
        "s2svpn-home-conn",
        "s2svpn:home",
        "AZUREVTI",
        "AS 65010",
    ):
        assert name in html, name
    assert "$142.35" in html and "20–45+ min" in html
    assert "Fix these first" not in html


def launch(alice, draft) -> Run:
    response = alice.post(reverse("wizard:launch", args=[draft.slug]))
    run = Run.objects.get(site=draft)
    assert response["Location"] == reverse("wizard:run", args=[draft.slug, run.pk])
    return run


def test_launch_starts_one_provisioning_run_across_both_ends(alice, draft, dns):
    run = launch(alice, draft)
    draft.refresh_from_db()
    assert run.kind == RunKind.PROVISION
    assert draft.status == SiteStatus.PROVISIONING
    keys = set(run.steps.values_list("key", flat=True))
    assert {"az_subnet", "az_gateway", "pf_phase1", "pf_rest", "verify"} <= keys
    html = alice.get(reverse("wizard:run", args=[draft.slug, run.pk])).content.decode()
    assert 'id="step-az_gateway"' in html and 'id="step-pf_phase1"' in html
    assert "<svg" in html and "172.16.19.254" in html  # the topology with real addresses


def test_the_progress_page_polls_until_the_run_ends_then_stops_with_286(alice, draft, dns):
    run = launch(alice, draft)
    url = reverse("wizard:run", args=[draft.slug, run.pk])
    live = alice.get(url, headers=HTMX)
    assert live.status_code == 200
    assert 'hx-trigger="every 1s"' in live.content.decode()
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, active=False)
    done = alice.get(url, headers=HTMX)
    assert done.status_code == 286
    assert "hx-trigger" not in done.content.decode()


def test_a_step_shows_its_eta_log_and_error(alice, draft, dns):
    from datetime import timedelta

    from django.utils import timezone

    from s2svpn.models import WorkerBeat

    run = launch(alice, draft)
    now = timezone.now()
    run.steps.filter(key="az_gateway").update(
        state=StepState.WAITING,
        started=now,
        eta=now + timedelta(minutes=30),
        message="VPN gateway is being built",
        log=[{"t": now.isoformat(), "m": "PUT virtualNetworkGateways accepted"}],
    )
    run.steps.filter(key="pf_phase1").update(
        state=StepState.FAILED, error="pfSense refused the phase 1: fix the WAN interface."
    )
    WorkerBeat.objects.create(name="worker@test", started=now, beat_at=now)  # a live worker
    html = alice.get(reverse("wizard:run", args=[draft.slug, run.pk])).content.decode()
    assert "ETA in about 29 min" in html or "ETA in about 30 min" in html
    assert "PUT virtualNetworkGateways accepted" in html
    assert "pfSense refused the phase 1: fix the WAN interface." in html


def test_retry_reopens_a_failed_run_keeping_what_is_done(alice, draft, dns):
    run = launch(alice, draft)
    run.steps.filter(key="az_subnet").update(state=StepState.DONE)
    run.steps.filter(key="az_pip").update(state=StepState.FAILED, error="quota")
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, active=False)
    html = alice.get(reverse("wizard:run", args=[draft.slug, run.pk])).content.decode()
    assert reverse("wizard:run_retry", args=[draft.slug, run.pk]) in html
    alice.post(reverse("wizard:run_retry", args=[draft.slug, run.pk]))
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.active
    assert run.steps.get(key="az_subnet").state == StepState.DONE
    assert run.steps.get(key="az_pip").state == StepState.PENDING


def test_cancel_then_resume_continues_the_same_run(alice, draft, dns):
    run = launch(alice, draft)
    alice.post(reverse("wizard:run_cancel", args=[draft.slug, run.pk]))
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    html = alice.get(reverse("wizard:run", args=[draft.slug, run.pk])).content.decode()
    assert reverse("wizard:run_resume", args=[draft.slug, run.pk]) in html
    alice.post(reverse("wizard:run_resume", args=[draft.slug, run.pk]))
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.active


def test_teardown_is_confirmed_and_states_the_hourly_cost_it_stops(alice, draft, dns):
    run = launch(alice, draft)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, active=False)
    url = reverse("wizard:teardown", args=[draft.slug])
    html = alice.get(url).content.decode()
    assert "$0.195 per hour" in html
    unconfirmed = alice.post(url, {}).content.decode()
    assert "Tick the box to confirm" in unconfirmed
    assert not Run.objects.filter(kind=RunKind.TEARDOWN).exists()
    response = alice.post(url, {"confirm": "yes"})
    teardown = Run.objects.get(kind=RunKind.TEARDOWN)
    assert response["Location"] == reverse("wizard:run", args=[draft.slug, teardown.pk])
    draft.refresh_from_db()
    assert draft.status == SiteStatus.TEARING_DOWN


def test_the_site_page_links_progress_downloads_and_status(alice, draft, dns):
    run = launch(alice, draft)
    html = alice.get(draft.get_absolute_url()).content.decode()
    assert reverse("wizard:run", args=[draft.slug, run.pk]) in html
    assert reverse("wizard:manual_gui", args=[draft.slug]) in html
    assert reverse("wizard:manual_xml", args=[draft.slug]) in html
    assert f"/status/{draft.slug}/" in html


def test_the_manual_downloads_hold_the_planned_values_and_no_psk(alice, draft):
    gui = alice.get(reverse("wizard:manual_gui", args=[draft.slug]))
    assert gui["Content-Disposition"].startswith("attachment;")
    text = gui.content.decode()
    assert "172.16.19.253" in text and "172.16.19.254" in text and "65515" in text
    assert str(draft.psk) not in text
    xml = alice.get(reverse("wizard:manual_xml", args=[draft.slug])).content.decode()
    assert "<phase1>" in xml and "s2svpn:home" in xml
    assert str(draft.psk) not in xml
