"""The test harness leaves no process behind: ``CeleryProcesses.stop()`` ends the worker and its
prefork children, even children that ignore SIGTERM or whose parent already died."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from tests.conftest import CeleryProcesses

# A stand-in for `celery worker` with its prefork pool: a parent that exits on SIGTERM and two
# children that ignore it (as a child busy in a task would, for a while).
PREFORK = """
import os, signal, sys, time
for _ in range(2):
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(0.1)
print("ready", flush=True)
while True:
    time.sleep(0.1)
"""


def spawn(tmp_path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", PREFORK],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def children_of(proc: subprocess.Popen) -> list[psutil.Process]:
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) == 2
    return children


def test_stop_reaps_the_prefork_children_that_ignore_sigterm(tmp_path):
    procs = CeleryProcesses({}, tmp_path)
    procs.grace = 0.5
    procs.worker = spawn(tmp_path)
    children = children_of(procs.worker)
    procs.stop()
    assert procs.worker.poll() is not None
    for child in children:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, child


def test_stop_reaps_children_orphaned_by_a_killed_parent(tmp_path):
    procs = CeleryProcesses({}, tmp_path)
    procs.grace = 0.5
    procs.worker = spawn(tmp_path)
    children = children_of(procs.worker)
    procs.worker.kill()  # the parent alone dies: its children now belong to init
    procs.worker.wait()
    time.sleep(0.1)
    assert all(child.is_running() for child in children)
    procs.stop()
    for child in children:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, child
