"""Transitions, incidents and alerts (a real webhook on loopback, Django's mail outbox), samples
and retention — all through ``monitor.storage.record`` with readings as the clients return them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor import storage
from monitor.models import Alert, Sample, Snapshot, Transition
from monitor.readings import DnsReading, Reading
from s2svpn.status import EndStatus
from tests.monitor.cast import healthy_azure, healthy_pfsense, policy_trapped, tunnel_down

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DNS = DnsReading(fqdn="home-s2s.example.net", address="203.0.113.2", ttl=60)


def poll(site, azure, pfsense, at, dns=DNS):
    return storage.record([Reading(site.pk, azure, pfsense, dns, at)])


def healthy(site, at, **kw):
    return poll(site, healthy_azure(**kw), healthy_pfsense(), at)


def test_the_first_poll_records_where_each_dimension_starts_and_sends_nothing(
    home, webhook, mailoutbox
):
    healthy(home, T0)
    snap = Snapshot.objects.get(site=home)
    assert snap.verdict == "healthy"
    rows = {t.dimension: (t.old, t.new) for t in Transition.objects.filter(site=home)}
    assert rows == {
        "tunnel_azure": ("", "up"),
        "tunnel_pfsense": ("", "up"),
        "bgp_azure": ("", "established"),
        "bgp_pfsense": ("", "established"),
        "ddns": ("", "203.0.113.2"),
        "verdict": ("", "healthy"),
    }
    assert webhook.bodies == [] and mailoutbox == []


def test_an_incident_alerts_once_and_its_recovery_once(home, webhook, mailoutbox):
    healthy(home, T0)
    poll(home, *policy_trapped(), T0 + timedelta(minutes=1))
    poll(home, *policy_trapped(), T0 + timedelta(minutes=2))
    poll(home, *tunnel_down(), T0 + timedelta(minutes=3))  # worse, same incident
    assert webhook.titles == ["[s2svpn] Home: Degraded"]
    assert "BGP is Established but exchanges nothing" in webhook.bodies[0]["message"]
    assert [m.subject for m in mailoutbox] == ["[s2svpn] Home: Degraded"]
    assert mailoutbox[0].to == ["ops@example.net"]

    healthy(home, T0 + timedelta(minutes=4))
    healthy(home, T0 + timedelta(minutes=5))
    assert webhook.titles == ["[s2svpn] Home: Degraded", "[s2svpn] Home: recovered — Healthy"]
    assert len(mailoutbox) == 2
    verdicts = list(
        Transition.objects.filter(site=home, dimension="verdict")
        .order_by("at")
        .values_list("old", "new")
    )
    assert verdicts == [
        ("", "healthy"),
        ("healthy", "degraded"),
        ("degraded", "down"),
        ("down", "healthy"),
    ]
    alert = Alert.objects.filter(site=home).order_by("at").first()
    assert alert.delivery == ["email to 1 address(es): sent", "apprise: 1 of 1 delivered"]


def test_a_transition_keeps_the_reason_in_plain_words(home):
    healthy(home, T0)
    poll(home, *tunnel_down(), T0 + timedelta(minutes=1))
    row = Transition.objects.get(site=home, dimension="verdict", new="down")
    assert row.old == "healthy"
    assert row.reason.startswith("Azure reports the connection down")
    assert row.at == T0 + timedelta(minutes=1)


def test_maintenance_mutes_alerts_but_keeps_the_record(home, webhook, mailoutbox):
    home.maintenance = True
    home.save()
    healthy(home, T0)
    poll(home, *tunnel_down(), T0 + timedelta(minutes=1))
    assert webhook.bodies == [] and mailoutbox == []
    assert Alert.objects.get(site=home).muted is True


def test_an_unreadable_end_opens_an_incident_too(home, webhook):
    healthy(home, T0)
    poll(
        home,
        healthy_azure(),
        EndStatus(error="pfSense answers 404: the REST API package is not installed"),
        T0 + timedelta(minutes=1),
    )
    assert webhook.titles == ["[s2svpn] Home: Unknown"]
    assert "pfSense's REST API package is missing" in webhook.bodies[0]["message"]


@pytest.mark.parametrize("flips", [6])
def test_flapping_sends_one_flapping_alert_and_holds_the_rest(home, webhook, settings, flips):
    settings.S2SVPN_FLAP_COUNT = flips
    settings.S2SVPN_FLAP_MINUTES = 30
    healthy(home, T0)
    at = T0
    for i in range(10):
        at += timedelta(minutes=1)
        if i % 2 == 0:
            poll(home, *tunnel_down(), at)
        else:
            healthy(home, at)
    titles = webhook.titles
    assert (
        titles.count("[s2svpn] Home: flapping (Down now)")
        + titles.count("[s2svpn] Home: flapping (Healthy now)")
        == 1
    )
    # before flapping: down, recovery, down, recovery, down (5 flips) then held back
    assert titles[:5] == [
        "[s2svpn] Home: Down",
        "[s2svpn] Home: recovered — Healthy",
        "[s2svpn] Home: Down",
        "[s2svpn] Home: recovered — Healthy",
        "[s2svpn] Home: Down",
    ]
    assert len(titles) == 6


def test_a_ddns_change_is_a_transition_with_both_addresses(home):
    healthy(home, T0)
    moved = DnsReading(fqdn="home-s2s.example.net", address="198.51.100.7", ttl=60)
    poll(home, healthy_azure(), healthy_pfsense(), T0 + timedelta(minutes=1), dns=moved)
    row = Transition.objects.get(site=home, dimension="ddns", old="203.0.113.2")
    assert row.new == "198.51.100.7"
    assert row.reason == "home-s2s.example.net moved from 203.0.113.2 to 198.51.100.7"
    snap = Snapshot.objects.get(site=home)
    assert snap.verdict == "degraded"  # the tunnel still runs to the old address
    assert [f["code"] for f in snap.findings] == ["ddns_drift"]


def test_the_dns_cache_finding_appears_when_the_tunnel_drops_after_the_move(home):
    healthy(home, T0)
    moved = DnsReading(fqdn="home-s2s.example.net", address="198.51.100.7", ttl=60)
    poll(home, *tunnel_down(), T0 + timedelta(minutes=1), dns=moved)
    snap = Snapshot.objects.get(site=home)
    cache = next(f for f in snap.findings if f["code"] == "dns_cache")
    assert cache["action"] == "reset_gateway"
    # Azure re-resolves while disconnected; once up on the new address, all is well again.
    poll(home, healthy_azure(), healthy_pfsense(), T0 + timedelta(minutes=2), dns=moved)
    snap.refresh_from_db()
    assert snap.verdict == "healthy"
    assert snap.dns["up_address"] == "198.51.100.7"


def test_hourly_samples_accumulate_counter_deltas_and_survive_a_counter_reset(home):
    healthy(home, T0, bytes_in=1_000, bytes_out=5_000)
    healthy(home, T0 + timedelta(minutes=1), bytes_in=4_000, bytes_out=6_000)
    healthy(home, T0 + timedelta(minutes=2), bytes_in=500, bytes_out=6_500)  # gateway reset
    sample = Sample.objects.get(site=home)
    assert (sample.traffic_in, sample.traffic_out) == (3_000 + 500, 1_000 + 500)
    assert (sample.polls, sample.healthy_polls) == (3, 3)
    assert (sample.azure_prefixes, sample.pfsense_prefixes) == (2, 1)
    healthy(home, T0 + timedelta(hours=1), bytes_in=1_500, bytes_out=6_500)
    assert Sample.objects.filter(site=home).count() == 2


def test_prune_downsamples_old_hours_into_days_and_drops_what_is_past_retention(home, settings):
    settings.S2SVPN_RETENTION_DAYS = 30
    now = T0

    def sample(days_ago, hour, traffic):
        bucket = (now - timedelta(days=days_ago)).replace(hour=hour, minute=0)
        Sample.objects.create(
            site=home,
            bucket=bucket,
            traffic_in=traffic,
            traffic_out=traffic,
            polls=60,
            healthy_polls=60,
        )

    sample(10, 3, 100)
    sample(10, 4, 200)
    sample(2, 5, 50)
    sample(40, 1, 999)
    Transition.objects.create(
        site=home, dimension="verdict", old="", new="healthy", at=now - timedelta(days=45)
    )
    Transition.objects.create(
        site=home, dimension="verdict", old="healthy", new="down", at=now - timedelta(days=40)
    )
    Transition.objects.create(
        site=home, dimension="verdict", old="down", new="healthy", at=now - timedelta(days=35)
    )
    counts = storage.prune(now)
    rows = list(
        Sample.objects.filter(site=home)
        .order_by("bucket")
        .values_list("resolution", "traffic_in", "polls")
    )
    assert rows == [("day", 300, 120), ("hour", 50, 60)]
    assert counts["downsampled"] == 3  # the 40-day-old hour went with them
    kept = list(Transition.objects.filter(site=home).values_list("old", "new"))
    assert kept == [("down", "healthy")]  # the newest stays: it says where history starts


def test_storing_a_cycle_takes_the_same_number_of_queries_for_1_or_20_sites(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from wizard.models import Site, SiteStatus

    sites = [
        Site.objects.create(name=f"S{i}", slug=f"s{i}", status=SiteStatus.ACTIVE) for i in range(21)
    ]

    def queries(batch, at):
        readings = [Reading(s.pk, *tunnel_down(), DNS, at) for s in batch]
        with CaptureQueriesContext(connection) as ctx:
            storage.record(readings, sites={s.pk: s for s in batch}, send=False)
        return len(ctx.captured_queries)

    assert queries(sites[:1], T0) == queries(sites[1:], T0)  # first poll: creates
    assert queries(sites[:1], T0 + timedelta(minutes=1)) == queries(
        sites[1:], T0 + timedelta(minutes=1)
    )
