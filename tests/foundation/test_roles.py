"""Every URL pattern x {anonymous, stranger (no role), viewer, operator, administrator} x
{GET, POST} gets exactly the intended answer: the login page, 403, or the page / redirect / 405.

The patterns are walked from the URL resolver (a new view without an entry here fails the test).
The admin's patterns are checked against the superuser: an Administrator gets exactly what the
superuser gets, everyone else is sent to a login page.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from s2svpn.roles import OPERATE, VIEW_STATUS
from tests.conftest import user_with_role
from tests.wizard.conftest import make_site, quick_live_plan  # noqa: F401
from wizard.models import Run, RunKind, RunStatus, Site, SiteStatus

pytestmark = pytest.mark.usefixtures("quick_live_plan")

PERSONAS = ("anonymous", "stranger", "viewer", "operator", "administrator")
LOGIN = "login"  # a redirect to a login page
PUBLIC = None

# name -> (permission it needs, answer to GET, answer to POST) for a user who holds it.
# An int is a status code; ("redirect", "/path") a 302 whose Location starts with the path.
EXPECTED = {
    "healthz": (PUBLIC, 503, 503),  # public; 503 as no worker beats in this test
    "login": (PUBLIC, 200, 200),
    "logout": ("any", 405, LOGIN),  # logged out, back to the login page
    "monitor:status": (VIEW_STATUS, 200, 200),
    "monitor:site": (VIEW_STATUS, 200, 200),
    "monitor:reset_gateway": (OPERATE, 405, ("redirect", "/status/home/")),
    "monitor:poll_now": (OPERATE, 405, ("redirect", "/status/home/")),
    "monitor:repush": (OPERATE, 405, ("redirect", "/status/home/")),
    "wizard:sites": (OPERATE, 200, 200),
    "wizard:new": (OPERATE, 200, 200),
    "wizard:new_validate": (OPERATE, 405, 204),
    "wizard:site": (OPERATE, 200, 200),
    "wizard:step": (OPERATE, 200, 200),
    "wizard:validate": (OPERATE, 405, 204),
    "wizard:launch": (OPERATE, 405, ("redirect", "/sites/home/")),
    "wizard:teardown": (OPERATE, 200, 200),
    "wizard:run": (OPERATE, 200, 200),
    "wizard:run_retry": (OPERATE, 405, ("redirect", "/sites/home/runs/")),
    "wizard:run_resume": (OPERATE, 405, ("redirect", "/sites/home/runs/")),
    "wizard:run_cancel": (OPERATE, 405, ("redirect", "/sites/home/runs/")),
    "wizard:manual_gui": (OPERATE, 200, 200),
    "wizard:manual_xml": (OPERATE, 200, 200),
}
HOLDS = {
    "stranger": set(),
    "viewer": {VIEW_STATUS},
    "operator": {VIEW_STATUS, OPERATE},
    "administrator": {VIEW_STATUS, OPERATE},
}


def walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), f"{namespace}{entry.name}"


def fill(route: str, values: dict[str, str]) -> str:
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "1"), route)
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values.get(m.group(1), "1"), route)
    return "/" + route.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")


@pytest.fixture
def world(db):
    site = make_site(status=SiteStatus.ACTIVE)
    run = Run.objects.create(
        site=site, kind=RunKind.PROVISION, status=RunStatus.FAILED, active=False
    )
    return {"slug": site.slug, "run_id": str(run.pk), "step": "gateway"}


def client_for(persona: str) -> Client:
    client = Client()
    if persona != "anonymous":
        role = None if persona == "stranger" else persona.capitalize()
        client.force_login(user_with_role(f"{persona}-user", role))
    return client


def answer(response) -> int | tuple[str, str]:
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith(("/login/", "/admin/login/")):
            return LOGIN
        return ("redirect", location)
    return response.status_code


def intended(name: str, persona: str, method: str):
    need, get, post = EXPECTED[name]
    if need is PUBLIC:
        return get if method == "GET" else post
    if persona == "anonymous":
        return LOGIN
    if need != "any" and need not in HOLDS[persona]:
        if name == "wizard:sites" and VIEW_STATUS in HOLDS[persona]:
            return ("redirect", "/status/")  # a Viewer's home is the status page
        return 403
    return get if method == "GET" else post


def matches(got, want) -> bool:
    if isinstance(want, tuple) and isinstance(got, tuple):
        return got[0] == want[0] and got[1].startswith(want[1])
    return got == want


@pytest.mark.django_db
def test_every_url_answers_each_role_exactly_as_intended(world):
    routes = [(r, n) for r, n in walk(get_resolver().url_patterns) if not n.startswith("admin:")]
    assert {n for _r, n in routes} == set(EXPECTED), "a URL without an intended answer"
    clients = {persona: client_for(persona) for persona in PERSONAS}
    wrong = []
    checked = 0
    for route, name in routes:
        url = fill(route, world)
        for persona in PERSONAS:
            for method in ("GET", "POST"):
                if name == "logout" and method == "POST" and persona != "anonymous":
                    continue  # done last: it ends the session
                response = getattr(clients[persona], method.lower())(url)
                got, want = answer(response), intended(name, persona, method)
                checked += 1
                if not matches(got, want):
                    wrong.append((name, persona, method, got, want))
    for persona in PERSONAS[1:]:
        got = answer(clients[persona].post("/logout/"))
        if not matches(got, intended("logout", persona, "POST")):
            wrong.append(("logout", persona, "POST", got, LOGIN))
    assert not wrong, wrong
    assert checked > 200


@pytest.mark.django_db
def test_in_the_admin_an_administrator_gets_what_the_superuser_gets_and_others_a_login(
    world, admin_user
):
    routes = [(r, n) for r, n in walk(get_resolver().url_patterns) if n.startswith("admin:")]
    values = {**world, "object_id": "1", "app_label": "wizard", "content_type_id": "1"}
    superuser = Client()
    superuser.force_login(admin_user)
    clients = {persona: client_for(persona) for persona in PERSONAS}
    wrong = []
    for route, name in routes:
        if name in ("admin:logout",):
            continue
        url = fill(route, values)
        for method in ("GET", "POST"):
            reference = answer(getattr(superuser, method.lower())(url))
            assert reference != LOGIN and reference != 500, (url, method, reference)
            for persona in PERSONAS:
                got = answer(getattr(clients[persona], method.lower())(url))
                if name == "admin:login":
                    want = got if got in (200, ("redirect", "/admin/")) else "a login form"
                elif persona == "administrator":
                    want = reference
                else:
                    want = LOGIN
                if not matches(got, want):
                    wrong.append((url, persona, method, got, want))
    assert not wrong, wrong


@pytest.mark.django_db
def test_the_admin_actions_on_sites_need_the_operator_permission(world, client):
    from django.contrib.auth.models import Permission

    staff = user_with_role("steve", None)
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(Permission.objects.get(codename="view_site"))
    client.force_login(staff)
    page = client.get("/admin/wizard/site/").content.decode()
    assert "Re-push pfSense" not in page and "Poll now" not in page
    response = client.post(
        "/admin/wizard/site/",
        {"action": "repush_pfsense", "_selected_action": [Site.objects.get().pk]},
    )
    assert not Run.objects.filter(kind=RunKind.PUSH).exists()
    assert response.status_code in (200, 302)


@pytest.mark.django_db
def test_the_first_admin_account_is_an_administrator(monkeypatch):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    monkeypatch.setenv("S2SVPN_ADMIN_PASSWORD", "a-long-pass-phrase")
    call_command("ensure_admin")
    user = get_user_model().objects.get(username="admin")
    assert list(user.groups.values_list("name", flat=True)) == ["Administrator"]
    assert user.is_staff


@pytest.mark.django_db
def test_an_administrator_role_brings_the_admin_and_losing_it_takes_it_away():
    from django.contrib.auth.models import Group

    user = user_with_role("ben", "Viewer")
    assert not user.is_staff
    user.groups.add(Group.objects.get(name="Administrator"))
    user.refresh_from_db()
    assert user.is_staff and user.has_perm("auth.change_user")
    user.groups.remove(Group.objects.get(name="Administrator"))
    user.refresh_from_db()
    assert not user.is_staff
