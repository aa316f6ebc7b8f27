"""Alerts: one when an incident opens, one when it recovers, one when a site flaps.

An incident opens when the verdict leaves Healthy (degraded, down or unknown — "we can no longer
tell" is worth an alert too) and closes when it is Healthy again. Changes inside an incident
(degraded → down) send nothing more. Flapping: ``S2SVPN_FLAP_COUNT`` verdict changes within
``S2SVPN_FLAP_MINUTES`` send one "flapping" alert and mute the per-incident alerts until the
window is calm again. ``Site.maintenance`` mutes everything (the alert row is still written,
marked muted).

Delivery: Django's mail backend (https://docs.djangoproject.com/en/5.2/topics/email/) to
``Site.alert_emails`` and Apprise (https://github.com/caronc/apprise/wiki) to each of
``Site.apprise_urls`` (one per line: ntfy://, gotify://, discord://, slack://, tgram://,
json://…). URLs carry tokens: they are never logged or stored in the alert row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Count
from django.urls import reverse

from monitor.diagnosis import Assessment
from monitor.models import Alert, AlertKind, Snapshot, Transition
from wizard.models import Site

log = logging.getLogger(__name__)


def flap_count() -> int:
    return int(getattr(settings, "S2SVPN_FLAP_COUNT", 6))


def flap_window() -> timedelta:
    return timedelta(minutes=float(getattr(settings, "S2SVPN_FLAP_MINUTES", 30)))


@dataclass
class Decision:
    site: Site
    snapshot: Snapshot
    old_verdict: str
    assessment: Assessment


def recent_flips(site_ids: Iterable[int], now: datetime) -> dict[int, int]:
    """Verdict changes per site inside the flapping window (only for sites that just changed)."""
    ids = list(site_ids)
    if not ids:
        return {}
    rows = (
        Transition.objects.filter(site_id__in=ids, dimension="verdict", at__gte=now - flap_window())
        .exclude(old="")
        .values("site_id")
        .annotate(n=Count("pk"))
    )
    return {row["site_id"]: row["n"] for row in rows}


def decide(decisions: list[Decision], flips: dict[int, int]) -> list[Alert]:
    """Open/close incidents on the snapshots (not saved here) and return unsaved alert rows."""
    created: list[Alert] = []
    for d in decisions:
        snap, verdict, at = d.snapshot, d.assessment.verdict, d.snapshot.polled_at
        problem = verdict != "healthy"
        flapping_since = snap.flapping_alerted_at
        flapping = flapping_since is not None and at - flapping_since < flap_window()
        kind = None
        if flips.get(d.site.pk, 0) >= flap_count() and not flapping:
            kind = AlertKind.FLAPPING
            snap.flapping_alerted_at = at
            flapping = True
        if problem and snap.incident_started is None:
            snap.incident_started = at
            snap.incident_alerted = False
            if not flapping:
                kind = kind or AlertKind.DOWN
                snap.incident_alerted = True
        elif not problem and snap.incident_started is not None:
            if snap.incident_alerted and not flapping:
                kind = kind or AlertKind.RECOVERY
            snap.incident_started = None
            snap.incident_alerted = False
        elif problem and not snap.incident_alerted and not flapping and kind is None:
            # the flapping window closed while the site is still broken: say so once
            kind = AlertKind.DOWN
            snap.incident_alerted = True
        if kind is not None:
            subject, body = compose(d, kind)
            created.append(
                Alert(
                    site=d.site,
                    kind=kind,
                    at=at,
                    subject=subject,
                    body=body,
                    muted=d.site.maintenance,
                )
            )
    return created


def compose(d: Decision, kind: str) -> tuple[str, str]:
    """Subject and plain-text body; names the cause and the fix, never a secret."""
    site, a = d.site, d.assessment
    label = {"healthy": "Healthy", "degraded": "Degraded", "down": "Down", "unknown": "Unknown"}
    verdict = label.get(a.verdict, a.verdict)
    if kind == AlertKind.RECOVERY:
        subject = f"[s2svpn] {site.name}: recovered — Healthy"
    elif kind == AlertKind.FLAPPING:
        subject = f"[s2svpn] {site.name}: flapping ({verdict} now)"
    else:
        subject = f"[s2svpn] {site.name}: {verdict}"
    lines = [f"{site.name} ({site.slug}) is {verdict}.", "", a.reason, ""]
    if kind == AlertKind.FLAPPING:
        lines.insert(
            1,
            f"The verdict changed {flap_count()} or more times within "
            f"{int(flap_window().total_seconds() // 60)} minutes; further down/recovery alerts "
            "are held back until it settles.",
        )
    for finding in a.findings:
        lines += [f"* {finding.title}", f"  Cause: {finding.cause}", f"  Fix: {finding.fix}", ""]
    base = str(getattr(settings, "S2SVPN_BASE_URL", "") or "").rstrip("/")
    lines.append(f"Details: {base}{reverse('monitor:site', args=[site.slug])}")
    return subject[:200], "\n".join(lines)


def _emails(site: Site) -> list[str]:
    return [e.strip() for e in (site.alert_emails or "").replace(";", ",").split(",") if e.strip()]


def _apprise_urls(site: Site) -> list[str]:
    return [u.strip() for u in str(site.apprise_urls or "").splitlines() if u.strip()]


def send(alert: Alert) -> list[str]:
    """Deliver one alert through every channel of its site; returns a line per channel."""
    site = alert.site
    delivery = []
    emails = _emails(site)
    if emails:
        try:
            send_mail(alert.subject, alert.body, None, emails, fail_silently=False)
            delivery.append(f"email to {len(emails)} address(es): sent")
        except Exception as err:
            log.warning("alert email for %s failed: %s", site.slug, type(err).__name__)
            delivery.append(f"email: failed ({type(err).__name__})")
    urls = _apprise_urls(site)
    if urls:
        import apprise

        failed = 0
        for url in urls:
            app = apprise.Apprise()
            if not app.add(url):
                failed += 1
                continue
            try:
                ok = app.notify(title=alert.subject, body=alert.body)
            except Exception:
                ok = False
            failed += 0 if ok else 1
        delivery.append(f"apprise: {len(urls) - failed} of {len(urls)} delivered")
        if failed:
            log.warning("apprise alert for %s: %d of %d URLs failed", site.slug, failed, len(urls))
    if not delivery:
        delivery.append("no channel configured (set alert e-mails or Apprise URLs on the site)")
    return delivery


def deliver(pending: list[Alert], *, send: bool = True) -> int:
    """Send every unmuted alert (concurrently); record per-channel delivery on the row."""
    to_send = [a for a in pending if not a.muted]
    if not send or not to_send:
        return len(to_send)
    with ThreadPoolExecutor(max_workers=min(16, len(to_send))) as pool:
        results = list(pool.map(_send_one, to_send))
    for alert, lines in zip(to_send, results, strict=True):
        alert.delivery = lines
    Alert.objects.bulk_update(to_send, ["delivery"])
    return len(to_send)


def _send_one(alert: Alert) -> list[str]:
    try:
        return send(alert)
    except Exception as err:  # never let one channel break the cycle
        log.exception("alert delivery for site %s failed", alert.site_id)
        return [f"failed: {type(err).__name__}"]
