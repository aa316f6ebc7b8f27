"""A small process supervisor for ``manage.py up``: start children, restart the ones that exit
(with backoff, logged), and stop them all within a deadline on SIGTERM/SIGINT. Imports no Django.

Why the previous ``up`` could ignore SIGTERM: its output-pump threads wrote each child's lines to
stdout, and the main thread wrote there too. With stdout slow or not being read, a pump thread
blocked inside ``write`` holding the stdout buffer's lock, and the main thread waited for that lock
without a timeout; the signal handler only set a flag that the main thread never got back to.
Here pumps never block (lines go to a queue, dropped when it is full), one writer thread alone
touches stdout, and the main thread only ever waits with a timeout. Children are spawned from the
main thread only (``PR_SET_PDEATHSIG`` follows the thread that forked them).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_BACKOFF = 30.0
STABLE_AFTER = 30.0  # a child that ran this long starts again with the shortest backoff


def _die_with_parent_hook():
    """A ``preexec_fn`` that makes the child get SIGTERM when ``up`` itself dies (even by
    SIGKILL); ``None`` off Linux. prctl is looked up here, in the parent: the hook that runs
    between fork and exec only calls it (no dlopen there, no lock another thread could hold)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return hook


@dataclass
class Child:
    name: str
    argv: list[str]
    ready: Callable[[], bool] | None = None  # the others start once this answers (the broker)
    stop_last: bool = False  # stopped after the others (the broker they are talking to)
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    restarts: int = 0
    history: list[str] = field(default_factory=list)


class Output:
    """Lines from every child and from the supervisor, written to ``stream`` by one thread."""

    def __init__(self, stream, limit: int = 10000):
        self.stream = stream
        self.lines: queue.Queue[str | None] = queue.Queue(maxsize=limit)
        self.dropped = 0
        self.thread = threading.Thread(target=self._write, name="up-output", daemon=True)
        self.thread.start()

    def put(self, line: str) -> None:
        try:
            self.lines.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def _write(self) -> None:
        while (line := self.lines.get()) is not None:
            try:
                self.stream.write(line)
                self.stream.flush()
            except (OSError, ValueError):
                pass

    def close(self, timeout: float = 1.0) -> None:
        self.put(None)  # type: ignore[arg-type]
        self.thread.join(timeout)


class Supervisor:
    def __init__(self, children: list[Child], *, env=None, cwd=None, stream=None, grace=6.0):
        self.children = children
        self.env, self.cwd, self.grace = env, cwd, grace
        self.out = Output(stream or sys.stdout)
        self.stopping = threading.Event()
        self.signal_count = 0
        self._preexec = _die_with_parent_hook()

    def log(self, message: str) -> None:
        self.out.put(f"{'up':>8} | {message}\n")

    # ------------------------------------------------------------ children

    def _pump(self, child: Child, proc: subprocess.Popen) -> None:
        for raw in proc.stdout:
            self.out.put(f"{child.name:>8} | {raw.decode(errors='replace')}")

    def spawn(self, child: Child) -> None:
        child.proc = subprocess.Popen(
            child.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches its pool too
            preexec_fn=self._preexec,
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        threading.Thread(
            target=self._pump, args=(child, child.proc), name=f"up-{child.name}", daemon=True
        ).start()

    @staticmethod
    def _killpg(proc: subprocess.Popen, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def _wait_ready(self, child: Child, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while child.ready and not child.ready() and not self.stopping.is_set():
            if child.proc.poll() is not None or time.monotonic() > deadline:
                self.log(f"{child.name} is not answering; starting the others anyway")
                return
            self.stopping.wait(0.05)

    def check(self) -> None:
        """Restart children that exited, each after its own backoff."""
        now = time.monotonic()
        for child in self.children:
            proc = child.proc
            if proc is None or proc.poll() is None:
                continue
            if child.restart_at is None:
                ran = now - child.started_at
                child.failures = 1 if ran >= STABLE_AFTER else child.failures + 1
                delay = min(MAX_BACKOFF, 2.0 ** (child.failures - 1))
                child.restart_at = now + delay
                self._killpg(proc, signal.SIGKILL)  # what is left of its group (pool children)
                self.log(
                    f"{child.name} exited with {proc.returncode} after {ran:.1f} s; "
                    f"restarting in {delay:.0f} s"
                )
            elif now >= child.restart_at:
                child.restarts += 1
                self.spawn(child)
                self.log(f"{child.name} restarted (pid {child.proc.pid}, restart {child.restarts})")

    # ------------------------------------------------------------ lifecycle

    def _on_signal(self, signum, _frame) -> None:
        self.signal_count += 1
        self.stopping.set()

    def run(self, banner: str = "") -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for child in self.children:
            if self.stopping.is_set():
                break
            self.spawn(child)
            if child.ready:
                self._wait_ready(child)
        if banner and not self.stopping.is_set():
            self.log(banner)
        while not self.stopping.wait(0.25):
            self.check()
        return self.stop()

    def stop(self) -> int:
        """SIGTERM every child's group (the broker last), SIGKILL what is left at the deadline."""
        self.log("stopping")
        began = time.monotonic()
        first = [c for c in self.children if not c.stop_last]
        last = [c for c in self.children if c.stop_last]
        self._stop_group(first, began + self.grace)
        self._stop_group(last, time.monotonic() + 2.0)
        self.log(f"stopped in {time.monotonic() - began:.1f} s")
        self.out.close()
        return 0

    def _stop_group(self, children: list[Child], deadline: float) -> None:
        procs = [c.proc for c in children if c.proc is not None]
        for proc in procs:
            self._killpg(proc, signal.SIGTERM)
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            if self.signal_count > 1:
                break  # a second Ctrl-C: no more waiting
            time.sleep(0.05)
        for child in children:
            if child.proc is not None and child.proc.poll() is None:
                self.log(f"{child.name} did not stop in time; killing it")
        for proc in procs:
            self._killpg(proc, signal.SIGKILL)  # stragglers, and grandchildren of the exited
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1.0)
