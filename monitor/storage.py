"""Turn a cycle's readings into rows: snapshots, transitions, hourly samples; then alerts.

Everything is written in bulk (a handful of queries per cycle, whatever the number of sites):
one read of the previous snapshots, one of the current hour's samples, then ``bulk_create`` /
``bulk_update``. Transitions are computed against the previous snapshot's ``states`` (one value
per dimension, see ``monitor.models.Dimension``). Incidents and alerts follow
``monitor.alerts``; retention and downsampling are :func:`prune`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitor import alerts
from monitor.diagnosis import DnsFacts, assess, learned_prefixes
from monitor.models import Alert, Resolution, Sample, Snapshot, Transition
from monitor.present import halves_summary
from monitor.readings import Reading
from monitor.serialize import end_to_dict
from s2svpn.status import EndStatus, TunnelState
from wizard.models import Site

log = logging.getLogger(__name__)

SNAPSHOT_FIELDS = [
    "polled_at",
    "azure",
    "pfsense",
    "dns",
    "states",
    "verdict",
    "reason",
    "findings",
    "summary",
    "verdict_since",
    "incident_started",
    "incident_alerted",
    "flapping_alerted_at",
    "polls",
]
DIMENSIONS = ("tunnel_azure", "tunnel_pfsense", "bgp_azure", "bgp_pfsense", "ddns", "verdict")


@dataclass
class Outcome:
    snapshots: int = 0
    transitions: int = 0
    alerts: int = 0


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _counters(end: EndStatus) -> tuple[int | None, int | None]:
    if end.error:
        return None, None
    if end.bytes_in is not None or end.bytes_out is not None:
        return end.bytes_in, end.bytes_out
    total_in = total_out = None
    for sa in end.sas:
        for child in sa.children:
            total_in = (total_in or 0) + child.bytes_in
            total_out = (total_out or 0) + child.bytes_out
    return total_in, total_out


def _delta(now: int | None, before: int | None) -> int:
    if now is None:
        return 0
    if before is None:
        return 0
    return now - before if now >= before else now  # a counter reset counts from zero


def _tunnel_up(reading: Reading) -> bool:
    return (not reading.azure.error and reading.azure.tunnel == TunnelState.UP) or (
        not reading.pfsense.error and reading.pfsense.tunnel == TunnelState.UP
    )


def _azure_bgp_ips(site: Site) -> list[str]:
    ids = site.azure_ids or {}
    value = ids.get("bgp_ips") or ids.get("azure_bgp_ips") or ids.get("bgp_ip") or []
    return [value] if isinstance(value, str) else list(value)


def record(
    readings: Iterable[Reading],
    *,
    sites: dict[int, Site] | None = None,
    send: bool = True,
) -> Outcome:
    """Store one cycle. ``send=False`` decides and records alerts without delivering them.

    Raises ``IntegrityError`` (and stores nothing) when another writer stored one of these sites
    after this call read its snapshot: the transitions computed here would repeat its own
    (``Transition.seq``); storing again computes them against what it wrote."""
    readings = list(readings)
    outcome = Outcome()
    if not readings:
        return outcome
    ids = [r.site_id for r in readings]
    if sites is None or any(i not in sites for i in ids):
        sites = Site.objects.in_bulk(ids)
    # the readings themselves stay in the database: the previous counters are in the summary
    previous = {
        s.site_id: s for s in Snapshot.objects.filter(site_id__in=ids).defer("azure", "pfsense")
    }
    hours = {hour_of(r.at) for r in readings}
    buckets = {
        (s.site_id, s.bucket): s
        for s in Sample.objects.filter(
            site_id__in=ids, resolution=Resolution.HOUR, bucket__in=list(hours)
        )
    }

    new_snapshots, changed_snapshots = [], []
    new_transitions: list[Transition] = []
    samples: dict[tuple[int, datetime], Sample] = {}
    decisions: list[alerts.Decision] = []
    verdict_changed: list[int] = []

    for reading in readings:
        site = sites.get(reading.site_id)
        if site is None:
            continue
        intent = site.get_intent()
        snap = previous.get(site.pk)
        old_dns = (snap.dns if snap else {}) or {}
        old_counters = ((snap.summary if snap else None) or {}).get("counters") or {}
        up_now = _tunnel_up(reading)
        was_up = bool(old_dns.get("was_up"))
        up_address = old_dns.get("up_address", "")
        peer = reading.azure.details.get("peer_address") or reading.azure.details.get(
            "resolved_ip", ""
        )
        if peer:
            up_address = peer
        elif up_now and reading.dns.address and (not was_up or not up_address):
            # Azure re-resolves the FQDN while the tunnel is down: the address it came up on.
            up_address = reading.dns.address
        facts = DnsFacts(
            fqdn=reading.dns.fqdn,
            address=reading.dns.address,
            ttl=reading.dns.ttl,
            error=reading.dns.error,
            previous=old_dns.get("address", ""),
            tunnel_address=up_address,
        )
        result = assess(reading.azure, reading.pfsense, intent, facts, _azure_bgp_ips(site))
        seq = (snap.polls if snap else 0) + 1
        old_states = (snap.states if snap else {}) or {}
        for dim in DIMENSIONS:
            new = result.states.get(dim, "")
            old = old_states.get(dim, "")
            if new == old or (dim == "ddns" and not new):
                continue
            reason = result.reasons.get(dim, "")
            if dim == "ddns" and old:
                reason = f"{facts.fqdn} moved from {old} to {new}"
            new_transitions.append(
                Transition(
                    site_id=site.pk,
                    dimension=dim,
                    old=old,
                    new=new,
                    reason=reason[:500],
                    at=reading.at,
                    seq=seq,
                )
            )
        dns_json = {
            "fqdn": facts.fqdn,
            "address": facts.address or old_dns.get("address", ""),
            "ttl": facts.ttl,
            "error": facts.error,
            "up_address": up_address,
            "was_up": up_now,
        }
        values = {
            "polled_at": reading.at,
            "azure": end_to_dict(reading.azure),
            "pfsense": end_to_dict(reading.pfsense),
            "dns": dns_json,
            "states": result.states,
            "verdict": result.verdict,
            "reason": result.reason[:500],
            "findings": [f.as_dict() for f in result.findings],
            "summary": halves_summary(reading.azure, reading.pfsense, intent),
            "polls": seq,
        }
        old_verdict = snap.verdict if snap else ""
        if snap is None:
            snap = Snapshot(site=site, verdict_since=reading.at, **values)
            new_snapshots.append(snap)
        else:
            for key, value in values.items():
                setattr(snap, key, value)
            if old_verdict != result.verdict:
                snap.verdict_since = reading.at
            changed_snapshots.append(snap)
        if old_states.get("verdict", "") != result.verdict:
            verdict_changed.append(site.pk)
        decisions.append(alerts.Decision(site, snap, old_verdict, result))

        # hourly sample
        counters = {"azure": _counters(reading.azure), "pfsense": _counters(reading.pfsense)}
        values["summary"]["counters"] = counters
        source = "azure" if counters["azure"] != (None, None) else "pfsense"
        b_in, b_out = counters[source]
        p_in, p_out = old_counters.get(source) or (None, None)
        key = (site.pk, hour_of(reading.at))
        sample = samples.get(key) or buckets.get(key)
        if sample is None:
            sample = Sample(site_id=site.pk, bucket=key[1], resolution=Resolution.HOUR)
        sample.traffic_in += _delta(b_in, p_in)
        sample.traffic_out += _delta(b_out, p_out)
        if b_in is not None:
            sample.bytes_in = b_in
        if b_out is not None:
            sample.bytes_out = b_out
        az_count = None if reading.azure.error else len(learned_prefixes(reading.azure))
        pf_count = None if reading.pfsense.error else len(learned_prefixes(reading.pfsense))
        if az_count is not None:
            sample.azure_prefixes = (
                az_count if sample.azure_prefixes is None else min(sample.azure_prefixes, az_count)
            )
        if pf_count is not None:
            sample.pfsense_prefixes = (
                pf_count
                if sample.pfsense_prefixes is None
                else min(sample.pfsense_prefixes, pf_count)
            )
        sample.polls += 1
        sample.healthy_polls += 1 if result.verdict == "healthy" else 0
        samples[key] = sample

    # Flapping counts: verdict changes already stored in the window plus this cycle's.
    flap_counts = alerts.recent_flips(verdict_changed, max(r.at for r in readings))
    for t in new_transitions:
        if t.dimension == "verdict" and t.old:
            flap_counts[t.site_id] = flap_counts.get(t.site_id, 0) + 1
    pending = alerts.decide(decisions, flap_counts)  # incidents on the snapshots, alert rows

    snapshots = new_snapshots + changed_snapshots
    for snap in snapshots:
        snap.pk = None  # one upsert on the site for all of them (bulk_update's CASE is slow)
    with transaction.atomic():
        Snapshot.objects.bulk_create(
            snapshots,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["site"],
            update_fields=SNAPSHOT_FIELDS,
        )
        Transition.objects.bulk_create(new_transitions, batch_size=500)
        _upsert_samples(samples.values())
        Alert.objects.bulk_create(pending)
    outcome.snapshots = len(new_snapshots) + len(changed_snapshots)
    outcome.transitions = len(new_transitions)
    outcome.alerts = alerts.deliver(pending, send=send)
    return outcome


# ---------------------------------------------------------------------------------------------
# Retention and downsampling


def retention_days() -> int:
    return int(getattr(settings, "S2SVPN_RETENTION_DAYS", 30))


SAMPLE_FIELDS = [
    "bytes_in",
    "bytes_out",
    "traffic_in",
    "traffic_out",
    "azure_prefixes",
    "pfsense_prefixes",
    "polls",
    "healthy_polls",
]


def _upsert_samples(samples: Iterable[Sample]) -> None:
    """Insert the samples, or overwrite the ones whose (site, resolution, bucket) exist."""
    Sample.objects.bulk_create(
        list(samples),
        batch_size=500,
        update_conflicts=True,
        unique_fields=["site", "resolution", "bucket"],
        update_fields=SAMPLE_FIELDS,
    )


def prune(now: datetime | None = None) -> dict[str, int]:
    """Downsample hourly samples older than 7 days into daily ones; drop what is past retention.

    Transitions and alerts older than the retention are deleted too, except each site's newest
    transition per dimension (it carries the state the history starts from).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=retention_days())
    daily_before = (now - timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    counts = {"downsampled": 0, "samples": 0, "transitions": 0, "alerts": 0}
    with transaction.atomic():
        old_hours = list(
            Sample.objects.filter(resolution=Resolution.HOUR, bucket__lt=daily_before).order_by(
                "site_id", "bucket"
            )
        )
        days: dict[tuple[int, datetime], Sample] = {}
        existing = {
            (s.site_id, s.bucket): s
            for s in Sample.objects.filter(
                resolution=Resolution.DAY, bucket__lt=daily_before, bucket__gte=cutoff
            )
        }
        for hour in old_hours:
            day = hour.bucket.replace(hour=0)
            if day < cutoff:
                continue
            key = (hour.site_id, day)
            agg = days.get(key) or existing.get(key)
            if agg is None:
                agg = Sample(site_id=hour.site_id, bucket=day, resolution=Resolution.DAY)
            agg.traffic_in += hour.traffic_in
            agg.traffic_out += hour.traffic_out
            agg.bytes_in = hour.bytes_in if hour.bytes_in is not None else agg.bytes_in
            agg.bytes_out = hour.bytes_out if hour.bytes_out is not None else agg.bytes_out
            for field in ("azure_prefixes", "pfsense_prefixes"):
                value = getattr(hour, field)
                if value is not None:
                    current = getattr(agg, field)
                    setattr(agg, field, value if current is None else min(current, value))
            agg.polls += hour.polls
            agg.healthy_polls += hour.healthy_polls
            days[key] = agg
        _upsert_samples(days.values())
        counts["downsampled"] = len(old_hours)
        Sample.objects.filter(pk__in=[h.pk for h in old_hours]).delete()
        counts["samples"] = Sample.objects.filter(bucket__lt=cutoff).delete()[0]
        keep = _newest_transition_ids()
        counts["transitions"] = (
            Transition.objects.filter(at__lt=cutoff).exclude(pk__in=keep).delete()[0]
        )
        from monitor.models import Alert

        counts["alerts"] = Alert.objects.filter(at__lt=cutoff).delete()[0]
    return counts


def _newest_transition_ids() -> list[int]:
    from django.db.models import Max

    rows = Transition.objects.values("site_id", "dimension").annotate(newest=Max("pk"))
    return [row["newest"] for row in rows]
