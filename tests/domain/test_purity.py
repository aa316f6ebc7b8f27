"""The domain core is pure: importing it pulls in no Django, no Azure SDK and no HTTP client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULES = ["errors", "netplan", "asn", "ipsec", "psk", "dns", "cost", "skus"]


def test_the_domain_modules_import_no_django_sdk_or_http_client():
    code = (
        "import sys\n"
        + "".join(f"import s2svpn.{m}\n" for m in MODULES)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'azure', 'httpx', 'celery'})\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
