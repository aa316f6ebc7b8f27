"""A sandbox site's DDNS name is answered by the sandbox's own nameserver, reached through the
site's DNS servers (what "Use the sandbox" fills in), not by any sandbox branch in the monitor:
with a global resolver that knows nothing, the status is Healthy with no DNS finding."""

from __future__ import annotations

from monitor import poller
from monitor.models import Snapshot
from tests.domain.dnsserver import LocalDns
from tests.monitor.conftest import FQDN


def test_a_sandbox_site_resolves_its_name_through_the_sandbox_nameserver(
    provisioned, boxes, alice, settings
):
    assert provisioned.dns_servers == boxes.dns.address
    with LocalDns() as empty:
        empty.start({})
        settings.S2SVPN_DNS_SERVERS = [empty.address]  # real DNS: the name does not exist
        poller.run_cycle([provisioned.pk])
        snap = Snapshot.objects.get(site=provisioned)
        assert snap.verdict == "healthy", snap.reason
        assert snap.dns["address"] == "203.0.113.2" and not snap.dns.get("error")
        page = alice.get(f"/status/{provisioned.slug}/").content.decode()
        assert "does not resolve" not in page
        assert empty.queries == []

        boxes.world.dns[FQDN] = "203.0.113.77"  # a DDNS update inside the sandbox
        poller.run_cycle([provisioned.pk])
        assert Snapshot.objects.get(site=provisioned).dns["address"] == "203.0.113.77"
