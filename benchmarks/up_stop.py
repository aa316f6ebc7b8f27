"""How fast `manage.py up` stops, and whether anything outlives it, over many stops.

Each round starts `up` (embedded Redis, web, worker, beat; no sandboxes) in a fresh var folder,
waits until /healthz/ is 200 (a worker beats), sends SIGTERM and measures how long `up` takes to
exit and which of its processes are left. Every third round nobody reads up's output (a one-page
pipe), the condition under which the previous `up` ignored SIGTERM. With --kill-worker, each round
first kills the worker with SIGKILL and measures how long until a new worker beats again.

Usage: python benchmarks/up_stop.py [--rounds 20] [--kill-worker]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.up_harness import UpProcess


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--kill-worker", action="store_true")
    args = parser.parse_args()
    up = UpProcess()
    stops, restarts, leftovers = [], [], 0
    try:
        for n in range(args.rounds):
            up.start(read_output=n % 3 != 2).wait_healthy()
            if args.kill_worker:
                worker = up.child("worker")
                began = time.monotonic()
                worker.kill()
                while True:
                    try:
                        if up.child("worker").pid != worker.pid:
                            break
                    except AssertionError:
                        pass
                    time.sleep(0.05)
                restarts.append(time.monotonic() - began)
            took, left = up.stop()
            stops.append(took)
            leftovers += len(left)
            print(f"round {n + 1:2}: stopped in {took:5.2f} s, {len(left)} process(es) left")
    finally:
        up.cleanup()
    print(
        f"\n{len(stops)} stops: min {min(stops):.2f} s, median {statistics.median(stops):.2f} s, "
        f"max {max(stops):.2f} s; over 10 s: {sum(s >= 10 for s in stops)}; "
        f"processes left: {leftovers}"
    )
    if restarts:
        print(
            f"worker restarted after SIGKILL in: median {statistics.median(restarts):.2f} s, "
            f"max {max(restarts):.2f} s"
        )


if __name__ == "__main__":
    main()
