"""The monitor at ARM's pace: a read budget shared by every poller of a subscription, fed back by
ARM's own rate-limit headers, 429s counted, and the interval/BGP cadence the budget can hold.

ARM refills a token bucket per subscription (reads 250 at 25/s; POST actions such as
getBgpPeerStatus are writes, 200 at 10/s: Microsoft's "Request limits and throttling"). The
monitor spends at most ``S2SVPN_ARM_READS_PER_S`` reads (default 20: headroom under 25 for the
wizard and runs) and ``S2SVPN_ARM_WRITES_PER_S`` writes (default 5) per subscription, counted in
the Django cache (Redis), so every shard on every machine draws on the same budget.

The Azure client's SDK pipeline calls :meth:`Hooks.request` before each attempt (the SDK's
``raw_request_hook``, so its own 429 retries are paced too) and :meth:`Hooks.response` after:
``x-ms-ratelimit-remaining-subscription-global-reads`` below :data:`FLOOR` slows the next
requests down until the bucket has refilled that far, and a 429 is counted (the SDK retries it
after ``Retry-After`` / ``retry-after-ms``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

WINDOW = 0.25  # seconds per budget window (a quarter of the per-second budget in each)
FLOOR = 50  # remaining reads below which the poller waits for the bucket to refill
REMAINING = "x-ms-ratelimit-remaining-subscription-global-{}"
COUNT_429 = "s2svpn:monitor:arm429"
COUNT_READS = "s2svpn:monitor:armreads"
BGP_READS_PER_SITE = 6  # three POSTs (writes) and at least three result GETs


def reads_per_second() -> float:
    return float(getattr(settings, "S2SVPN_ARM_READS_PER_S", 20.0))


def writes_per_second() -> float:
    return float(getattr(settings, "S2SVPN_ARM_WRITES_PER_S", 5.0))


class Budget:
    """``take(kind)`` blocks until one request of that kind fits the subscription's budget."""

    def __init__(self, subscription: str) -> None:
        self.subscription = subscription
        self.hold_until = 0.0  # set from the remaining-reads header
        # One thread of this process at a time asks Redis; the others wait here without
        # spinning. Without it every poll thread (128) woke at each window boundary and asked
        # Redis, and all but the window's few got "no": most of the budget's CPU.
        self._turn = threading.Lock()

    def take(self, kind: str) -> None:
        with self._turn:
            self._take(kind)

    def _take(self, kind: str) -> None:
        rate = reads_per_second() if kind == "reads" else writes_per_second()
        per_window = max(1, math.floor(rate * WINDOW))
        while True:
            now = time.time()
            if kind == "reads" and now < self.hold_until:
                time.sleep(self.hold_until - now)
                continue
            window = int(now / WINDOW)
            key = f"s2svpn:arm:{self.subscription}:{kind}:{window}"
            if _spend(key, 1, per_window, undo=False, count=COUNT_READS if kind == "reads" else ""):
                return
            time.sleep(max(0.0, (window + 1) * WINDOW - time.time()))

    def try_take(self, kind: str, n: int) -> bool:
        """``n`` requests now if this window still has them (never waits): for work that can
        wait for a later cycle, such as starting a site's BGP reads."""
        rate = reads_per_second() if kind == "reads" else writes_per_second()
        window = max(WINDOW, n / rate)  # a window that holds n at this rate
        per_window = max(n, math.floor(rate * window))
        key = f"s2svpn:arm:{self.subscription}:{kind}:{window:g}:{int(time.time() / window)}"
        return _spend(key, n, per_window, undo=True, count="")

    def remaining(self, value: str | None) -> None:
        """ARM's remaining reads: under the floor, hold reads until it has refilled past it."""
        try:
            left = int(value or "")
        except ValueError:
            return
        if left < FLOOR:
            self.hold_until = max(
                self.hold_until, time.time() + (FLOOR - left) / reads_per_second()
            )


# The budget's bookkeeping runs for every ARM request of every poll: one round trip to Redis
# (a script: count in the window, compare, count the read), on one client per process. Django's
# RedisCache builds a new ``redis.Redis`` for every call (registering its ~170 response callbacks
# each time): with four calls per read that was the largest CPU cost of a poll after HTTP.
_SPEND = """
local n, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local used = redis.call('INCRBY', KEYS[1], n)
if used == n then redis.call('EXPIRE', KEYS[1], 10) end
if used <= limit then
  if ARGV[4] == '1' then redis.call('INCRBY', KEYS[2], n) end
  return 1
end
if ARGV[3] == '1' then redis.call('DECRBY', KEYS[1], n) end
return 0
"""
_redis_lock = threading.Lock()
_redis: dict[tuple, tuple[Any, Any]] = {}  # (pid, servers, options) -> (client, script)


def _script() -> tuple[Any, Any] | tuple[None, None]:
    """(this process's Redis client for the cache's server, the spend script), or (None, None)
    when the cache is not Redis. Django's cache backends are per thread, each with its own
    connection pool: the poll threads share this one client (and its pool) instead."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None, None
    inner = backend._cache
    key = (os.getpid(), tuple(inner._servers), repr(sorted(inner._pool_options.items())))
    hit = _redis.get(key)
    if hit is None:
        with _redis_lock:
            hit = _redis.get(key)
            if hit is None:
                client = inner.get_client(write=True)  # its pool; reused from now on
                hit = _redis[key] = (client, client.register_script(_SPEND))
    return hit


def _spend(key: str, n: int, limit: int, *, undo: bool, count: str) -> bool:
    """Add ``n`` to the window ``key`` (kept 10 s); True if it stays within ``limit`` (then
    ``count`` is raised by ``n`` too, if given); else False, taking ``n`` back when ``undo``."""
    client, script = _script()
    if client is None:
        return _spend_cache(key, n, limit, undo=undo, count=count)
    keys = [cache.make_and_validate_key(key), cache.make_and_validate_key(count or key)]
    return bool(script(keys=keys, args=[n, limit, int(undo), int(bool(count))], client=client))


def _spend_cache(key: str, n: int, limit: int, *, undo: bool, count: str) -> bool:
    """:func:`_spend` through the cache's API (a cache that is not Redis)."""
    cache.add(key, 0, timeout=10)
    try:
        used = cache.incr(key, n)
    except ValueError:  # expired between add and incr
        return False
    if used <= limit:
        if count:
            _incr(count, n)
        return True
    if undo:
        cache.decr(key, n)
    return False


def _incr(key: str, by: int = 1) -> None:
    client = _script()[0]
    if client is not None:
        client.incrby(cache.make_and_validate_key(key), by)  # Django reads the integer back
        return
    cache.add(key, 0, timeout=None)
    try:
        cache.incr(key, by)
    except ValueError:
        cache.set(key, by, timeout=None)


_budgets: dict[str, Budget] = {}
_budgets_lock = threading.Lock()
_local = threading.local()


def budget(subscription: str) -> Budget:
    with _budgets_lock:
        return _budgets.setdefault(subscription.lower(), Budget(subscription.lower()))


def last_retry_after() -> float:
    """The wait ARM asked for in the last answer this thread received (0 if none)."""
    return getattr(_local, "retry_after", 0.0)


def _retry_after(headers: Any) -> float:
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        return float(headers.get("Retry-After") or 0)
    except ValueError:
        return 0.0


@dataclass
class Hooks:
    """The SDK pipeline hooks for one subscription's client (``raw_request_hook`` /
    ``raw_response_hook`` keyword arguments of the SDK client)."""

    subscription: str

    def request(self, pipeline_request: Any) -> None:
        """Reads wait for the budget; writes (the BGP reads' POSTs) were reserved by
        ``monitor.azure_half`` with :meth:`Budget.try_take` before they were sent."""
        if pipeline_request.http_request.method.upper() in ("GET", "HEAD"):
            budget(self.subscription).take("reads")

    def response(self, pipeline_response: Any) -> None:
        answer = pipeline_response.http_response
        headers = answer.headers
        _local.retry_after = _retry_after(headers)
        budget(self.subscription).remaining(headers.get(REMAINING.format("reads")))
        if answer.status_code == 429:
            _incr(COUNT_429)

    def kwargs(self) -> dict[str, Any]:
        return {"raw_request_hook": self.request, "raw_response_hook": self.response}


def counters() -> dict[str, int]:
    """429s and ARM reads this deployment has seen (all processes; since the cache was cleared)."""
    return {"throttled": int(cache.get(COUNT_429) or 0), "reads": int(cache.get(COUNT_READS) or 0)}


@dataclass
class Plan:
    """What the budget can hold for ``sites`` sites of one subscription."""

    sites: int
    interval: float  # seconds between connection-status reads of a site
    bgp_cadence: float  # seconds between BGP table reads of a site
    stretched: bool  # the interval had to grow beyond the configured one
    configured: float

    def note(self) -> str:
        if not self.stretched:
            return ""
        return (
            f"The ARM read budget ({reads_per_second():g} reads/s per subscription) cannot poll "
            f"{self.sites} sites every {self.configured:g} s: polled every {self.interval:.0f} s "
            f"instead, BGP tables every {self.bgp_cadence:.0f} s."
        )


PLAN = "s2svpn:monitor:plan"


def last_plan() -> Plan | None:
    """The plan the last cycle ran by (the status page reads it instead of counting sites)."""
    value = cache.get(PLAN)
    return Plan(**value) if isinstance(value, dict) else None


def plan(sites: int, interval: float, bgp_cadence: float) -> Plan:
    """Connection status every ``interval`` and BGP every ``bgp_cadence`` if the budget allows:
    else BGP slows down first (to at most a fifth of the budget), then the interval stretches."""
    rate = reads_per_second()
    cheap = sites / interval if interval else 0.0
    every = max(bgp_cadence, interval, 1e-3)  # BGP at most once a cycle
    if cheap + sites * BGP_READS_PER_SITE / every <= rate:
        chosen = Plan(sites, interval, bgp_cadence, False, interval)
    elif cheap <= 0.8 * rate:
        bgp = sites * BGP_READS_PER_SITE / (rate - cheap)
        chosen = Plan(sites, interval, max(bgp_cadence, bgp), False, interval)
    else:
        stretched = sites / (0.8 * rate)
        bgp = max(bgp_cadence, sites * BGP_READS_PER_SITE / (0.2 * rate))
        chosen = Plan(sites, stretched, bgp, True, interval)
    cache.set(PLAN, dataclasses.asdict(chosen), timeout=None)
    return chosen
