"""Content-Security-Policy: scripts and styles from this origin only, no inline script or handler
anywhere in the templates, htmx told not to inject its indicator <style>."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.django_db


def test_every_page_carries_a_policy_without_unsafe_inline(alice):
    policy = alice.get("/").headers["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )
    assert directives["script-src"][0] == "'self'" and directives["style-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
    assert "Content-Security-Policy" in alice.get("/login/").headers


def test_no_template_has_an_inline_script_style_or_handler():
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)(?![^>]*application/json)|<style\b|\son[a-z]+\s*=|\sstyle\s*=|"
        r"javascript:",
        re.IGNORECASE,
    )
    offenders = [
        f"{path.relative_to(REPO)}: {match.group(0)!r}"
        for path in (REPO / "templates").rglob("*.html")
        for match in inline.finditer(path.read_text())
    ]
    assert offenders == []


def test_htmx_does_not_inject_its_indicator_styles(alice):
    html = alice.get("/").content.decode()
    assert '"includeIndicatorStyles": false' in html
    css = (REPO / "static/s2svpn/app.css").read_text()
    assert ".htmx-request .htmx-indicator" in css
