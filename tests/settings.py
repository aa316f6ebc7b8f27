"""The test run's settings: the product's, with its state under ./var/test (pyproject's
``DJANGO_SETTINGS_MODULE``), so a test run never shares the database, broker folder or sandbox
state of a `make run` instance. Worker processes the tests start inherit the same environment."""

from __future__ import annotations

import os
from pathlib import Path

from s2svpn.vardir import prepare

os.environ.setdefault("S2SVPN_VAR_DIR", str(Path(__file__).resolve().parents[1] / "var" / "test"))
prepare()

from s2svpn.settings import *  # noqa: E402,F403
from s2svpn.settings import DATABASES, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A real file (so a test can search it for plaintext secrets), one per test session so that
    # concurrent sessions never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
