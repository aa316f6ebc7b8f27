"""Stored sites, and the runs (with their steps) that provision, push and tear them down.

A ``Site`` holds how to reach both ends (secrets encrypted at rest) and the intent: the wizard's
validated answers as a ``SiteIntent`` dict. Every background operation is a ``Run`` row with one
``Step`` row per unit of work (state, timestamps, log lines, resource id, error, retryable), so a
crashed worker loses nothing but a re-check.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from django.utils import timezone

from s2svpn.dns import DnsError, parse_nameservers
from s2svpn.intent import SiteIntent
from wizard.fields import EncryptedTextField
from wizard.validators import (
    SLUG_PATTERN,
    validate_guid,
    validate_https,
    validate_region,
    validate_resource_group,
    validate_slug,
    validate_text,
)

# The most a field may hold, enforced by the database too (SQLite ignores max_length).
LENGTHS = {
    "name": 80,
    "slug": 40,
    "tenant_id": 64,
    "client_id": 64,
    "subscription_id": 64,
    "resource_group": 90,
    "location": 40,
    "vnet_name": 64,
    "pfsense_fingerprint": 95,
}


def validate_nameservers(value: str) -> None:
    try:
        parse_nameservers(value)
    except DnsError as exc:
        raise ValidationError(exc.message) from None


class AzureAuth(models.TextChoices):
    SERVICE_PRINCIPAL = "service_principal", "Service principal (tenant, client id, secret)"
    DEFAULT_CREDENTIAL = "default_credential", "DefaultAzureCredential (managed identity, CLI, env)"
    SANDBOX = "sandbox", "Sandbox (local ARM stand-in)"


class SiteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PROVISIONING = "provisioning", "Provisioning"
    ACTIVE = "active", "Active"
    FAILED = "failed", "Failed"
    TEARING_DOWN = "tearing_down", "Tearing down"
    REMOVED = "removed", "Removed"


class Site(models.Model):
    name = models.CharField(max_length=80, validators=[validate_text])
    slug = models.SlugField(
        max_length=40,
        unique=True,
        validators=[validate_slug],
        help_text="Used in Azure resource names.",
    )
    sandbox = models.BooleanField(
        default=False, help_text="Both ends are the local sandboxes, not real Azure or pfSense."
    )
    status = models.CharField(max_length=20, choices=SiteStatus.choices, default=SiteStatus.DRAFT)
    # A half-finished wizard is a DRAFT site: its answers live in ``intent``, this is where it stopped.
    wizard_step = models.CharField(max_length=20, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    # Azure connection
    azure_auth = models.CharField(
        max_length=24, choices=AzureAuth.choices, default=AzureAuth.SERVICE_PRINCIPAL
    )
    tenant_id = models.CharField("tenant id", max_length=64, blank=True, validators=[validate_guid])
    client_id = models.CharField("client id", max_length=64, blank=True, validators=[validate_guid])
    client_secret = EncryptedTextField("client secret", blank=True)
    subscription_id = models.CharField(
        "subscription id", max_length=64, blank=True, validators=[validate_guid]
    )
    resource_group = models.CharField(
        max_length=90, blank=True, validators=[validate_resource_group]
    )
    location = models.CharField("region", max_length=40, blank=True, validators=[validate_region])
    vnet_name = models.CharField(
        "virtual network", max_length=64, blank=True, validators=[validate_text]
    )
    arm_base_url = models.URLField(
        "ARM endpoint",
        blank=True,
        validators=[validate_https],
        help_text="Empty = public Azure (management.azure.com).",
    )
    arm_ca_bundle = models.TextField(
        "ARM CA bundle (PEM)", blank=True, help_text="Only for a non-public ARM endpoint."
    )

    # pfSense connection
    pfsense_url = models.URLField("pfSense URL", blank=True, validators=[validate_https])
    pfsense_api_key = EncryptedTextField("pfSense API key", blank=True)
    pfsense_ca_bundle = models.TextField(
        "pfSense CA certificate (PEM)",
        blank=True,
        help_text="Trust the firewall's certificate through this CA, or pin its fingerprint.",
    )
    pfsense_fingerprint = models.CharField(
        "pfSense certificate SHA-256 fingerprint", max_length=95, blank=True
    )

    # How the home end's DDNS name is resolved (the wizard's check and the monitor's)
    dns_servers = models.CharField(
        "DNS servers",
        max_length=200,
        blank=True,
        help_text="Nameservers to ask for the home end's DDNS name, comma-separated (ip or ip:port). "
        "Empty = S2SVPN_DNS_SERVERS, else the system resolver.",
        validators=[validate_nameservers],
    )

    # The tunnel
    psk = EncryptedTextField("pre-shared key", blank=True)
    intent = models.JSONField(default=dict, blank=True)
    azure_ids = models.JSONField("Azure resource ids", default=dict, blank=True)
    pfsense_ids = models.JSONField("pfSense object keys", default=dict, blank=True)

    # Alerts
    alert_emails = models.CharField(
        max_length=500, blank=True, help_text="Comma-separated addresses for down/recovery alerts."
    )
    apprise_urls = EncryptedTextField(
        "Apprise URLs", blank=True, help_text="One per line (ntfy://, gotify://, discord://, …)."
    )
    maintenance = models.BooleanField(default=False, help_text="Mute alerts while set.")

    class Meta:
        ordering = ["name"]
        # The roles (s2svpn.roles) are groups holding these: Viewer sees the status pages,
        # Operator runs the wizard, launches, retries, pushes, polls and tears down.
        permissions = [
            ("view_status", "Can see the status pages"),
            ("operate_site", "Can run the wizard, launch, retry, push, poll and tear down"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(slug__regex=SLUG_PATTERN), name="site_slug_lower_case_hyphens"
            ),
            *(
                models.CheckConstraint(
                    condition=LessThanOrEqual(Length(field), limit),
                    name=f"site_{field}_at_most_{limit}",
                )
                for field, limit in LENGTHS.items()
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (sandbox)" if self.sandbox else self.name

    def get_absolute_url(self) -> str:
        return reverse("wizard:site", args=[self.slug])

    def nameservers(self) -> list[str] | None:
        """The nameservers that resolve this site's DDNS name (None: the system resolver)."""
        from django.conf import settings

        return parse_nameservers(self.dns_servers) or list(settings.S2SVPN_DNS_SERVERS) or None

    def get_intent(self) -> SiteIntent:
        data = {
            "slug": self.slug,
            "resource_group": self.resource_group,
            "location": self.location,
            "vnet_name": self.vnet_name,
            **(self.intent or {}),
        }
        return SiteIntent.from_dict(data)


class RunKind(models.TextChoices):
    PROVISION = "provision", "Provision both ends"
    TEARDOWN = "teardown", "Tear down both ends"
    PUSH = "push", "Push pfSense"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # expected and explained (e.g. Azure refused a value)
    ERRORED = "errored", "Errored"  # a bug: see the traceback in the log
    CANCELLED = "cancelled", "Cancelled"


TERMINAL = {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.ERRORED, RunStatus.CANCELLED}


class Run(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=20, choices=RunKind.choices)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.PENDING)
    # True while the run may still do work; a partial unique index makes it the per-site lock.
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["site"], condition=Q(active=True), name="one_active_run_per_site"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def elapsed(self) -> float | None:
        if not self.started:
            return None
        return ((self.finished or timezone.now()) - self.started).total_seconds()


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"  # dependencies not done yet
    QUEUED = "queued", "Queued"  # a task was sent
    RUNNING = "running", "Running"  # a worker holds the lease
    WAITING = "waiting", "Waiting"  # re-check later (e.g. the gateway is being built)
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Step(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    key = models.CharField(max_length=40)
    end = models.CharField(max_length=10)  # azure | pfsense | both
    title = models.CharField(max_length=120)
    order = models.PositiveSmallIntegerField(default=0)
    depends_on = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=10, choices=StepState.choices, default=StepState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    eta = models.DateTimeField(null=True, blank=True, help_text="Expected completion (gateway).")
    resource_id = models.CharField(max_length=400, blank=True)
    message = models.CharField(max_length=300, blank=True)
    log = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    retryable = models.BooleanField(default=False)
    busy_seconds = models.FloatField(default=0.0, help_text="Time workers spent executing it.")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["order", "pk"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="one_step_per_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"

    def elapsed(self) -> float | None:
        if not self.started:
            return None
        return ((self.finished or timezone.now()) - self.started).total_seconds()


class FirewallLease(models.Model):
    """One push at a time per firewall (the REST package does not serialise GUI and API writers,
    and a push's checkpoint restore would undo another's writes): a run holds the lease from its
    first pfSense write to its verified tunnel (``wizard.firewall``); an expired lease may be
    taken over."""

    firewall = models.CharField(max_length=300, unique=True)
    holder = models.CharField(max_length=64, blank=True)
    until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.firewall} held by {self.holder or 'nobody'}"
