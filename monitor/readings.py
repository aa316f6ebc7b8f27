"""What one poll of a site read: both halves and the DNS answer (the poller makes them, the
storage records them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from s2svpn.status import EndStatus


@dataclass
class DnsReading:
    fqdn: str = ""
    address: str = ""
    ttl: int | None = None
    error: str = ""


@dataclass
class Reading:
    site_id: int
    azure: EndStatus
    pfsense: EndStatus
    dns: DnsReading = field(default_factory=DnsReading)
    at: datetime = field(default_factory=timezone.now)
