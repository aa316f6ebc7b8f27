"""The monitor's cast: a canonical active site and a local webhook receiver for Apprise."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor import poller
from s2svpn.sandbox.runtime import start_sandboxes
from tests.domain.dnsserver import LocalDns
from tests.monitor.sandbox_world import run_to_end
from wizard.models import RunStatus, Site, SiteStatus

FQDN = "home-s2s.example.net"


class Receiver:
    """A real HTTP endpoint on loopback that records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver.lock:
                    receiver.bodies.append(json.loads(raw or b"{}"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/"

    @property
    def titles(self) -> list[str]:
        with self.lock:
            return [b.get("title", "") for b in self.bodies]


@pytest.fixture
def webhook():
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def home(db, webhook) -> Site:
    """The canonical site, active, alerting to the local webhook and by e-mail."""
    return Site.objects.create(
        name="Home",
        slug="home",
        status=SiteStatus.ACTIVE,
        resource_group="rg-home-s2s",
        location="westeurope",
        vnet_name="vnet-hub",
        intent={},
        alert_emails="ops@example.net",
        apprise_urls=webhook.url,
    )


# ---- a canonical site provisioned into sandboxes of its own, with a DNS server on loopback


@pytest.fixture
def boxes(tmp_path):
    boxes = start_sandboxes(tmp_path / "sandboxes", profile="fast")
    yield boxes
    boxes.stop()


@pytest.fixture
def dns(boxes, settings):
    server = LocalDns()
    address = server.start({FQDN: [("A", boxes.world.dns[FQDN], 60)]})
    settings.S2SVPN_DNS_SERVERS = [address]
    yield server
    server.stop()


@pytest.fixture
def provisioned(db, boxes, dns, webhook, settings) -> Site:
    from tests.conftest import make_sandbox_site

    settings.S2SVPN_POLL_TIMEOUT = 10
    poller.CLIENTS.clear()
    site = make_sandbox_site(boxes)
    site.alert_emails = "ops@example.net"
    site.apprise_urls = webhook.url
    site.save()
    run = run_to_end(site)
    assert run.status == RunStatus.SUCCEEDED, run.error
    site.refresh_from_db()
    assert site.status == SiteStatus.ACTIVE
    return site
