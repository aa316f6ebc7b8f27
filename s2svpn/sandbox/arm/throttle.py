"""ARM's request throttling in the sandbox: token buckets per subscription and kind of request.

Azure Resource Manager refills a bucket per subscription (and principal and region; the sandbox
has one of each) continuously: reads 250 tokens refilled at 25 per second, writes 200 at 10,
deletes 200 at 10 (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling,
"Subscription and tenant limits"). GET is a read; PUT, PATCH and POST are writes; DELETE is a
delete. Every answer carries what is left in its bucket
(``x-ms-ratelimit-remaining-subscription-global-reads`` / ``-writes`` / ``-deletes``); an empty
bucket answers 429 ``SubscriptionRequestsThrottled`` with ``Retry-After`` (when one token is back).

Off unless the ``real`` profile or a test turns it on; the sandbox's ``time_scale`` compresses
time (0.01: the buckets refill 100x faster and the wait is 1/100 as long: see
:func:`retry_after`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

KINDS = {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}  # anything else writes
HEADER = "x-ms-ratelimit-remaining-subscription-global-{}"


@dataclass
class ThrottleLimits:
    """Bucket size and refill per second, per kind of request (Microsoft's published figures)."""

    reads: tuple[int, float] = (250, 25.0)
    writes: tuple[int, float] = (200, 10.0)
    deletes: tuple[int, float] = (200, 10.0)


@dataclass
class Throttle:
    """The buckets of every subscription the sandbox has seen. ``enabled`` is mutable at run time."""

    clock: Callable[[], float]
    scale: Callable[[], float]  # the sandbox's time_scale, read at each request
    enabled: bool = False
    limits: ThrottleLimits = field(default_factory=ThrottleLimits)
    throttled: int = 0  # 429s answered so far
    _buckets: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, subscription: str, method: str) -> tuple[dict[str, str], str | None]:
        """Spend one token: (headers for the answer, None), or when the bucket is empty (headers,
        the kind of request) for a 429: see :meth:`refusal`."""
        if not self.enabled:
            return {}, None
        kind = KINDS.get(method, "writes")
        size, per_second = getattr(self.limits, kind)
        rate = per_second / self.scale()
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.get((subscription, kind), [float(size), now])
            tokens = min(float(size), tokens + max(0.0, now - then) * rate)
            headers = {}
            if tokens >= 1.0 - 1e-9:  # a refill of exactly one token is one token
                tokens = max(0.0, tokens - 1.0)
            else:
                headers = retry_after((1.0 - tokens) / rate, self.scale())
                self.throttled += 1
            self._buckets[(subscription, kind)] = [tokens, now]
        empty = kind if headers else None
        headers[HEADER.format(kind)] = str(int(tokens))
        return headers, empty


def refusal_message(subscription: str, kind: str, actor: str, wait: dict[str, str]) -> str:
    """ARM's words for an empty bucket (error code ``SubscriptionRequestsThrottled``)."""
    seconds = wait.get("Retry-After") or str(int(wait.get("retry-after-ms", "0")) / 1000)
    return (
        f"Number of '{kind[:-1]}' requests for subscription '{subscription}' actor '{actor}' "
        f"exceeded. Please try again after '{seconds}' seconds after additional tokens are "
        "available. Refer to https://aka.ms/arm-throttling for additional information."
    )


def retry_after(seconds: float, scale: float) -> dict[str, str]:
    """How long to wait, as a header: ``Retry-After`` in whole seconds as ARM sends it (the SDK
    reads it as an integer) at real speed; ``retry-after-ms`` when time is compressed, which
    azure-core's pollers and retry policy honour and a whole second would not express."""
    if scale == 1.0:
        return {"Retry-After": str(max(1, math.ceil(seconds)))}
    return {"retry-after-ms": str(max(1, math.ceil(seconds * 1000)))}
