"""``manage.py up`` as a person runs it: a fresh var folder (its own SQLite, embedded Redis and
port), started, probed over HTTP, signalled, and checked for leftover processes. Used by
tests/integration/test_up.py and benchmarks/up_stop.py."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UpProcess:
    def __init__(self, **extra_env: str):
        # Short path: the embedded Redis's unix socket lives under it (108-byte limit).
        self.var = Path(tempfile.mkdtemp(prefix="s2svpn-up-"))
        self.port = free_port()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "REDIS_URL", "S2SVPN_BROKER_PREFIX"}
            and not k.startswith("PYTEST_")
        }
        self.env.update(
            S2SVPN_VAR_DIR=str(self.var),
            S2SVPN_BIND=f"127.0.0.1:{self.port}",
            DJANGO_SETTINGS_MODULE="s2svpn.settings",
            **extra_env,
        )
        self.proc: subprocess.Popen | None = None
        self.log = self.var / "up.log"
        self.manage("migrate", "--noinput", "-v", "0")

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO, env=self.env, check=True, timeout=120
        )

    def start(self, read_output: bool = True) -> UpProcess:
        """Start ``up``; ``read_output=False`` gives it a stdout pipe that nobody reads."""
        out = open(self.log, "ab") if read_output else subprocess.PIPE  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--no-sandbox", "--concurrency", "2"],
            cwd=REPO,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        if not read_output:  # a one-page pipe: up's output stalls within its first lines
            import fcntl

            fcntl.fcntl(self.proc.stdout.fileno(), 1031, 4096)  # F_SETPIPE_SZ
        return self

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}{path}", timeout=timeout
            ) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError as exc:
            return 0, str(exc)

    def wait_healthy(self, timeout: float = 90.0) -> None:
        """Until /healthz/ says database, broker and a worker are ok."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"up exited with {self.proc.returncode}: {self.output()}")
            if self.get("/healthz/")[0] == 200:
                return
            time.sleep(0.2)
        raise AssertionError(f"never healthy: {self.get('/healthz/')}\n{self.output()}")

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)

    def child(self, word: str) -> psutil.Process:
        """The direct child whose command line has ``word`` (e.g. "worker")."""
        for proc in psutil.Process(self.proc.pid).children():
            try:
                if word in proc.cmdline():
                    return proc
            except psutil.Error:  # exited (a zombie until up reaps it)
                continue
        raise AssertionError(f"no {word} child")

    def stop(self, timeout: float = 10.0) -> tuple[float, list[psutil.Process]]:
        """SIGTERM ``up``; the seconds it took to exit and the processes it left alive."""
        family = self.descendants()
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return float("inf"), [p for p in family if p.is_running()]
        took = time.monotonic() - began
        left = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        return took, left

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def cleanup(self) -> None:
        if self.proc and self.proc.poll() is None:
            for p in self.descendants():
                p.kill()
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.var, ignore_errors=True)
