"""The status pages read the database only; their query count does not grow with the sites."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitor import clock, storage
from monitor.readings import DnsReading, Reading
from tests.monitor.cast import healthy_azure, healthy_pfsense, policy_trapped, tunnel_down
from wizard.models import Site, SiteStatus

DNS = DnsReading(fqdn="home-s2s.example.net", address="203.0.113.2", ttl=60)


def make_sites(n: int, start: int = 0, now=None) -> list[Site]:
    """Sites healthy 30 min ago, down from 20 to 10 min ago, healthy since (before ``now``)."""
    sites = [
        Site.objects.create(name=f"Site {i:03d}", slug=f"site-{i:03d}", status=SiteStatus.ACTIVE)
        for i in range(start, start + n)
    ]
    now = now or timezone.now()
    for minutes, (azure, pfsense) in (
        (30, (healthy_azure(), healthy_pfsense())),
        (20, tunnel_down()),
        (10, (healthy_azure(), healthy_pfsense())),
    ):
        storage.record(
            [Reading(s.pk, azure, pfsense, DNS, now - timedelta(minutes=minutes)) for s in sites],
            send=False,
        )
    return sites


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_status_page_query_count_does_not_grow_with_the_number_of_sites(alice):
    make_sites(1)
    one = count_queries(alice, "/status/")
    make_sites(29, start=1)
    thirty = count_queries(alice, "/status/")
    assert thirty == one
    assert one <= 8


def test_the_htmx_refresh_returns_only_the_board_with_the_same_query_count(alice):
    make_sites(3)
    full = count_queries(alice, "/status/")
    with CaptureQueriesContext(connection) as ctx:
        response = alice.get("/status/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.startswith('<div id="board"')
    assert 'hx-trigger="every 10s"' in body
    assert len(ctx.captured_queries) == full


def test_a_card_shows_the_verdict_both_halves_uptime_and_charts(alice, monkeypatch):
    now = timezone.now()
    make_sites(1, now=now)
    monkeypatch.setattr(clock, "now", lambda: now)  # the page is drawn at that very moment
    body = alice.get("/status/").content.decode()
    assert 'data-verdict="healthy"' in body
    assert "Tunnel up on both ends, BGP Established both ways" in body
    assert "<th>Azure</th><th>pfSense</th>" in body
    assert "aes256-sha256-prfsha256-modp2048" in body  # negotiated, from pfSense's SA
    assert 'class="chart timeline"' in body and 'class="chart traffic"' in body
    assert 'class="topology"' in body
    assert "uptime <b>66.67%</b>" in body  # 20 of the last 30 minutes were healthy


def test_problems_come_first_and_the_filter_narrows(alice):
    ok, bad = make_sites(1), make_sites(1, start=1)
    storage.record([Reading(bad[0].pk, *policy_trapped(), DNS, timezone.now())], send=False)
    body = alice.get("/status/").content.decode()
    assert body.index('data-site="site-001"') < body.index('data-site="site-000"')
    only_degraded = alice.get("/status/?verdict=degraded").content.decode()
    assert 'data-site="site-001"' in only_degraded
    assert 'data-site="site-000"' not in only_degraded
    only_healthy = alice.get("/status/?verdict=healthy").content.decode()
    assert f'data-site="{ok[0].slug}"' in only_healthy
    assert f'data-site="{bad[0].slug}"' not in only_healthy


def test_the_site_page_shows_route_tables_against_the_intent_and_the_fix(alice):
    site = make_sites(1)[0]
    storage.record([Reading(site.pk, *policy_trapped(), DNS, timezone.now())], send=False)
    body = alice.get(f"/status/{site.slug}/").content.decode()
    assert "Routes Azure learned from pfSense" in body
    assert "Routes pfSense learned from Azure" in body
    assert body.count('<span class="pill s-down">missing</span>') == 3  # 2 LAN + the VNet
    assert "BGP is Established but exchanges nothing: FRR&#x27;s eBGP policy trap" in body
    assert "Re-push pfSense" in body
    assert "Recent transitions" in body and "Healthy</span> → <b>Degraded</b>" in body


def test_the_reset_gateway_button_posts_with_csrf_and_only_enqueues(
    alice, django_capture_on_commit_callbacks
):
    site = make_sites(1)[0]
    moved = DnsReading(fqdn="home-s2s.example.net", address="198.51.100.7", ttl=60)
    storage.record([Reading(site.pk, *tunnel_down(), moved, timezone.now())], send=False)
    body = alice.get(f"/status/{site.slug}/").content.decode()
    assert "The FQDN moved: Azure&#x27;s DNS cache" in body
    assert f'action="/status/{site.slug}/reset-gateway/"' in body
    assert "csrfmiddlewaretoken" in body and "data-confirm=" in body
    assert alice.get(f"/status/{site.slug}/reset-gateway/").status_code == 405
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = alice.post(f"/status/{site.slug}/reset-gateway/")
    assert response.status_code == 302
    assert len(callbacks) == 1  # the task, sent after commit


def test_an_empty_status_page_says_what_to_do(alice):
    body = alice.get("/status/").content.decode()
    assert "No active site yet" in body


def test_anonymous_users_are_sent_to_login(client, db):
    assert client.get("/status/").status_code == 302
