"""Celery tasks for the monitor: thin wrappers over ``monitor.jobs``, given ids only.

Beat runs ``poll_all`` every ``S2SVPN_POLL_INTERVAL`` seconds and ``prune`` hourly (entries added
in ``monitor.apps``); a queued cycle older than the interval expires unrun.
"""

from __future__ import annotations

from monitor import jobs
from s2svpn.celery import app  # bind to the configured app even where nothing imported it yet


@app.task(ignore_result=True)
def poll_all() -> int:
    return jobs.poll_all(dispatch=lambda ids, cycle: poll_shard.delay(ids, cycle))


@app.task(ignore_result=True)
def poll_shard(site_ids: list[int], cycle: str) -> int:
    return jobs.poll_shard(site_ids, cycle)


@app.task(ignore_result=True)
def poll_sites(site_ids: list[int]) -> int:
    return jobs.poll_sites(site_ids)


@app.task(ignore_result=True)
def reset_gateway(site_id: int) -> str:
    return jobs.reset_gateway(site_id)


@app.task(ignore_result=True)
def prune() -> dict:
    return jobs.prune()
