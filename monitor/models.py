"""What the monitor stores: the latest snapshot per site, every state change, compact series.

* ``Snapshot`` — one row per site, overwritten every poll: both halves (``EndStatus`` as JSON), the
  DNS facts, the computed verdict and the diagnosis. The status page reads only this table (plus
  the two below) and never calls out.
* ``Transition`` — a row for every change of a watched dimension (tunnel per end, BGP per end, the
  verdict, the DDNS address): old → new, reason, time. Uptime, "down since" and alerts are derived
  from these rows (healthchecks' ``Flip``).
* ``Sample`` — one row per site per hour (or per day once older than a week), upserted by every
  poll: byte counters and prefix counts. Retention: ``S2SVPN_RETENTION_DAYS``.
* ``Alert`` — every alert sent (or muted), so an incident alerts exactly once.
* ``PollLease`` — which poll holds a site right now: one poll per site at a time, whoever asks.
"""

from __future__ import annotations

from django.db import models

from wizard.models import Site


class Verdict(models.TextChoices):
    """The overall state of a site, with a badge colour (vendor words never reach the page)."""

    HEALTHY = "healthy", "Healthy"
    DEGRADED = "degraded", "Degraded"
    DOWN = "down", "Down"
    UNKNOWN = "unknown", "Unknown"

    @property
    def colour(self) -> str:
        return VERDICT_COLOURS[self.value]


VERDICT_COLOURS = {"healthy": "green", "degraded": "amber", "down": "red", "unknown": "grey"}
# Problems first on the status page.
VERDICT_ORDER = {"down": 0, "degraded": 1, "unknown": 2, "healthy": 3}


class Dimension(models.TextChoices):
    TUNNEL_AZURE = "tunnel_azure", "Tunnel (Azure)"
    TUNNEL_PFSENSE = "tunnel_pfsense", "Tunnel (pfSense)"
    BGP_AZURE = "bgp_azure", "BGP (Azure)"
    BGP_PFSENSE = "bgp_pfsense", "BGP (pfSense)"
    VERDICT = "verdict", "Verdict"
    DDNS = "ddns", "DDNS address"


class Snapshot(models.Model):
    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="snapshot")
    polled_at = models.DateTimeField()
    azure = models.JSONField(default=dict)
    pfsense = models.JSONField(default=dict)
    dns = models.JSONField(default=dict)
    # dimension -> current value (what transitions are computed against)
    states = models.JSONField(default=dict)
    verdict = models.CharField(max_length=10, choices=Verdict.choices, default=Verdict.UNKNOWN)
    reason = models.CharField(max_length=500, blank=True)
    findings = models.JSONField(default=list)
    # both halves as the status cards show them (monitor.present.halves_summary), per poll
    summary = models.JSONField(default=dict)
    verdict_since = models.DateTimeField(null=True, blank=True)
    # Incident bookkeeping (exactly one alert per incident, one recovery alert).
    incident_started = models.DateTimeField(null=True, blank=True)
    incident_alerted = models.BooleanField(default=False)
    flapping_alerted_at = models.DateTimeField(null=True, blank=True)
    # Polls stored so far: each stored poll's transitions carry the next number (``Transition.seq``)
    polls = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["verdict"])]

    def __str__(self) -> str:
        return f"{self.site} {self.verdict} at {self.polled_at:%Y-%m-%d %H:%M:%S}"

    @property
    def colour(self) -> str:
        return VERDICT_COLOURS.get(self.verdict, "grey")


class Transition(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="transitions")
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    old = models.CharField(max_length=64, blank=True)
    new = models.CharField(max_length=64)
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(db_index=True)
    # The stored poll this change came from (Snapshot.polls after it): two polls computed against
    # the same snapshot cannot both write a change (rows from before the numbering have none).
    seq = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["site", "dimension", "at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "dimension", "seq"], name="one_change_per_dimension_per_poll"
            )
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.dimension}: {self.old or '∅'} → {self.new}"


class Resolution(models.TextChoices):
    HOUR = "hour", "Hourly"
    DAY = "day", "Daily"


class Sample(models.Model):
    """Compact series: counters are the last reading in the bucket, prefix counts the minimum."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="samples")
    bucket = models.DateTimeField()
    resolution = models.CharField(max_length=4, choices=Resolution.choices, default="hour")
    bytes_in = models.BigIntegerField(null=True)
    bytes_out = models.BigIntegerField(null=True)
    # traffic accumulated inside the bucket (counter deltas; a counter reset counts from zero)
    traffic_in = models.BigIntegerField(default=0)
    traffic_out = models.BigIntegerField(default=0)
    azure_prefixes = models.IntegerField(null=True)
    pfsense_prefixes = models.IntegerField(null=True)
    polls = models.IntegerField(default=0)
    healthy_polls = models.IntegerField(default=0)

    class Meta:
        ordering = ["bucket"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "resolution", "bucket"], name="one_sample_per_bucket"
            )
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.resolution} {self.bucket:%Y-%m-%d %H:%M}"


class AlertKind(models.TextChoices):
    DOWN = "down", "Problem"
    RECOVERY = "recovery", "Recovery"
    FLAPPING = "flapping", "Flapping"


class Alert(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=10, choices=AlertKind.choices)
    at = models.DateTimeField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    muted = models.BooleanField(default=False, help_text="Maintenance was on: nothing was sent.")
    # per channel: "email: sent", "apprise: 1 of 2 failed (…)" — never the URLs (they hold tokens)
    delivery = models.JSONField(default=list)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.site} {self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"


class PollLease(models.Model):
    """A site being polled: the poll that claimed it (``holder``) until ``until``. A second poll
    of the same site finds the lease held and leaves the site to the first (one poll per site at
    a time, whoever asks: beat's cycle, a finished run, "Poll now")."""

    site = models.OneToOneField(
        Site, on_delete=models.CASCADE, primary_key=True, related_name="poll_lease"
    )
    holder = models.CharField(max_length=32, blank=True)
    until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.site} polled by {self.holder or 'nobody'}"
