"""A Redis outage while the gateway builds needs no one: the worker survives it (Celery's
reconnect no longer crashes on a held re-check) and the run resumes from the database."""

from __future__ import annotations

import socket
import time

import pytest

from s2svpn.broker import EmbeddedRedis
from tests.conftest import inventory, make_sandbox_site, slow_down
from tests.integration.test_resilience import (
    ONE_OF_EACH,
    finish_noting_the_gateway,
    wait_until_building,
)
from wizard.models import RunKind, RunStatus
from wizard.runs import start_run

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test alone on a free loopback port, keeping nothing on disk."""
    server = EmbeddedRedis(tmp_path / "redis", port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def celery_redis_url(own_redis) -> str:
    return own_redis.url


def test_a_20_second_redis_outage_while_the_gateway_builds_needs_no_one(
    own_redis, fresh_sandboxes, celery_worker
):
    fresh_sandboxes.arm.timing.gateway_seconds = 25.0
    slow_down(fresh_sandboxes, 0.3)  # pfSense steps are in flight too when Redis goes away
    site = make_sandbox_site(fresh_sandboxes)
    run = start_run(site, RunKind.PROVISION)
    wait_until_building(run, celery_worker)
    time.sleep(0.5)  # the worker holds the gateway's re-check (a countdown message)
    own_redis.stop()
    time.sleep(20)
    own_redis.start()  # empty: the outage lost every message
    back_at = time.monotonic()
    ready_at, ended_at = finish_noting_the_gateway(run, fresh_sandboxes, celery_worker, 180)
    assert run.status == RunStatus.SUCCEEDED, (run.error, celery_worker.log()[-3000:])
    assert celery_worker.worker.poll() is None, celery_worker.log()[-3000:]
    assert celery_worker.beat.poll() is None, celery_worker.log("beat")[-3000:]
    assert "Unrecoverable error" not in celery_worker.log()
    assert inventory(fresh_sandboxes) == ONE_OF_EACH
    print(
        f"\nrun finished {ended_at - back_at:.1f} s after Redis came back, "
        f"{ended_at - ready_at:.1f} s after the gateway was ready"
    )
