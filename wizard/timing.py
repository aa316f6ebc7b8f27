"""Expected durations of Azure operations: ETAs shown to the user and the re-check cadence."""

from __future__ import annotations

import time

from wizard.context import StepContext
from wizard.models import Site

REAL_AZURE = {"gateway": 35 * 60.0, "other": 20.0}


def declared_hints(site: Site) -> dict[str, float] | None:
    """The durations the site's endpoints declared when they were filled in (the sandboxes say
    theirs in connection.json; "Use the sandbox" keeps them with the site), else None."""
    declared = ((site.intent or {}).get("_wizard") or {}).get("expected")
    if not isinstance(declared, dict):
        return None
    try:
        return {what: float(declared.get(what, REAL_AZURE[what])) for what in REAL_AZURE}
    except (TypeError, ValueError):
        return None


def expected_hints(site: Site) -> dict[str, float]:
    """Expected durations for ETAs and re-check cadence: the declared ones, or real Azure's."""
    return declared_hints(site) or dict(REAL_AZURE)


def expected(ctx: StepContext, what: str) -> float:
    """How long an Azure operation is expected to take (the run's hints, else real Azure's)."""
    hints = ctx.data.get("expected") or {}
    default = REAL_AZURE[what]
    return float(hints.get(what, default))


def recheck_delay(total: float, elapsed: float) -> float:
    """Seconds until the next look at an operation expected to take ``total`` seconds, started
    ``elapsed`` seconds ago: at the expected end (at least once a minute before it), then briskly
    (1 % of the expected time), backing off as it runs late (a quarter of the overrun, at most a
    minute), so a slow Azure operation is not asked about several times a second."""
    remaining = total - elapsed
    fine = min(max(total / 100, 0.1), 15.0)
    if remaining > fine:
        return min(remaining, 60.0)
    return min(max(fine, -remaining / 4), 60.0)


def recheck(ctx: StepContext, what: str, started: float) -> float:
    return recheck_delay(expected(ctx, what), time.time() - started)
