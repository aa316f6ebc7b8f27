"""Start the whole app in the foreground: web, Celery worker, Celery beat and the sandboxes.

Used by ``make run``. Ctrl-C (or SIGTERM) stops every child. Each child's output is prefixed with
its name, like a Procfile runner.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand


def _die_with_parent_hook():
    """A ``preexec_fn`` that makes the child get SIGTERM when ``up`` itself dies (even by
    SIGKILL), so no worker or sandbox outlives its supervisor; ``None`` off Linux.

    prctl is looked up here, in the parent: the hook that runs between fork and exec only calls
    it (no dlopen there, no lock another thread could hold)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return hook


class Command(BaseCommand):
    help = "Run web + worker + beat (+ sandboxes) together; Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("S2SVPN_BIND", "127.0.0.1:8000"))
        parser.add_argument("--no-sandbox", action="store_true", help="Do not start the sandboxes.")
        parser.add_argument("--concurrency", type=int, default=4)

    def handle(self, *args, **options):
        py = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        env = dict(os.environ)
        host = options["bind"].rsplit(":", 1)[0]
        if host in {"127.0.0.1", "localhost", "[::1]"}:
            # Plain HTTP on loopback: cookies cannot be "secure" or the login would never stick.
            env.setdefault("S2SVPN_SECURE_COOKIES", "0")
        procs = {
            "web": [
                py,
                "-m",
                "gunicorn",
                "s2svpn.wsgi:application",
                "--bind",
                options["bind"],
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "5",
            ],
            "worker": [
                py,
                "-m",
                "celery",
                "-A",
                "s2svpn",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(options["concurrency"]),
                "--hostname",
                "worker@%h",
            ],
            "beat": [
                py,
                "-m",
                "celery",
                "-A",
                "s2svpn",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(settings.VAR_DIR / "celerybeat-schedule"),
            ],
        }
        if not options["no_sandbox"]:
            procs["sandbox"] = [py, manage, "sandbox"]
        children: dict[str, subprocess.Popen] = {}
        stopping = threading.Event()

        def pump(name: str, proc: subprocess.Popen) -> None:
            for line in proc.stdout:
                sys.stdout.write(f"{name:>8} | {line}")
                sys.stdout.flush()

        die_with_parent = _die_with_parent_hook()
        for name, cmd in procs.items():
            proc = subprocess.Popen(
                cmd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
                preexec_fn=die_with_parent,
                cwd=settings.BASE_DIR,
            )
            children[name] = proc
            threading.Thread(target=pump, args=(name, proc), daemon=True).start()

        def stop(*_):
            stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"s2svpn is up: http://{options['bind']}/  (Ctrl-C stops everything)")
        exit_code = 0
        while not stopping.is_set():
            for name, proc in children.items():
                if proc.poll() is not None:
                    self.stderr.write(f"{name} exited with {proc.returncode}; stopping the rest.")
                    exit_code = 1
                    stopping.set()
                    break
            time.sleep(0.5)
        for proc in children.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        sys.exit(exit_code)
