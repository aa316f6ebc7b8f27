"""Start both sandboxes around one World, seeded with the canonical customer VNet.

Used by ``manage.py sandbox`` (and so by ``make run``), by the test fixtures and by the benchmarks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2svpn.intent import CANONICAL
from s2svpn.sandbox.arm import ArmSandbox
from s2svpn.sandbox.dns import SandboxDns
from s2svpn.sandbox.pfsense import PfSenseSandbox
from s2svpn.sandbox.world import World


@dataclass
class Sandboxes:
    arm: ArmSandbox
    pfsense: PfSenseSandbox
    world: World
    state_dir: Path
    dns: SandboxDns | None = None

    def connection_info(self) -> dict[str, Any]:
        """What a site needs to point at the sandboxes (the wizard's "Use the sandbox")."""
        return {
            "arm_base_url": self.arm.base_url,
            "subscription_id": self.arm.subscription_id,
            "ca_file": str(self.arm.ca_file),
            "pfsense_url": self.pfsense.base_url,
            "pfsense_api_key": self.pfsense.api_key,
            "pfsense_ca_file": str(self.pfsense.ca_file or ""),
            "pfsense_fingerprint": self.pfsense.fingerprint or "",
            "resource_group": CANONICAL.resource_group,
            "vnet_name": CANONICAL.vnet_name,
            "location": CANONICAL.location,
            # the sandbox's nameserver: "Use the sandbox" makes it the site's resolver
            "dns_server": self.dns.address if self.dns else "",
            "timing": {  # as the clock sees them (time_scale applied)
                "gateway_seconds": self.arm.timing.gateway_seconds * self.arm.timing.time_scale,
                "other_seconds": self.arm.timing.other_seconds * self.arm.timing.time_scale,
            },
        }

    def write_connection_file(self, path: Path) -> Path:
        """Write ``connection_info()`` (it holds the sandbox API key) with mode 0600."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.connection_info(), fh, indent=2)
        return path

    def stop(self) -> None:
        self.pfsense.stop()
        self.arm.stop()
        if self.dns is not None:
            self.world.nameservers = []
            self.dns.stop()
        close = getattr(self.world, "close", None)  # LabWorld stops its daemons
        if close:
            close()


def seed_canonical(arm: ArmSandbox) -> None:
    """The customer's existing VNet of the canonical scenario (idempotent)."""
    arm.seed_vnet(
        CANONICAL.resource_group,
        CANONICAL.vnet_name,
        CANONICAL.location,
        list(CANONICAL.vnet_prefixes),
        [("workload", "172.16.20.0/24")],
    )


# pfSense: (package install, apply) seconds. A real FRR install (pfSense-pkg-frr, frr9, libyang2)
# takes a minute or more inside the REST call; an IPsec apply rebuilds every VTI.
PFSENSE_TIMING = {"real": (90.0, 10.0), "default": (5.0, 0.5), "fast": (0.0, 0.0)}


def start_sandboxes(
    state_dir: Path,
    *,
    host: str = "127.0.0.1",
    arm_port: int = 0,
    pfsense_port: int = 0,
    dns_port: int = 0,
    profile: str = "default",
    gateway_seconds: float | None = None,
    lab: bool = False,
    arm_role: dict[str, Any] | str | Path | None = None,
    time_scale: float = 1.0,
    seed: bool = True,
) -> Sandboxes:
    """Both sandboxes around one World; ``arm_role`` (a role definition or a path to its JSON)
    makes the ARM sandbox enforce it as ARM would (:mod:`s2svpn.sandbox.arm.authz`);
    ``time_scale`` runs the profile's durations faster (0.01: 100 times); ``seed=False`` starts
    a fresh subscription without the canonical resource group and VNet (a configuration of the
    stand-in, not a branch of the product: the wizard then offers to create both)."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    if lab:
        from s2svpn.lab.world import LabWorld  # real strongSwan + FRR (Linux, root)

        world: World = LabWorld(state_dir / "lab")
    else:
        world = World()
    dns = SandboxDns(world, host=host, port=dns_port)
    # the stand-in Azure resolves the home end's FQDN through the served zone, like the app does
    world.nameservers = [dns.start()]
    arm = ArmSandbox(
        state_dir / "arm", profile=profile, world=world, host=host, port=arm_port, role=arm_role
    )
    if gateway_seconds is not None:
        arm.timing.gateway_seconds = gateway_seconds
    arm.timing.time_scale = time_scale
    arm.start()
    if seed:
        seed_canonical(arm)
    install, apply = PFSENSE_TIMING.get(profile, PFSENSE_TIMING["default"])
    pfsense = PfSenseSandbox(
        state_dir / "pfsense",
        world=world,
        host=host,
        port=pfsense_port,
        install_seconds=install,
        apply_seconds=apply,
    )
    pfsense.start()
    return Sandboxes(arm=arm, pfsense=pfsense, world=world, state_dir=state_dir, dns=dns)
