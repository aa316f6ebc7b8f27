"""Fixtures of the off-the-canonical-path tests (issue #15)."""

from __future__ import annotations

import pytest

from s2svpn.sandbox.pfsense import PfSenseSandbox
from s2svpn.sandbox.world import NatRouter


@pytest.fixture
def branch_firewall(fresh_sandboxes, tmp_path):
    """A second home: its own pfSense behind its own NAT router and DDNS name, in the same World."""
    world = fresh_sandboxes.world
    world.homes["pfsense-branch"] = NatRouter(public_ip="203.0.113.66")
    world.dns["branch-s2s.example.net"] = "203.0.113.66"
    box = PfSenseSandbox(
        tmp_path / "pfsense-branch",
        world=world,
        firewall_id="pfsense-branch",
        wan_ip="192.168.179.10",
        lan_ip="10.1.0.1",
    )
    box.start()
    yield box
    box.stop()
