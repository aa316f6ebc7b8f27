"""Fixtures for the wizard's browser test in lab mode: the sandboxes backed by real strongSwan and
FRR (``start_sandboxes(..., lab=True)``, see ``s2svpn/lab/world.py``).

Locally the lab is skipped, with the reason printed, without root, ``/dev/net/tun`` or the Debian
packages; in CI (``CI`` set) a missing lab fails instead (``tests.lab.conftest.require_lab``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from s2svpn.lab import harness
from tests.browser.conftest import published
from tests.lab.conftest import require_lab


@dataclass
class LabTrace:
    """What this test's lab started: namespace prefixes, daemon PIDs, per-run directories."""

    prefixes: list[str] = field(default_factory=list)
    spawned_before: int = 0
    dirs_before: int = 0
    roots: list[Path] = field(default_factory=list)  # the sandboxes' state dirs

    def pids(self) -> list[int]:
        return harness.SPAWNED[self.spawned_before :]

    def dirs(self) -> list[Path]:
        return harness.CREATED_DIRS[self.dirs_before :]

    def leftovers(self) -> tuple[list[str], list[int]]:
        """(namespaces, processes) this test's lab left behind (others' labs are not ours).

        Read through the harness's own ``lab_namespaces()`` / ``lab_processes()``; in CI nothing
        else runs next to the test, so there every lab namespace and process counts."""
        namespaces, processes = harness.lab_namespaces(), harness.lab_processes()
        if os.environ.get("CI"):
            return namespaces, processes
        ours_ns = [n for n in namespaces if any(n.startswith(p) for p in self.prefixes)]
        markers = [str(d).encode() for d in [*self.dirs(), *self.roots]]
        ours_pids = []
        for pid in processes:
            if pid in self.pids():
                ours_pids.append(pid)
                continue
            with contextlib.suppress(OSError):
                seen = Path(f"/proc/{pid}/cmdline").read_bytes()
                seen += Path(f"/proc/{pid}/environ").read_bytes()
                if any(m in seen for m in markers):
                    ours_pids.append(pid)
        return ours_ns, ours_pids


@pytest.fixture
def lab_trace(monkeypatch) -> LabTrace:
    """Record the namespace prefix of every lab the LabWorld builds (it rebuilds on changes)."""
    trace = LabTrace(spawned_before=len(harness.SPAWNED), dirs_before=len(harness.CREATED_DIRS))
    original = harness.Lab.build

    def build(self, *args, **kwargs):
        trace.prefixes.append(self.prefix)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(harness.Lab, "build", build)
    return trace


@pytest.fixture
def lab_sandboxes(request, tmp_path, settings, lab_trace):
    """Both sandboxes around a LabWorld (gateway built in 2 s, everything else immediate), with
    the connection file written like ``manage.py sandbox`` does and restored afterwards."""
    require_lab()
    failed_before = request.session.testsfailed
    from s2svpn.sandbox.runtime import start_sandboxes

    lab_trace.roots.append(tmp_path / "sandboxes")
    boxes = start_sandboxes(tmp_path / "sandboxes", profile="fast", gateway_seconds=2, lab=True)
    try:
        with published(boxes, settings):
            yield boxes
    finally:
        boxes.stop()  # idempotent; the test stops them itself to check for leftovers
        # charon.log tells the story of a failure: keep the run directories then
        if request.session.testsfailed == failed_before and not os.environ.get("S2SVPN_LAB_KEEP"):
            for directory in lab_trace.dirs():
                shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def report(request):
    """Write a line to the terminal even when output is captured (the measured figures)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def write(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(line, flush=True)

    return write
