"""PfSenseClient: the pfSense end over pfSense-pkg-RESTAPI v2, FRR through the command endpoint.

Vendor references: https://pfrest.org/api-docs/ (REST API v2, envelope, ``X-API-Key``,
``represent_interfaces_as``, apply endpoints), pfSense-pkg-frr's ``installedpackages`` sections and
``frr_generate_config()`` (no REST model exists, pfrest/pfSense-pkg-RESTAPI#127), FRR's vtysh JSON
(https://docs.frrouting.org/en/latest/bgp.html). Project notes: ``shared/reference/pfsense.md``.

Rules this client keeps:

* TLS is verified against a CA file, or against a pinned SHA-256 fingerprint of the firewall's
  certificate (checked during the TLS handshake, before the API key is sent). Plain ``http://`` is
  refused (it would send the API key unencrypted), the sandbox included: it serves HTTPS.
* Objects are found again by stable keys (``descr``, ``ikeid``, ``reqid``, ``if``, ``tracker``)
  right before every PATCH/DELETE; array ids are never remembered between calls.
* Errors become :class:`ClientError` with the package's ``response_id`` as ``code``.
  401/403/400/404/422/424 are permanent; 5xx, 429, timeouts and dropped connections are transient.
  Only requests that cannot have changed anything (GETs, refused connections, 429/503) are retried
  here; a failed write is reported and the idempotent push step re-reads before trying again.
* FRR data travels only as base64 JSON; command texts are fixed (``s2svpn.pfsense_plan``).
* Secrets (API key, PSK) never appear in messages or logs.
"""

from __future__ import annotations

from s2svpn.clients.pfsense.preflight import FRR_PACKAGE, Preflight, Preflights
from s2svpn.clients.pfsense.status import StatusReads
from s2svpn.clients.pfsense.transport import (
    PERMANENT_STATUS,
    REST_MISSING,
    PfSenseApi,
    PinMismatch,
    fetch_fingerprint,
)

__all__ = [
    "FRR_PACKAGE",
    "PERMANENT_STATUS",
    "REST_MISSING",
    "PfSenseApi",
    "PfSenseClient",
    "PinMismatch",
    "Preflight",
    "fetch_fingerprint",
]


class PfSenseClient(StatusReads, Preflights):
    """Typed operations on one firewall. Cheap to construct; close() when done.

    One class over four concerns, each in its own module: the transport (``transport``), the
    objects s2svpn writes (``objects``), FRR sections and checkpoints (``commands``), the
    preflight (``preflight``) and the monitor's reading (``status``).
    """

    def __enter__(self) -> PfSenseClient:
        return self
