"""Signals the wizard sends; other apps connect to them in their ``AppConfig.ready()``.

``run_finished`` is sent as ``run_finished.send(sender=Run, run=run)`` once a run reaches a
terminal state (succeeded, failed, errored, cancelled), inside the transaction that records it:
a receiver that does work outside the database (enqueueing a task, sending mail) defers it with
``transaction.on_commit``. The monitor polls a site this way right after a successful run, so
the wizard never imports the monitor.
"""

from __future__ import annotations

import django.dispatch

run_finished = django.dispatch.Signal()
