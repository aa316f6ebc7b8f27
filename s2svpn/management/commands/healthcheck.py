"""``manage.py healthcheck worker|beat``: exit 0 when a worker (or beat) on this host beat recently.

The compose healthchecks of the worker and beat containers run it: a process that is up but stuck
(no heartbeat row refreshed within ``--within`` seconds) is reported unhealthy.
"""

from __future__ import annotations

import socket

from django.core.management.base import BaseCommand, CommandError

from s2svpn.heartbeat import live


class Command(BaseCommand):
    help = "Exit 0 if a worker (or beat) process on this host has beaten within --within seconds."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["worker", "beat"])
        parser.add_argument("--within", type=float, default=30.0)
        parser.add_argument("--any-host", action="store_true", help="Any host, not only this one.")

    def handle(self, *args, **options):
        rows = live(options["kind"], options["within"])
        if not options["any_host"]:
            rows = rows.filter(name__contains=f"@{socket.gethostname()}/")
        row = rows.first()
        if row is None:
            raise CommandError(f"no {options['kind']} heartbeat within {options['within']:.0f} s")
        self.stdout.write(f"{row.name} beat at {row.beat_at.isoformat(timespec='seconds')}")
