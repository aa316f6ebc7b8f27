"""``manage.py up`` keeps the app up: a killed child is restarted and the web keeps answering;
SIGTERM stops everything, every time, even when nobody reads its output."""

from __future__ import annotations

import time

import pytest

from tests.integration.up_harness import UpProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def up():
    app = UpProcess()
    yield app
    app.cleanup()


def test_a_worker_killed_under_up_is_restarted_and_the_web_keeps_answering(up):
    up.start().wait_healthy()
    worker = up.child("worker")
    worker.kill()  # kill -9
    answered, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline:
        answered.append(up.get("/login/")[0])
        try:
            again = up.child("worker")
        except AssertionError:
            again = None
        if again is not None and again.pid != worker.pid and "worker restarted" in up.output():
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"worker not restarted:\n{up.output()}")
    assert set(answered) == {200}, "the web answered all along"
    assert "worker exited with -9" in up.output()
    up.wait_healthy()  # the new worker beats
    took, left = up.stop()
    assert took < 10 and not left, (took, left, up.output())


def test_sigterm_stops_up_and_every_child_each_time_even_with_its_output_unread(up):
    # Two stops here and one above; benchmarks/up_stop.py does twenty and prints the figures.
    for attempt in range(2):
        up.start(read_output=attempt == 0).wait_healthy()
        took, left = up.stop()
        assert took < 10, f"attempt {attempt}: up still running after 10 s"
        assert not left, f"attempt {attempt}: left behind {left}"
