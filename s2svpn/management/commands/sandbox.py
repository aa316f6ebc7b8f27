"""Start the ARM and pfSense sandboxes on loopback, sharing one World (tunnel + BGP physics).

Writes ``<sandbox dir>/connection.json`` (mode 0600) so the wizard's "Use the sandbox" button can
fill a site with the sandboxes' URLs, CA and API key, and prints the same for humans.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from s2svpn.sandbox.runtime import start_sandboxes


class Command(BaseCommand):
    help = "Run the ARM (Azure) and pfSense sandboxes until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.S2SVPN_SANDBOX_HOST)
        parser.add_argument("--arm-port", type=int, default=settings.S2SVPN_SANDBOX_ARM_PORT)
        parser.add_argument(
            "--pfsense-port", type=int, default=settings.S2SVPN_SANDBOX_PFSENSE_PORT
        )
        parser.add_argument("--dns-port", type=int, default=settings.S2SVPN_SANDBOX_DNS_PORT)
        parser.add_argument(
            "--profile",
            default=settings.S2SVPN_SANDBOX_PROFILE,
            choices=["real", "default", "fast"],
            help="real: gateway 30 min; default: about 60 s; fast: near zero.",
        )
        parser.add_argument("--gateway-seconds", type=float, default=None)
        parser.add_argument(
            "--time-scale",
            type=float,
            default=settings.S2SVPN_SANDBOX_TIME_SCALE,
            help="Multiply every ARM duration and Retry-After (0.01: the real profile 100x faster).",
        )
        parser.add_argument("--dir", default=str(settings.S2SVPN_SANDBOX_DIR))
        parser.add_argument(
            "--arm-role",
            default=settings.S2SVPN_SANDBOX_ARM_ROLE,
            help="Role definition JSON the ARM sandbox enforces (AuthorizationFailed as in ARM).",
        )
        parser.add_argument(
            "--empty",
            action="store_true",
            help="A fresh subscription: no resource group and no VNet (the wizard creates them).",
        )
        parser.add_argument(
            "--lab",
            action="store_true",
            help="Back tunnel and BGP state with real strongSwan + FRR.",
        )

    def handle(self, *args, **options):
        state_dir = Path(options["dir"])
        sandboxes = start_sandboxes(
            state_dir,
            host=options["host"],
            arm_port=options["arm_port"],
            pfsense_port=options["pfsense_port"],
            dns_port=options["dns_port"],
            profile=options["profile"],
            gateway_seconds=options["gateway_seconds"],
            lab=options["lab"],
            arm_role=options["arm_role"] or None,
            time_scale=options["time_scale"],
            seed=not options["empty"],
        )
        info = sandboxes.connection_info()
        path = sandboxes.write_connection_file(state_dir / "connection.json")
        self.stdout.write(
            "Sandboxes running (profile %s):\n"
            "  ARM (Azure)  %s  subscription %s\n"
            "  pfSense      %s\n"
            "  DNS          %s (UDP; the sandbox's DDNS names)\n"
            "  CA file      %s\n"
            "Point a site at them with the wizard's 'Use the sandbox' button, or read %s.\n"
            % (
                options["profile"],
                info["arm_base_url"],
                info["subscription_id"],
                info["pfsense_url"],
                info["dns_server"],
                info["ca_file"],
                path,
            )
        )
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
        sandboxes.stop()
