"""Benchmark the monitor: one poll cycle over N sites against the sandboxes with latency added to
every call, and the status page's median render time with N sites vs. the empty page.

    .venv/bin/python benchmarks/monitor.py [--sites 1000] [--latency 0.1] [--renders 21]

What it does, all on loopback:

1. A scratch ``var/`` (SQLite) in a temporary directory; migrations; an admin user.
2. The sandboxes (ARM + pfSense + the World, fast profile) in a child process (so they do not
   share this process's GIL), with ``latency`` seconds added to every answer of both: the ARM
   sandbox's slow-answer fault at rate 1.0, and the same delay in front of every pfSense request.
   A DNS server on loopback answers the canonical FQDN.
3. The empty status page is timed (no sites yet): the baseline.
4. One site is provisioned for real through the wizard's run engine (in-process), then N-1 more
   sites pointing at the same resources are added. Every site is polled with its own clients
   (own TLS connections), its own Azure calls (connection, BGP peers, learned and advertised
   routes) and pfSense calls (phase 1, SAs, FRR sections, BGP summary, routes) and a DNS lookup.
5. Two poll cycles are timed: the first builds every client (TLS handshakes), the second reuses
   them (the steady state every ``S2SVPN_POLL_INTERVAL``).
6. The status page with N sites is rendered ``renders`` times; the median is compared with the
   empty page's median.

Prints the figures; asserts nothing (see tests/ for behaviour).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE_SLUG = "bench-probe"  # the site whose tunnel --real takes down

CHILD = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from s2svpn.sandbox.runtime import start_sandboxes

state, latency, prune = Path(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
boxes = start_sandboxes(state, profile="fast")
if prune:
    # The ARM sandbox keeps every POST-action operation for 24 h and rewrites its whole state
    # file on each request, so each cycle makes the next one slower. Forget finished ones.
    import threading
    def forget_finished_operations():
        while True:
            time.sleep(2)
            with boxes.arm._lock:
                ops = boxes.arm._state["operations"]
                now = boxes.arm.clock()
                for op_id, op in list(ops.items()):
                    # kept 10 min after they finish: the monitor collects a BGP read a cycle or
                    # more after it was started
                    if op["kind"] == "post" and op["start"] + op["duration"] < now - 600:
                        del ops[op_id]
    threading.Thread(target=forget_finished_operations, daemon=True).start()
if getattr(boxes.pfsense, "php", None) is not None:
    # the stand-in's own reading of the command endpoint's PHP snippets, not php-cli: the
    # benchmark measures the monitor (php-cli reads of system settings failed here under load)
    boxes.pfsense.php.php = ""
boxes.arm.faults.rate_slow = 1.0
boxes.arm.faults.slow_seconds = latency
original = type(boxes.pfsense).handle
probe_key, probe_down = boxes.pfsense.api_key + "-probe", []
def handle(method, path, query, body, headers):
    time.sleep(latency)
    if headers.get("x-api-key") != probe_key:
        return original(boxes.pfsense, method, path, query, body, headers)
    # the probe site (the last one): the same firewall under its own API key, whose IPsec SA
    # is gone once "down" was sent (one tunnel down among the N identical sites)
    headers = {**headers, "x-api-key": boxes.pfsense.api_key}
    code, payload, ctype = original(boxes.pfsense, method, path, query, body, headers)
    if probe_down and method == "GET" and path == "/api/v2/status/ipsec/sas":
        answer = json.loads(payload)
        answer["data"] = []
        payload = json.dumps(answer).encode()
    return code, payload, ctype
boxes.pfsense.handle = handle
info = boxes.connection_info()
print(json.dumps(info), flush=True)
# --real: commands on stdin until the parent closes it
seen = []  # (monotonic, method, status) of every ARM answer once Azure's pace is on
take = boxes.arm.throttle.take  # every ARM request passes the throttle once
def recording(subscription, method):
    headers, empty = take(subscription, method)
    seen.append((time.monotonic(), method, empty))
    return headers, empty
for line in sys.stdin:
    word, _, arg = line.strip().partition(" ")
    if word == "real":  # Azure's pace: real profile's BGP timing and throttling, time-scaled
        boxes.arm.timing.bgp_read_seconds, boxes.arm.timing.bgp_retry_after = 30.0, 10.0
        boxes.arm.timing.time_scale = float(arg.split()[0])
        boxes.arm.faults.slow_seconds = latency * float(arg.split()[0])
        boxes.arm.throttle.enabled = True
        boxes.arm.throttle.take = recording
        # pfSense's web server keeps an idle connection 70 s (nginx keepalive_timeout in the TLS
        # server block: pfSense system.inc, system_generate_nginx_config), on the same clock
        scale, _, keepalive = arg.partition(" ")
        boxes.pfsense._listener.set_idle_timeout(float(keepalive or 70 * float(scale)))
    elif word == "down":  # one site's tunnel goes down: see handle
        probe_down.append(time.monotonic())
    elif word == "stats":
        print(json.dumps({"throttled": boxes.arm.throttle.throttled,
                          "now": time.monotonic(),
                          "reads": [t for t, m, _s in seen if m == "GET"]}), flush=True)
boxes.stop()
"""


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added to every call")
    parser.add_argument("--renders", type=int, default=21)
    parser.add_argument("--workers", type=int, default=None, help="S2SVPN_POLL_WORKERS")
    parser.add_argument(
        "--prune-sandbox-ops",
        action="store_true",
        help="forget the ARM sandbox's finished POST operations (they pile up in its state file)",
    )
    parser.add_argument(
        "--real",
        action="store_true",
        help="Azure's pace: the real profile's BGP timing and ARM throttling, time-scaled, "
        "cycles in shards on Celery workers",
    )
    parser.add_argument("--time-scale", type=float, default=0.5, help="with --real")
    parser.add_argument("--processes", type=int, default=1, help="with --real: worker processes")
    parser.add_argument("--cycles", type=int, default=6, help="with --real")
    parser.add_argument(
        "--interval",
        type=float,
        default=60,
        help="with --real: S2SVPN_POLL_INTERVAL in Azure seconds (longer than a cycle: to time "
        "a CPU-bound cycle, which the ARM read budget otherwise spreads over the interval)",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3", help="with --real")
    parser.add_argument(
        "--pfsense-keepalive",
        type=float,
        default=None,
        help="with --real: real seconds the pfSense stand-in keeps an idle connection (default: "
        "pfSense's 70 s on the compressed clock; a small --time-scale makes that shorter than "
        "a CPU-bound cycle)",
    )
    args = parser.parse_args()
    if args.real:
        real_environment(args)

    scratch = Path(tempfile.mkdtemp(prefix="s2svpn-bench-monitor-"))
    os.environ["S2SVPN_VAR_DIR"] = str(scratch / "var")
    os.environ["DJANGO_SETTINGS_MODULE"] = "s2svpn.settings"
    sys.path.insert(0, str(REPO))

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(REPO),
            str(scratch / "sandboxes"),
            str(args.latency),
            "1" if args.prune_sandbox_ops else "0",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        info = json.loads(child.stdout.readline())
        info["child_pid"] = child.pid
        if args.real:
            from benchmarks.monitor_real import run_real

            run_real(args, info, child)
        else:
            run(args, info)
    finally:
        child.stdin.close()
        child.wait(timeout=30)


def setup_sites(args: argparse.Namespace, info: dict) -> float:
    """One site provisioned for real through the run engine, N-1 more on the same resources;
    returns the provisioning's seconds."""
    from django.db import transaction

    from s2svpn.intent import CANONICAL
    from s2svpn.psk import generate_psk
    from tests.monitor.sandbox_world import drive
    from wizard import runs
    from wizard.models import AzureAuth, RunKind, RunStatus, Site, SiteStatus

    common = dict(
        sandbox=True,
        azure_auth=AzureAuth.SANDBOX,
        subscription_id=info["subscription_id"],
        resource_group=info["resource_group"],
        location=info["location"],
        vnet_name=info["vnet_name"],
        arm_base_url=info["arm_base_url"],
        arm_ca_bundle=Path(info["ca_file"]).read_text(),
        pfsense_url=info["pfsense_url"],
        pfsense_api_key=info["pfsense_api_key"],
        pfsense_ca_bundle=Path(info["pfsense_ca_file"]).read_text(),
        dns_servers=info["dns_server"],  # the sandbox's own nameserver, as "Use the sandbox" sets
        psk=generate_psk(),
        intent={
            **CANONICAL.to_dict(),
            "slug": "home",
            # the durations the sandbox declares, as "Use the sandbox" keeps them (run ETAs)
            "_wizard": {
                "expected": {
                    "gateway": info["timing"]["gateway_seconds"],
                    "other": info["timing"]["other_seconds"],
                }
            },
        },
    )
    first = Site.objects.create(name="Bench 0000", slug="bench-0000", **common)
    started = time.perf_counter()
    with transaction.atomic():
        run = runs.start_run(first, RunKind.PROVISION)
    outcome = drive(run, limit=900)  # minutes on a loaded machine
    provision_s = time.perf_counter() - started
    assert outcome.status == RunStatus.SUCCEEDED, outcome.error
    Site.objects.bulk_create(
        [
            Site(name=f"Bench {i:04d}", slug=f"bench-{i:04d}", status=SiteStatus.ACTIVE, **common)
            for i in range(1, args.sites - 1)
        ],
        batch_size=500,
    )
    # the probe: the same firewall under its own API key (the stand-in drops its SA on "down")
    probe = {**common, "pfsense_api_key": info["pfsense_api_key"] + "-probe"}
    Site.objects.create(name="Bench probe", slug=PROBE_SLUG, status=SiteStatus.ACTIVE, **probe)
    return provision_s


def real_environment(args: argparse.Namespace) -> None:
    """Settings for --real: every duration of the monitor scaled like the sandbox's clock."""
    scale = args.time_scale
    os.environ.update(
        REDIS_URL=args.redis,
        S2SVPN_POLL_INTERVAL=str(max(1, round(args.interval * scale))),
        S2SVPN_ARM_READS_PER_S=str(20 / scale),
        S2SVPN_ARM_WRITES_PER_S=str(5 / scale),
        S2SVPN_BGP_CADENCE=str(300 * scale),
        S2SVPN_BGP_DEADLINE=str(300 * scale),
        S2SVPN_BGP_RECHECK=str(10 * scale),
        S2SVPN_POLL_TIMEOUT="30",
        S2SVPN_POLL_SHARD=str(max(1, args.sites // 8)),
    )


def run(args: argparse.Namespace, info: dict) -> None:
    import django

    from s2svpn.vardir import prepare

    prepare()  # the scratch var/ and its generated keys (settings only read them)
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # Django's test client
    settings.S2SVPN_POLL_TIMEOUT = 30
    if args.workers:
        settings.S2SVPN_POLL_WORKERS = args.workers
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_superuser("bench", "bench@example.net", "bench-pass")
    browser = Client()
    browser.force_login(user)

    def status_page() -> None:
        response = browser.get("/status/")
        assert response.status_code == 200, response.status_code

    status_page()
    empty_ms = median_ms(status_page, args.renders)

    from monitor import poller

    provision_s = setup_sites(args, info)
    cycles, cpu, child_cpu = [], [], []
    for _ in range(2):
        before, child_before = time.process_time(), _cpu_seconds(info["child_pid"])
        result = poller.run_cycle()
        cpu.append(time.process_time() - before)
        child_cpu.append(_cpu_seconds(info["child_pid"]) - child_before)
        cycles.append(result)
    from collections import Counter

    from monitor.models import Snapshot

    verdicts = Counter(Snapshot.objects.values_list("verdict", flat=True))
    errors: Counter = Counter()
    for azure, pfsense in Snapshot.objects.values_list("azure", "pfsense"):
        for name, end in (("Azure", azure), ("pfSense", pfsense)):
            if end.get("error"):
                errors[f"{name}: {end['error'][:90]}"] += 1

    status_page()
    full_ms = median_ms(status_page, args.renders)
    workers = poller.poll_workers()
    print(
        f"sites: {args.sites}, latency added to every sandbox answer: {args.latency * 1000:.0f} ms"
    )
    print(
        f"poll workers: {workers}, per-call timeout: {poller.poll_timeout():.0f} s, "
        f"cycle budget: {poller.cycle_budget():.0f} s, "
        f"sandbox operations pruned: {'yes' if args.prune_sandbox_ops else 'no'}"
    )
    print(f"provisioning the first site (real run, with the latency): {provision_s:.1f} s")
    print(
        f"poll cycle 1 (builds every client, TLS handshakes): {cycles[0].seconds:.1f} s "
        f"({cycles[0].transitions} transitions, storing {cycles[0].store_seconds:.1f} s; "
        f"CPU: poller {cpu[0]:.1f} s, "
        f"sandboxes {child_cpu[0]:.1f} s)"
    )
    print(
        f"poll cycle 2 (steady state, clients reused):        {cycles[1].seconds:.1f} s "
        f"({cycles[1].transitions} transitions, storing {cycles[1].store_seconds:.1f} s; "
        f"CPU: poller {cpu[1]:.1f} s, "
        f"sandboxes {child_cpu[1]:.1f} s)  target <= 60 s"
    )
    print(f"verdicts after the cycles: {dict(verdicts)}")
    for text, count in errors.most_common(5):
        print(f"  {count} x {text}")
    print(f"status page, empty (no sites), median of {args.renders}: {empty_ms:.1f} ms")
    print(f"status page, {args.sites} sites, median of {args.renders}: {full_ms:.1f} ms")
    print(f"ratio: {full_ms / empty_ms:.2f}x  target <= 5x")


if __name__ == "__main__":
    main()
