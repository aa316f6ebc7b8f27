"""How close provisioning gets to the gateway build time, and how idle the worker stays.

With the ARM sandbox's gateway build D = 20 s and 1 s for every other operation, a real Celery
worker provisions the canonical scenario on both ends (sandboxes) and the script prints:

* total wall time (Launch -> run succeeded, tunnel Connected, BGP Established) / D  (target <= 1.10;
  the floor is (1 + 20 + 1) / 20 = 1.10, since Azure needs the GatewaySubnet and public IP before the
  gateway and the gateway before the connection);
* worker busy time (sum of the run's task execution times) / wall time (target <= 2 %).

After a run succeeds, the monitor polls the site at once (Azure's BGP tables for the status page);
that poll is monitoring, not provisioning, and starts after the wall time ends: it is printed on
its own line and not counted in the busy share.

Usage: python benchmarks/provisioning.py [--gateway-seconds 20] [--other-seconds 1] [--runs 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

from _harness import Worker, cleanup, prepare_env, redis_reachable


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway-seconds", type=float, default=20.0)
    parser.add_argument("--other-seconds", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--verbose", action="store_true", help="print every step's timeline")
    args = parser.parse_args()
    redis_url = redis_reachable()
    env = prepare_env(redis_url)
    from pathlib import Path

    from django.conf import settings

    from s2svpn.sandbox.runtime import start_sandboxes

    def fresh_sandboxes(index: int):
        # One VPN gateway per VNet (Azure's rule, which the sandbox keeps): new sandboxes per run.
        boxes = start_sandboxes(Path(env["S2SVPN_VAR_DIR"]) / f"sandbox-{index}", profile="fast")
        boxes.arm.timing.gateway_seconds = args.gateway_seconds
        boxes.arm.timing.other_seconds = args.other_seconds
        boxes.write_connection_file(Path(settings.S2SVPN_SANDBOX_DIR) / "connection.json")
        return boxes

    worker = Worker(env)
    boxes = None
    ratios, busy_shares = [], []
    try:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.conftest import make_sandbox_site
        from wizard.models import Run, RunKind
        from wizard.runs import start_run

        for index in range(args.runs):
            if boxes is not None:
                boxes.stop()
            boxes = fresh_sandboxes(index)
            site = make_sandbox_site(boxes, slug=f"bench{index}")
            busy_before = worker.busy_seconds("wizard.")
            poll_before = worker.busy_seconds("monitor.")
            launched = time.monotonic()
            run = start_run(site, RunKind.PROVISION)
            while True:
                run = Run.objects.get(pk=run.pk)
                if run.is_terminal:
                    break
                time.sleep(0.05)
            wall = time.monotonic() - launched
            if run.status != "succeeded":
                raise SystemExit(f"run {run.status}: {run.error}")
            time.sleep(1.0)  # let the worker log its last task
            busy = worker.busy_seconds("wizard.") - busy_before
            deadline = time.monotonic() + 15
            while worker.busy_seconds("monitor.") == poll_before and time.monotonic() < deadline:
                time.sleep(0.1)  # the monitor's poll of the new site, enqueued when the run ended
            poll = worker.busy_seconds("monitor.") - poll_before
            steps = {s.key: s for s in run.steps.all()}
            gateway = steps["az_gateway"]
            phase1 = steps["pf_phase1"]
            ratios.append(wall / args.gateway_seconds)
            busy_shares.append(busy / wall)
            print(
                f"run {index + 1}: wall {wall:.2f} s, wall/D {wall / args.gateway_seconds:.3f}, "
                f"worker busy {busy:.3f} s = {100 * busy / wall:.2f} % of wall; "
                f"pfSense phase 1 written {(gateway.finished - phase1.finished).total_seconds():.1f} s "
                "before the gateway finished"
            )
            print(f"    then the monitor's first poll of the site: {poll:.3f} s of worker time")
            if args.verbose:
                arm = Counter(f"{m} {'/'.join(p.rsplit('/', 2)[-2:])}" for m, p in boxes.arm.calls)
                pf = Counter(f"{r['method']} {r['path']}" for r in boxes.pfsense.requests)
                print(f"    ARM requests {arm.total()}: {dict(arm.most_common())}")
                print(f"    pfSense requests {pf.total()}: {dict(pf.most_common())}")
                print(
                    "    busy by task:", {k: round(v, 3) for k, v in worker.busy_by_task().items()}
                )
                t0 = run.created
                for step in steps.values():
                    print(
                        f"    {step.key:14} {(step.started - t0).total_seconds():6.2f} -> "
                        f"{(step.finished - t0).total_seconds():6.2f} s, "
                        f"{step.attempts} attempts, busy {step.busy_seconds:.3f} s"
                    )
    finally:
        worker.stop()
        if boxes is not None:
            boxes.stop()
        cleanup(env)
    print(
        f"broker: {'Redis' if redis_url else 'embedded Redis'}; D = {args.gateway_seconds:.0f} s, "
        f"other operations {args.other_seconds:.0f} s"
    )
    print(f"total wall time / D: {statistics.median(ratios):.3f} (target <= 1.10)")
    print(f"worker busy / wall:  {100 * statistics.median(busy_shares):.2f} % (target <= 2 %)")


if __name__ == "__main__":
    main()
