"""Shared set-up for the benchmarks: a throw-away var dir, a real worker, the sandboxes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


_EMBEDDED: list = []


def prepare_env(redis_url: str | None) -> dict[str, str]:
    """Point Django at a fresh var dir + SQLite file; Redis (own key prefix) when reachable, else
    the embedded Redis that `make run` would start (s2svpn.broker), on a socket in the var dir."""
    var = Path(tempfile.mkdtemp(prefix="s2svpn-bench-"))
    if not redis_url:
        sys.path.insert(0, str(REPO))
        from s2svpn.broker import EmbeddedRedis

        _EMBEDDED.append(EmbeddedRedis(var / "redis").start())
        redis_url = _EMBEDDED[-1].url
    env = {
        "DJANGO_SETTINGS_MODULE": "s2svpn.settings",
        "S2SVPN_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}",
        "S2SVPN_RESUME_INTERVAL": "5",
        "S2SVPN_POLL_INTERVAL": "3600",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["S2SVPN_BROKER_PREFIX"] = f"s2svpn-bench-{uuid.uuid4().hex[:8]}:"
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    import django

    from s2svpn.vardir import prepare

    prepare()  # the scratch var/ and its generated keys (settings only read them)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def redis_reachable(url: str = "redis://127.0.0.1:6379/13") -> str | None:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return url
    except Exception:
        return None


class Worker:
    def __init__(self, env: dict[str, str], concurrency: int = 2):
        self.log_path = Path(env["S2SVPN_VAR_DIR"]) / "worker.log"
        full = {**os.environ, **env}
        full.pop("PYTEST_VERSION", None)
        self.procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "s2svpn",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    str(concurrency),
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"bench{os.getpid()}@%h",
                ],
                cwd=REPO,
                env=full,
                stdout=open(self.log_path, "wb"),  # noqa: SIM115 - lives with the process
                stderr=subprocess.STDOUT,
                start_new_session=True,
            ),
        ]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and b"ready." not in self.log_path.read_bytes():
            time.sleep(0.2)

    def busy_seconds(self, prefix: str = "") -> float:
        """Sum of 'Task … succeeded in Xs' over the worker's log: time spent executing tasks
        (those whose name starts with ``prefix``)."""
        return sum(v for k, v in self.busy_by_task().items() if k.startswith(prefix))

    def busy_by_task(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        text = self.log_path.read_text(errors="replace")
        for name, seconds in re.findall(r"Task ([\w.]+)\[[^]]+\] succeeded in ([0-9.e-]+)s", text):
            totals[name] = totals.get(name, 0.0) + float(seconds)
        return totals

    def stop(self) -> None:
        import signal

        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(15)


def cleanup(env: dict[str, str]) -> None:
    while _EMBEDDED:
        _EMBEDDED.pop().stop()
    shutil.rmtree(env["S2SVPN_VAR_DIR"], ignore_errors=True)
