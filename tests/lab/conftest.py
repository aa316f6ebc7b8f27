"""Lab fixtures: skip (locally) or fail (CI) with the reason when the lab cannot run here."""

from __future__ import annotations

import os
import shutil

import pytest

from s2svpn.lab.harness import CREATED_DIRS, missing_requirements


def require_lab() -> None:
    """Skip without root or the packages, saying why; in CI (``CI`` set) a missing lab fails."""
    reason = missing_requirements()
    if not reason:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the VPN lab must run in CI but cannot: {reason}", pytrace=False)
    print(f"\nskipping the VPN lab: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lab_ready(request) -> None:
    require_lab()
    yield
    # keep every run's logs and configs when something failed (charon.log has the story)
    if request.session.testsfailed == 0 and not os.environ.get("S2SVPN_LAB_KEEP"):
        for path in CREATED_DIRS:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def report(request):
    """Write a line to the terminal even when output is captured (lab timings, verdicts)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def write(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(line, flush=True)

    return write
