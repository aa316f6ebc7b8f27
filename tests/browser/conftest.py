"""Playwright (sync API) driving Debian's headless Chromium against Django's live server.

Chromium comes from the OS (`apt-get install chromium`, done by .ci/run); `playwright install`
is never needed. Screenshots of every page go to the ignored ``artifacts/`` folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS

PASSWORD = "correct-horse-battery"  # every browser test's users log in with it


@pytest.fixture
def owner(django_user_model):
    """An Operator (the role that runs the wizard), logging in as "owner" with PASSWORD."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("owner", "owner@example.net", PASSWORD)
    user.groups.add(Group.objects.get(name="Operator"))
    return user


@contextlib.contextmanager
def published(boxes, settings):
    """``boxes`` are the sandboxes "Use the sandbox" finds (their connection file) while the
    block runs; the file that was there before, if any, is put back afterwards."""
    path = settings.S2SVPN_SANDBOX_DIR / "connection.json"
    previous = path.read_bytes() if path.exists() else None
    boxes.write_connection_file(path)
    try:
        yield boxes
    finally:
        if previous is not None:
            path.write_bytes(previous)
        else:
            path.unlink(missing_ok=True)


def save_and_go(page, keys, next_step: str) -> None:
    """Save the wizard step and wait for the next one."""
    keys.press_on(".actions button[value=save]")
    page.wait_for_url(f"**/wizard/{next_step}/")


# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# between browser actions are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("S2SVPN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`.")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Between its calls Playwright's sync API marks its event loop as running in this thread
    # (playwright/sync_api/_context_manager.py, "Between sync calls the user code marks the loop
    # as running"), and Django's thread-critical connection storage then switches from the
    # thread-local to a context-var one (asgiref.local._ThreadCriticalLocal._get_storage): the
    # connections opened before (the test database's creation) would stay open, unseen by every
    # later close, for the rest of the session. Close them on both sides of that switch.
    connections.close_all()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            connections.close_all()
            browser.close()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


class Shots:
    """Numbered full-page screenshots under artifacts/<folder>/."""

    def __init__(self, folder: str) -> None:
        self.dir = ARTIFACTS / folder
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def __call__(self, page, name: str) -> Path:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


class Keyboard:
    """Drive a page with the keyboard only: Tab to an element, type, press Enter/Space."""

    def __init__(self, page) -> None:
        self.page = page

    def focused(self, selector: str) -> bool:
        return self.page.evaluate(
            "(sel) => !!document.activeElement && document.activeElement.matches(sel)", selector
        )

    def tab_to(self, selector: str, limit: int = 120) -> None:
        """Press Tab (only Tab) until the element matching ``selector`` has the focus."""
        for _ in range(limit):
            if self.focused(selector):
                return
            self.page.keyboard.press("Tab")
        active = self.page.evaluate(
            "() => document.activeElement && document.activeElement.outerHTML.slice(0, 200)"
        )
        raise AssertionError(f"Tab never reached {selector!r}; focus is on {active}")

    def type_into(self, selector: str, text: str, clear: bool = True) -> None:
        self.tab_to(selector)
        if clear:
            self.page.keyboard.press("Control+A")
            self.page.keyboard.press("Backspace")
        self.page.keyboard.type(text)

    def press_on(self, selector: str, key: str = "Enter") -> None:
        self.tab_to(selector)
        self.page.keyboard.press(key)


@pytest.fixture
def keys(page) -> Keyboard:
    return Keyboard(page)


def login(page, keys: Keyboard, username: str, password: str) -> None:
    page.goto("/login/")
    keys.type_into("#id_username", username)
    keys.type_into("#id_password", password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login/" not in url)
