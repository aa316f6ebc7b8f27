"""``benchmarks/monitor.py --real``: the monitor at Azure's pace, time-scaled.

The ARM sandbox runs the real profile's BGP reads (202 + Retry-After 10 s, done after 30 s) and
ARM's throttling (reads 250 / 25 per s per subscription), both compressed by ``--time-scale``;
the monitor's settings are scaled the same way (interval 60 s, BGP cadence 300 s, read budget
20/s: see ``real_environment``). Cycles run as Celery shard tasks (``monitor.tasks.poll_shard``)
on a real worker with ``--processes`` pool processes and the Redis at ``--redis``. Every figure
is printed in Azure's time (real seconds divided by the scale), CPU in real milliseconds.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (the Celery pool)."""
    from benchmarks.monitor import _cpu_seconds

    total = 0.0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            total += _cpu_seconds(p)
            for task in Path(f"/proc/{p}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _stats(child) -> dict:
    child.stdin.write("stats\n")
    child.stdin.flush()
    return json.loads(child.stdout.readline())


def run_real(args, info: dict, child) -> None:
    import django

    from s2svpn.vardir import prepare

    prepare()
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client

    from benchmarks.monitor import median_ms, setup_sites

    scale = args.time_scale
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    cache.clear()  # the benchmark's own Redis DB: counters, budget windows, BGP state
    user = get_user_model().objects.create_superuser("bench", "bench@example.net", "bench-pass")
    browser = Client()
    browser.force_login(user)

    def status_page() -> None:
        assert browser.get("/status/").status_code == 200

    status_page()
    empty_ms = median_ms(status_page, args.renders)
    provision_s = setup_sites(args, info)

    from monitor import jobs, pace, poller, tasks
    from monitor.models import Snapshot

    child.stdin.write(f"real {scale} {args.pfsense_keepalive or ''}\n")
    child.stdin.flush()
    from benchmarks._harness import Worker

    worker = Worker({"S2SVPN_VAR_DIR": os.environ["S2SVPN_VAR_DIR"]}, args.processes)
    try:
        _cycles(args, info, child, worker.procs[0], scale, jobs, pace, poller, tasks, Snapshot)
    finally:
        worker.stop()
    status_page()
    full_ms = median_ms(status_page, args.renders)
    print(f"provisioning the first site: {provision_s:.1f} s")
    print(
        f"status page: empty {empty_ms:.1f} ms, {args.sites} sites {full_ms:.1f} ms, ratio "
        f"{full_ms / empty_ms:.2f}x  target <= 5x"
    )


def _wait_cycle(jobs, cache_get, deadline: float) -> None:
    while cache_get(jobs.LOCK) is not None and time.monotonic() < deadline:
        time.sleep(0.1)


def _watch(Snapshot, site_id: int, until: float, seen: list[float]) -> None:
    """Until ``until``: note when the site's stored states first show a tunnel down."""
    from django.db import connection

    try:
        while time.monotonic() < until and not seen:
            states = Snapshot.objects.filter(site_id=site_id).values_list("states", flat=True)
            for value in states:
                if "down" in (value.get("tunnel_azure"), value.get("tunnel_pfsense")):
                    seen.append(time.monotonic())
            time.sleep(0.2)
    finally:
        connection.close()


def _cycles(args, info, child, worker, scale, jobs, pace, poller, tasks, Snapshot) -> None:
    from django.core.cache import cache
    from django.utils import timezone

    plan = poller.current_plan()
    interval = plan.interval
    from benchmarks.monitor import _cpu_seconds

    walls, cpus, box_cpus = [], [], []
    import threading

    from benchmarks.monitor import PROBE_SLUG
    from wizard.models import Site

    probe = Site.objects.get(slug=PROBE_SLUG).pk
    down_at = None
    seen: list[float] = []
    watcher = None
    steady_from = steady_to = None
    throttled_from = 0
    for k in range(args.cycles):
        started = time.monotonic()
        if k == 2:
            steady_from, throttled_from = started, _stats(child)["throttled"]
        cpu0, box0 = _tree_cpu(worker.pid), _cpu_seconds(info["child_pid"])
        sent = jobs.poll_all(dispatch=lambda ids, cycle: tasks.poll_shard.delay(ids, cycle))
        _wait_cycle(jobs, cache.get, started + 10 * interval)
        walls.append(time.monotonic() - started)
        cpus.append(_tree_cpu(worker.pid) - cpu0)
        box_cpus.append(_cpu_seconds(info["child_pid"]) - box0)
        if k == args.cycles - 3 and down_at is None:
            steady_to = time.monotonic()
            stats = _stats(child)
            child.stdin.write("down\n")
            child.stdin.flush()
            down_at = time.monotonic()
            watcher = threading.Thread(
                target=_watch, args=(Snapshot, probe, down_at + 10 * interval, seen), daemon=True
            )
            watcher.start()
        while time.monotonic() < started + interval:
            time.sleep(0.2)
        print(
            f"cycle {k + 1}: {sent} sites sent, wall {walls[-1] / scale:.1f} s "
            f"({walls[-1]:.1f} s real), CPU {cpus[-1]:.1f} s (sandboxes, another process: "
            f"{box_cpus[-1]:.1f} s), load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    now = timezone.now()
    polled = list(Snapshot.objects.values_list("polled_at", "azure"))
    if watcher is not None:
        watcher.join(max(0.0, down_at + 3 * interval - time.monotonic()))
    detected = seen[0] if seen else None
    reads = [t for t in stats["reads"] if steady_from <= t <= steady_to]
    span = max(1e-9, steady_to - steady_from)
    window = 10 * scale  # 10 Azure seconds
    peak = 0.0
    for t in reads:
        peak = max(peak, sum(1 for u in reads if t <= u < t + window) / 10)
    oldest = max((now - at).total_seconds() for at, _a in polled) / scale
    from datetime import datetime

    stale = 0
    for _at, azure in polled:
        read_at = (azure.get("details") or {}).get("bgp_read_at")
        age = (now - datetime.fromisoformat(read_at)).total_seconds() if read_at else 1e9
        stale += age > 2 * plan.bgp_cadence
    # from the third cycle to the end: the site whose tunnel goes down is one of N, and the
    # firewall reads the monitor reuses for a BGP cadence are read again in these cycles too
    steady = walls[2:] or walls
    steady_cpu = cpus[2:] or cpus
    print(
        f"--- real pace, time scale {scale} (figures in Azure seconds), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"sites: {args.sites}; worker processes: {args.processes}; "
        f"interval {interval / scale:.0f} s, BGP cadence {plan.bgp_cadence / scale:.0f} s"
        f"{' (stretched: ' + plan.note() + ')' if plan.stretched else ''}"
    )
    print(
        f"cycle wall time (steady): {min(steady) / scale:.1f}-{max(steady) / scale:.1f} s "
        f"(real {min(steady):.1f}-{max(steady):.1f} s)"
    )
    print(
        f"CPU per site-poll: {1000 * sum(steady_cpu) / (len(steady_cpu) * args.sites):.1f} ms "
        "(worker processes, steady cycles)"
    )
    print(
        f"ARM reads/s: sustained {len(reads) / span * scale:.1f}, peak (10 s) {peak:.1f}"
        "  target sustained <= 20"
    )
    print(
        f"429s in steady state: {stats['throttled'] - throttled_from} "
        f"(all run: {_stats(child)['throttled']}; the monitor counted {pace.counters()['throttled']})"
    )
    print(
        f"oldest connection status at the end: {oldest:.0f} s  target < {2 * interval / scale:.0f} s"
    )
    print(
        f"sites whose Azure BGP data is older than two BGP cadences: {100 * stale / len(polled):.1f} %"
    )
    if detected:
        print(
            f"one tunnel down ({PROBE_SLUG}'s firewall loses its SA) detected "
            f"{(detected - down_at) / scale:.1f} s after it "
            f"went down  target <= {interval / scale + 15:.0f} s"
        )
    else:
        print(f"tunnel down on {PROBE_SLUG}: not detected within three intervals")
