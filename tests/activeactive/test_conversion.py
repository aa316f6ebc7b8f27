"""Converting a provisioned active-standby site to active-active and back: the gateway is updated
in place (the run waits for it like a build), pfSense gets (or loses) the second tunnel, and
nothing of the old addressing is left behind."""

from __future__ import annotations

from tests.activeactive.test_provisioning import provision
from tests.monitor.sandbox_world import run_to_end
from wizard.models import RunStatus, Site
from wizard.services import azure_client, pfsense_client


def _convert(site: Site, active_active: bool):
    site.intent = {**site.intent, "active_active": active_active}
    site.save()
    run = run_to_end(site)
    assert run.status == RunStatus.SUCCEEDED, run.error
    site.refresh_from_db()
    return run


def _neighbors(site: Site) -> list[str]:
    return sorted(n["peer"] for n in pfsense_client(site).read_frr_sections()["frrbgpneighbors"])


def test_active_standby_to_active_active_and_back(db, boxes, dns, settings):
    site = provision(boxes, settings, active_active=False)
    assert _neighbors(site) == ["172.16.19.254"]

    run = _convert(site, True)
    gateway_step = run.steps.get(key="az_gateway")
    assert any("converting the gateway to active-active" in line["m"] for line in gateway_step.log)
    gateway = azure_client(site).get_gateway(site.get_intent())
    assert gateway.active_active and gateway.default_bgp_ips == ("172.16.19.228", "172.16.19.229")
    assert _neighbors(site) == ["172.16.19.228", "172.16.19.229"]  # the old .254 is gone
    peers = pfsense_client(site).bgp_summary()
    assert sorted(p.neighbor for p in peers if p.state == "established") == _neighbors(site)

    _convert(site, False)
    gateway = azure_client(site).get_gateway(site.get_intent())
    assert not gateway.active_active and gateway.default_bgp_ips == ("172.16.19.254",)
    assert _neighbors(site) == ["172.16.19.254"]
    assert pfsense_client(site).find_phase1(descr="s2svpn:home#2") is None
