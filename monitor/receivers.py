"""The monitor's receivers of wizard signals (connected in ``MonitorConfig.ready()``)."""

from __future__ import annotations

from django.db import transaction

from wizard.models import Run, RunKind, RunStatus


def poll_after_run(sender: type[Run], run: Run, **_: object) -> None:
    """A site whose run just succeeded is read at once (Azure's BGP tables included), so its
    status page is complete right after the run instead of at the next beat."""
    if run.status != RunStatus.SUCCEEDED or run.kind == RunKind.TEARDOWN:
        return
    from monitor.tasks import poll_sites

    site_id = run.site_id
    transaction.on_commit(lambda: poll_sites.delay([site_id]))
