"""Where the local sandboxes listen: ``<S2SVPN_SANDBOX_DIR>/connection.json``.

``manage.py sandbox`` (and ``make run``) start the ARM and pfSense sandboxes and write this file
with the keys ``arm_base_url``, ``subscription_id``, ``ca_file`` (path to the CA PEM),
``pfsense_url``, ``pfsense_api_key``, ``pfsense_ca_file``, ``resource_group``, ``vnet_name``,
``location``, ``dns_server`` (the sandbox's nameserver, which becomes the site's DNS servers) and
``timing`` (the durations the sandbox declares, kept with the site). The wizard's "Use the
sandbox" button reads it here; nothing else in the app does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

REQUIRED = ("arm_base_url", "subscription_id", "pfsense_url", "pfsense_api_key")


def path() -> Path:
    return Path(settings.S2SVPN_SANDBOX_DIR) / "connection.json"


def load() -> dict[str, Any] | None:
    """The sandboxes' connection facts, or None when they are not running (no or broken file)."""
    try:
        data = json.loads(path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or any(not data.get(key) for key in REQUIRED):
        return None
    return data


def read_pem(file_name: str | None) -> str:
    """The PEM text of a CA file named in connection.json ("" when absent or unreadable)."""
    if not file_name:
        return ""
    try:
        return Path(file_name).read_text()
    except OSError:
        return ""
