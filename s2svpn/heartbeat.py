"""Heartbeats: each Celery worker and beat process refreshes a ``WorkerBeat`` row every
``S2SVPN_WORKER_HEARTBEAT`` seconds from a thread of its main process.

A worker's row also lists the steps it is executing (its active and reserved ``execute_step``
requests), so ``wizard.watchdog`` can tell a step whose worker died (row silent for
``S2SVPN_WORKER_DEAD_AFTER`` s) from one that is merely slow, and re-dispatch it at once instead of
after the step's lease. ``/healthz/`` and the run and status pages read the rows too.

The hooks are connected when ``s2svpn.celery`` imports this module; nothing here runs in the web.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from celery import signals

log = logging.getLogger(__name__)

STEP_TASK = "wizard.tasks.execute_step"


def _settings():
    from django.conf import settings

    return settings


class Heartbeat(threading.Thread):
    """Writes this process's row now and then every ``interval`` seconds until ``stop()``."""

    def __init__(self, name: str, kind: str, holding=lambda: []):
        super().__init__(name=f"s2svpn-heartbeat-{kind}", daemon=True)
        self.row_name, self.kind, self.holding = name, kind, holding
        self.interval = float(_settings().S2SVPN_WORKER_HEARTBEAT)
        self.stopped = threading.Event()
        self.started_at = None

    def beat(self) -> None:
        from django.db import close_old_connections
        from django.utils import timezone

        from s2svpn.models import WorkerBeat

        now = timezone.now()
        self.started_at = self.started_at or now
        try:
            WorkerBeat.objects.update_or_create(
                name=self.row_name,
                defaults={
                    "kind": self.kind,
                    "started": self.started_at,
                    "beat_at": now,
                    "holding": sorted(self.holding()),
                },
            )
        except Exception as exc:  # the database may be restarting: beat again next time
            log.warning("heartbeat of %s not recorded: %s", self.row_name, exc)
            close_old_connections()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.beat()
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        """Stop beating and remove the row: a worker that shut down cleanly is gone at once."""
        from s2svpn.models import WorkerBeat

        self.stopped.set()
        self.join(timeout=self.interval + 5)
        try:
            WorkerBeat.objects.filter(name=self.row_name).delete()
        except Exception as exc:
            log.warning("heartbeat row of %s not removed: %s", self.row_name, exc)


def held_by_this_worker() -> list[int]:
    """Ids of the steps this worker's pool is executing or has reserved."""
    from celery.worker import state

    for _ in range(5):  # the consumer thread may change the sets while this thread reads them
        try:
            requests = [*state.active_requests, *state.reserved_requests]
            break
        except RuntimeError:
            continue
    else:
        requests = []
    return list({int(r.args[0]) for r in requests if r.name == STEP_TASK and r.args})


_threads: dict[str, Heartbeat] = {}


@signals.worker_ready.connect
def _start_worker_heartbeat(sender=None, **_: object) -> None:
    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    _threads["worker"] = Heartbeat(f"{hostname}/{os.getpid()}", "worker", held_by_this_worker)
    _threads["worker"].start()


@signals.worker_shutdown.connect
def _stop_worker_heartbeat(**_: object) -> None:
    thread = _threads.pop("worker", None)
    if thread:
        thread.stop()


@signals.worker_init.connect
def _guard_reconnects(**_: object) -> None:
    from s2svpn.broker import install_reconnect_guard

    install_reconnect_guard()


@signals.beat_init.connect
def _start_beat_heartbeat(**_: object) -> None:
    _threads["beat"] = Heartbeat(f"beat@{socket.gethostname()}/{os.getpid()}", "beat")
    _threads["beat"].start()


# ---------------------------------------------------------------- reading the rows


def live(kind: str = "worker", within: float | None = None):
    """Rows that beat within ``within`` seconds (default: ``S2SVPN_WORKER_DEAD_AFTER``)."""
    from django.utils import timezone

    from s2svpn.models import WorkerBeat

    seconds = _settings().S2SVPN_WORKER_DEAD_AFTER if within is None else within
    return WorkerBeat.objects.filter(
        kind=kind, beat_at__gte=timezone.now() - timedelta(seconds=seconds)
    )


def worker_running() -> bool:
    """Has any worker beaten within ``S2SVPN_WORKER_MISSING`` seconds?"""
    return live("worker", _settings().S2SVPN_WORKER_MISSING).exists()


def held_step_ids() -> set[int]:
    """Steps that a live worker says it is executing."""
    ids: set[int] = set()
    for holding in live("worker").values_list("holding", flat=True):
        ids.update(int(i) for i in holding or [])
    return ids
