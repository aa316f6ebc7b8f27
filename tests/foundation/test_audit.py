"""The audit trail: who launched, retried, pushed, tore down, changed a secret or a role, and
when; read-only in the admin, never holding a secret's value."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from audit.models import Action, AuditEvent
from tests.conftest import user_with_role
from tests.wizard.conftest import draft, quick_live_plan, step_url  # noqa: F401
from wizard.models import Run, RunStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_live_plan")]


def events(action):
    return list(AuditEvent.objects.filter(action=action))


def test_launch_retry_teardown_and_push_are_recorded_with_who_and_which_run(
    client,
    operator,
    draft,  # noqa: F811
):
    client.force_login(operator)
    client.post(reverse("wizard:launch", args=[draft.slug]))
    run = Run.objects.get()
    (launch,) = events(Action.LAUNCH)
    assert launch.actor == operator and launch.actor_name == "olga"
    assert launch.site == draft and launch.detail == f"run #{run.pk}"
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, active=False)
    client.post(reverse("wizard:run_retry", args=[draft.slug, run.pk]))
    assert [e.detail for e in events(Action.RETRY)] == [f"run #{run.pk}"]
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, active=False)
    client.post(reverse("wizard:teardown", args=[draft.slug]), {"confirm": "yes"})
    assert len(events(Action.TEARDOWN)) == 1
    Run.objects.update(active=False, status=RunStatus.SUCCEEDED)
    client.post(reverse("monitor:repush", args=[draft.slug]))
    (push,) = events(Action.PUSH)
    assert push.actor == operator and "pfSense push #" in push.detail


def test_a_changed_secret_is_recorded_by_name_and_its_value_appears_nowhere(
    alice,
    admin_user,
    draft,  # noqa: F811
):
    from tests.wizard.test_secret_binding import site_form_data

    new_key = "a-brand-new-api-key-value"
    created = events(Action.SECRET)  # storing the draft set its three secrets (no user)
    assert [(e.actor, e.detail) for e in created] == [
        (None, "changed: client_secret, pfsense_api_key, psk")
    ]
    AuditEvent.objects.all().delete()
    alice.post(step_url(draft, "site"), site_form_data(draft, pfsense_api_key=new_key))
    (event,) = events(Action.SECRET)
    assert event.actor == admin_user and event.detail == "changed: pfsense_api_key"
    for row in AuditEvent.objects.values_list("detail", "site_name", "actor_name"):
        assert new_key not in " ".join(row) and draft.psk not in " ".join(row)
    listing = alice.get("/admin/audit/auditevent/").content.decode()
    assert "changed: pfsense_api_key" in listing and new_key not in listing


def test_role_changes_are_recorded_from_either_side(alice, admin_user):
    user = user_with_role("carol", None)
    AuditEvent.objects.all().delete()
    viewer = Group.objects.get(name="Viewer")
    user.groups.add(viewer)
    viewer.user_set.remove(user)
    details = [e.detail for e in AuditEvent.objects.order_by("pk")]
    assert details == ["carol added to Viewer", "carol removed from Viewer"]


def test_the_trail_is_read_only_in_the_admin(alice, draft):  # noqa: F811
    event = AuditEvent.objects.create(action=Action.LAUNCH, site=draft, site_name=draft.name)
    assert alice.get("/admin/audit/auditevent/add/").status_code == 403
    change = alice.get(f"/admin/audit/auditevent/{event.pk}/change/").content.decode()
    assert 'name="detail"' not in change  # shown, not editable
    assert (
        alice.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=event.pk).exists()
