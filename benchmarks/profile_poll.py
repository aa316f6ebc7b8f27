"""Where a site-poll's CPU goes: cProfile over steady-state poll cycles, every thread.

    .venv/bin/python benchmarks/profile_poll.py [--sites 200] [--cycles 2] [--real]
        [--redis redis://127.0.0.1:6379/3] [--top 40]

The sandboxes run in a child process (``benchmarks/monitor.py``'s, no latency added), so only the
poller is profiled. One site is provisioned for real, N-1 more share its resources; one cycle
warms the clients up (TLS handshakes), then ``--cycles`` cycles of ``monitor.jobs.poll_shard``
(the shard task's body) run here with every poll thread and the storing thread profiled. With
``--real`` the ARM sandbox answers at Azure's pace (BGP reads 202 + Retry-After, throttling) and
the monitor's budget is on, as in ``benchmarks/monitor.py --real``.

Prints CPU ms per site-poll (unprofiled, from ``time.process_time`` of a separate cycle), then
the profiled cycles' own time by area (module groups) and the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

AREAS = [  # (area, substrings of the code's file path), first match wins
    ("ssl/socket", ("/ssl.py", "socket.py", "selectors.py", "<method 'recv", "<method 'send")),
    ("azure-core pipeline", ("/azure/core/", "/azure/mgmt/core/")),
    ("requests/urllib3", ("/requests/", "/urllib3/")),
    ("httpx/httpcore", ("/httpx/", "/httpcore/", "/h11/")),
    ("http.client/email", ("/http/client.py", "/email/")),
    ("json", ("/json/",)),
    ("django ORM/db", ("/django/db/", "sqlite3")),
    ("django other", ("/django/",)),
    ("redis/cache", ("/redis/", "django_redis", "/kombu/")),
    ("logging", ("/logging/",)),
    ("threading/futures", ("/threading.py", "/concurrent/", "/queue.py")),
    ("dns", ("/dns/",)),
    ("monitor", ("/monitor/",)),
    ("s2svpn clients", ("/s2svpn/clients/",)),
    ("s2svpn other", ("/s2svpn/",)),
    ("wizard", ("/wizard/",)),
]


class ThreadProfiles:
    """One ``cProfile.Profile`` per thread that runs a poll job, merged at the end."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self.lock = threading.Lock()
        self.on = False

    def wrap(self, fn):
        def run(*args, **kwargs):
            if not self.on:
                return fn(*args, **kwargs)
            profile = cProfile.Profile(time.thread_time)  # CPU, not waiting
            with self.lock:
                self.profiles.append(profile)
            profile.enable()
            try:
                return fn(*args, **kwargs)
            finally:
                profile.disable()

        return run

    def stats(self) -> pstats.Stats:
        stats = pstats.Stats(self.profiles[0])
        for profile in self.profiles[1:]:
            stats.add(profile)
        return stats


def area_of(filename: str, name: str) -> str:
    text = f"{filename} {name}"
    for area, needles in AREAS:
        if any(n in text for n in needles):
            return area
    if filename == "~":
        return "builtins"
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--real", action="store_true")
    parser.add_argument("--time-scale", type=float, default=0.5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--dump", default="", help="write the merged profile here (pstats)")
    parser.add_argument(
        "--micro",
        type=int,
        default=0,
        help="also time each part of a site-poll this many times, one after the other, "
        "unprofiled (CPU of this thread)",
    )
    args = parser.parse_args()
    args.processes = 1

    from benchmarks import monitor as bench

    if args.real:
        bench.real_environment(args)
    else:  # the cache (BGP read state) needs Redis; no ARM budget to wait for
        os.environ.update(
            REDIS_URL=args.redis, S2SVPN_ARM_READS_PER_S="1e6", S2SVPN_ARM_WRITES_PER_S="1e6"
        )
    scratch = Path(tempfile.mkdtemp(prefix="s2svpn-prof-"))
    os.environ["S2SVPN_VAR_DIR"] = str(scratch / "var")
    os.environ["DJANGO_SETTINGS_MODULE"] = "s2svpn.settings"
    child = subprocess.Popen(
        [sys.executable, "-c", bench.CHILD, str(REPO), str(scratch / "sandboxes"), "0", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        info = json.loads(child.stdout.readline())
        profile(args, info, child)
    finally:
        child.stdin.close()
        child.wait(timeout=30)


def profile(args, info, child) -> None:
    import django

    from s2svpn.vardir import prepare

    prepare()
    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    cache.clear()
    from benchmarks.monitor import setup_sites

    setup_sites(args, info)
    if args.real:
        child.stdin.write(f"real {args.time_scale}\n")
        child.stdin.flush()
    from monitor import jobs, poller
    from wizard.models import Site

    ids = list(Site.objects.order_by("pk").values_list("pk", flat=True))
    interval = poller.current_plan(len(ids)).interval

    def cycle() -> float:
        started = time.monotonic()
        jobs.poll_shard(ids, "profile")
        return time.monotonic() - started

    def wait_next(wall: float) -> None:
        if args.real:  # at the plan's interval, as beat would
            time.sleep(max(0.0, interval - wall))

    wait_next(cycle())  # warm-up: clients, TLS handshakes, the first BGP reads
    wait_next(cycle())  # and the first reading of a healthy site (what later polls reuse)
    if args.micro:
        micro(args.micro, Site.objects.get(pk=ids[-1]))
    cpu0 = time.process_time()
    wall = cycle()
    cpu = time.process_time() - cpu0
    print(
        f"unprofiled steady cycle: {len(ids)} sites, wall {wall:.1f} s, CPU {cpu:.2f} s = "
        f"{1000 * cpu / len(ids):.2f} ms per site-poll (load {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    wait_next(wall)

    profiles = ThreadProfiles()
    poller._Job._run = profiles.wrap(poller._Job._run)
    shard = profiles.wrap(jobs.poll_shard)

    def cycle() -> float:
        started = time.monotonic()
        shard(ids, "profile")
        return time.monotonic() - started

    profiles.on = True
    cpu0 = time.process_time()
    for _ in range(args.cycles):
        wait_next(cycle())
    cpu = time.process_time() - cpu0
    profiles.on = False
    stats = profiles.stats()
    if args.dump:
        stats.dump_stats(args.dump)
    polls = len(ids) * args.cycles
    by_area: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _line, name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        by_area[area_of(filename, name)] += tt
        total += tt
    print(f"profiled: {args.cycles} cycles, CPU {cpu:.2f} s (with cProfile's overhead)")
    print(f"own time by area, ms per site-poll (profiled total {1000 * total / polls:.2f}):")
    for area, tt in sorted(by_area.items(), key=lambda kv: -kv[1]):
        print(f"  {area:22s} {1000 * tt / polls:6.2f}  {100 * tt / total:5.1f} %")
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)


def micro(n: int, site) -> None:
    """CPU of this thread per call of each part of one site-poll, unprofiled."""
    from monitor import azure_half, pace, poller
    from s2svpn import activeactive_status

    intent = site.get_intent()
    azure, pfsense = poller.CLIENTS.get(site)
    memos = poller.CLIENTS.pfsense_memos(site)
    budget = pace.budget(site.subscription_id)
    parts = {
        "ARM budget (pace.take)": lambda: budget.take("reads"),
        "Azure GET connection (with budget)": lambda: azure.get_connection(intent),
        "Azure half (azure_half.read)": lambda: azure_half.read(
            azure, intent, {"details": {}}, 1e9, {"started": time.time()}, site.subscription_id
        ),
        "pfSense half (memo)": lambda: activeactive_status.read_pfsense(pfsense, intent, memos),
        "pfSense half (no memo)": lambda: activeactive_status.read_pfsense(pfsense, intent),
        "DNS check": lambda: poller._resolve(intent.onprem_fqdn, site),
    }
    for name, fn in parts.items():
        fn()
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        for _ in range(n):
            fn()
        cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
        print(f"  {name:38s} CPU {1000 * cpu / n:6.2f} ms  wall {1000 * wall / n:6.2f} ms")


if __name__ == "__main__":
    main()
