"""One poll per site at a time: a poll claims its sites (``PollLease``) and polls only those it
got; a site another poll holds is left to that poll (its reading is minutes fresher than any
wait would give). Three queries however many sites; a lease a crashed poller left behind
expires after ``seconds``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from monitor.models import PollLease


def claim(site_ids: Iterable[int], seconds: float) -> tuple[str, set[int]]:
    """Take the free sites among ``site_ids``; returns ``(holder, the ids taken)``."""
    ids = list(site_ids)
    holder = uuid.uuid4().hex
    if not ids:
        return holder, set()
    now = timezone.now()
    PollLease.objects.bulk_create(
        [PollLease(site_id=pk) for pk in ids], ignore_conflicts=True, batch_size=500
    )
    free = Q(until__isnull=True) | Q(until__lt=now)
    PollLease.objects.filter(free, site_id__in=ids).update(
        holder=holder, until=now + timedelta(seconds=seconds)
    )
    taken = PollLease.objects.filter(site_id__in=ids, holder=holder)
    return holder, set(taken.values_list("site_id", flat=True))


def release(holder: str) -> None:
    PollLease.objects.filter(holder=holder).update(holder="", until=None)
