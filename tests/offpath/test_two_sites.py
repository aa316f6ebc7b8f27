"""One firewall, many sites (issue #15): a second site on a pfSense that already carries one is
proposed the firewall's (32-bit) ASN, a new tunnel interface name, its own APIPA /30 and a
GatewaySubnet in its own VNet; the WAN choice never offers a tunnel; both sites reach Connected
and both are Healthy without a DNS finding."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from monitor import poller
from monitor.models import Snapshot
from tests.conftest import make_sandbox_site
from tests.monitor.sandbox_world import run_to_end
from tests.offpath.helpers import draft_at_review
from wizard.models import RunStatus

pytestmark = pytest.mark.django_db

ASN32 = 4200000001
FIRST = {
    "onprem_asn": ASN32,
    "bgp_mode": "apipa",
    "azure_apipa_ip": "169.254.21.2",
    "onprem_apipa_ip": "169.254.21.1",
    "onprem_bgp_ip": "169.254.21.1",
}
SECOND = {
    "vnet_name": "vnet-branch",
    "vnet_prefixes": ["172.17.0.0/16"],
    "gateway_subnet_prefix": "172.17.255.224/27",
    "onprem_asn": ASN32,
    "bgp_mode": "apipa",
    "azure_apipa_ip": "169.254.21.6",
    "onprem_apipa_ip": "169.254.21.5",
    "onprem_bgp_ip": "169.254.21.5",
    "vti_descr": "AZUREVTI2",
}
UNANSWERED = ("onprem_asn", "vti_descr", "azure_apipa_ip", "onprem_apipa_ip")


def value_of(html: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert tag, name
    found = re.search(r'value="([^"]*)"', tag.group(0))
    return found.group(1) if found else ""


def step(alice, site, key: str, data: dict | None = None) -> str:
    url = reverse("wizard:step", args=[site.slug, key])
    response = alice.post(url, data) if data is not None else alice.get(url)
    return response.content.decode()


def test_a_second_site_on_one_firewall_is_proposed_its_own_and_both_are_healthy(
    alice, fresh_sandboxes
):
    boxes = fresh_sandboxes
    boxes.arm.seed_vnet(
        "rg-home-s2s", "vnet-branch", "westeurope", ["172.17.0.0/16"], [("apps", "172.17.1.0/24")]
    )
    first = make_sandbox_site(boxes, slug="home", **FIRST)
    assert run_to_end(first).status == RunStatus.SUCCEEDED

    second = draft_at_review(make_sandbox_site(boxes, slug="branch", bgp_mode="apipa"))
    for key in UNANSWERED:
        second.intent.pop(key)
    second.save()

    lng = step(alice, second, "lng")
    assert value_of(lng, "onprem_asn") == str(ASN32)  # the firewall's AS, read from FRR
    assert f"runs BGP as AS {ASN32}" in lng
    assert (value_of(lng, "onprem_apipa_ip"), value_of(lng, "azure_apipa_ip")) == (
        "169.254.21.5",
        "169.254.21.6",
    )
    taken = step(
        alice,
        second,
        "lng",
        {
            "endpoint": "fqdn",
            "onprem_fqdn": "home-s2s.example.net",
            "onprem_asn": ASN32,
            "bgp_mode": "apipa",
            "azure_apipa_ip": "169.254.21.2",
        },
    )
    assert "169.254.21.2 is already used by another connection" in taken

    pf = step(alice, second, "pfsense")
    assert value_of(pf, "vti_descr") == "AZUREVTI2"
    wan = re.search(r'<select[^>]*name="wan_interface".*?</select>', pf, re.S).group(0)
    assert 'value="wan"' in wan and 'value="opt1"' not in wan  # opt1: the first site's VTI

    step(alice, second, "vnet")  # reads the subscription's VNets
    moved = step(
        alice,
        second,
        "vnet",
        {"vnet_name": "vnet-branch", "gateway_subnet_prefix": "172.16.19.224/27"},
    )
    assert "172.16.19.224/27 is not inside vnet-branch" in moved
    proposal = value_of(moved, "gateway_subnet_prefix")
    assert proposal.startswith("172.17.") and proposal.endswith("/27")

    second.refresh_from_db()
    second.vnet_name = "vnet-branch"
    second.intent = {**second.intent, **SECOND, "gateway_subnet_prefix": proposal}
    second.save()
    run = run_to_end(second)
    assert run.status == RunStatus.SUCCEEDED, run.error

    # Azure's BGP tables are read at Azure's pace (started in one cycle, collected in a later
    # one, within the write budget), so both sites are Healthy within a few cycles
    for _ in range(6):
        poller.run_cycle([first.pk, second.pk])
        snaps = [Snapshot.objects.get(site=site) for site in (first, second)]
        if all(snap.verdict == "healthy" for snap in snaps):
            break
        time.sleep(0.3)
    for snap in snaps:
        assert snap.verdict == "healthy", (snap.site.slug, snap.reason)
        assert not snap.dns.get("error")
