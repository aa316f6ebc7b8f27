"""Celery beat that never queues a second copy of a periodic task while one is still pending.

While every worker is down beat keeps ticking; without this, each tick would add one more
``resume_runs`` and ``poll_all`` to the queue for the workers to chew through when they come back.
Beat sets a marker in the cache (Redis, shared with the workers) when it sends a periodic task;
the worker clears it when the task starts (or is revoked or expires). A marker still set means a
copy is waiting: the tick is skipped. Markers expire after two intervals, so a message lost with
the broker holds the task back for at most that long.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import beat, signals

log = logging.getLogger(__name__)

PREFIX = "s2svpn:beat-pending:"


def _marker(task_name: str) -> str:
    return PREFIX + task_name


def _periodic_tasks() -> set[str]:
    from django.conf import settings

    return {entry["task"] for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values()}


class Scheduler(beat.PersistentScheduler):
    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        from django.core.cache import cache

        every = getattr(entry.schedule, "run_every", None) or timedelta(minutes=5)
        ttl = int(2 * every.total_seconds()) + 5
        if not cache.add(_marker(entry.task), "1", timeout=ttl):
            log.info("beat: %s still queued from an earlier tick; not sending another", entry.task)
            return None
        result = None
        try:
            result = super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        finally:
            # Not sent (the broker did not answer, or beat is stopping with SystemExit in the
            # middle of a publish): clear the marker so the next tick tries again.
            if result is None:
                cache.delete(_marker(entry.task))
        return result


def _clear(name: str | None) -> None:
    if name and name in _periodic_tasks():
        from django.core.cache import cache

        try:
            cache.delete(_marker(name))
        except Exception as exc:  # the marker expires on its own
            log.warning("beat marker for %s not cleared: %s", name, exc)


@signals.task_prerun.connect
def _started(sender=None, **_: object) -> None:
    _clear(getattr(sender, "name", None))


@signals.task_revoked.connect
def _revoked(request=None, **_: object) -> None:
    _clear(getattr(request, "name", None) or getattr(request, "task", None))
