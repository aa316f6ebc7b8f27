"""Lab fixtures: skip (locally) or fail (CI) with the reason when the lab cannot run here."""

from __future__ import annotations

import os

import pytest

from s2svpn.lab.harness import missing_requirements


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
def lab_ready() -> None:
    require_lab()
