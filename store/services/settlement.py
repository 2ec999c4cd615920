"""Settlement: when a visit's receipt may be issued (invariant 7).

A visit ends at the exit frame's capture time. Its receipt waits until every shelf event that
happened during the visit is decided (applied, ignored or sent to review) and every shelf
device has reported a watermark at or past the exit time ("all I produced up to then is
sent"). A shelf still silent MINIGO["SETTLE_DEADLINE_S"] after the exit gets the receipt issued
as provisional, naming what it waits for; when the evidence is complete the receipt is
revised to final (and amended if the late evidence changed it).

Only shelf devices that have ever talked to the server count: one that never connected has
nothing the store could wait for."""

from __future__ import annotations

import logging
from bisect import bisect_left
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone

from minigo.trace import stamp, trace
from store import tasks
from store.models import (
    Device,
    DeviceKind,
    EventStatus,
    Receipt,
    RevisionReason,
    ShelfEvent,
    Visit,
    VisitStatus,
)
from store.services import live
from store.services.attribution import ENTRY_SLACK_S
from store.services.receipts import receipt_issue, receipt_revise

log = logging.getLogger(__name__)
# How many settling visits one run of the settle job looks at (oldest exits first).
SETTLE_BATCH = 500


def settlement_missing(*, visit: Visit) -> list[str]:
    """What the visit's receipt still waits for: the shelf devices that have not reported up
    to the exit time, and those with an undecided event from during the visit. Empty when
    the evidence is complete."""
    if visit.exited_at is None:
        return ["visit_open"]
    silent = set(
        Device.objects.filter(kind=DeviceKind.SHELF, revoked_at__isnull=True)
        .filter(last_seen__isnull=False)
        .filter(Q(watermark__isnull=True) | Q(watermark__lt=visit.exited_at))
        .values_list("device_id", flat=True)
    )
    undecided = set(
        ShelfEvent.objects.filter(
            status=EventStatus.PENDING,
            occurred_at__gte=visit.entered_at - timedelta(seconds=ENTRY_SLACK_S),
            occurred_at__lte=visit.exited_at,
        ).values_list("device__device_id", flat=True)
    )
    return sorted(silent | undecided)


def visit_settle(*, visit: Visit, now: datetime | None = None) -> Receipt | None:
    """Issue the receipt of a closed visit if its evidence is complete (or provisionally past
    the deadline), and make a provisional receipt final once it is. Safe to call any number
    of times and from racing workers: issuing and revising lock the visit row."""
    now = now or timezone.now()
    visit = Visit.objects.select_related("shopper").get(pk=visit.pk)
    if visit.status != VisitStatus.CLOSED:
        return None
    receipt = Receipt.objects.filter(visit=visit).first()
    if receipt is not None and not receipt.provisional:
        return receipt
    missing = settlement_missing(visit=visit)
    if receipt is None:
        if not missing:
            return receipt_issue(visit=visit)
        deadline = visit.exited_at + timedelta(seconds=settings.MINIGO["SETTLE_DEADLINE_S"])
        if now >= deadline:
            log.warning("visit %s: receipt issued provisionally, waiting for %s", visit.pk, missing)
            return receipt_issue(visit=visit, provisional=True, waiting_for=missing)
        return None
    if not missing:
        return receipt_revise(visit=visit, reason=RevisionReason.SETTLED, provisional=False)
    return receipt


def visits_settle(*, now: datetime | None = None) -> int:
    """The settle job: try every visit whose receipt is not final yet and whose evidence is
    complete (or whose deadline has passed). Returns how many got a receipt or a revision.

    Which visits are complete is found for all of them at once, from the shelves' watermarks
    and the times of the undecided events (two reads); only those are settled one by one, each
    checked again under its own lock (visit_settle). So a run costs the receipts it issues, not
    the number of visits still waiting: under a backlog many wait, and every decided event and
    watermark report asks for a run."""
    now = now or timezone.now()
    pending = (
        Visit.objects.filter(status=VisitStatus.CLOSED)
        .filter(Q(receipt__isnull=True) | Q(receipt__provisional=True))
        .order_by("exited_at")
        .values_list("pk", "receipt__revision", "entered_at", "exited_at")[:SETTLE_BATCH]
    )
    rows = list(pending)
    if not rows:
        return 0
    marks = list(
        Device.objects.filter(kind=DeviceKind.SHELF, revoked_at__isnull=True)
        .filter(last_seen__isnull=False)
        .values_list("watermark", flat=True)
    )
    floor = None if None in marks else min(marks, default=None)
    undecided = sorted(
        ShelfEvent.objects.filter(status=EventStatus.PENDING).values_list("occurred_at", flat=True)
    )
    slack = timedelta(seconds=ENTRY_SLACK_S)
    deadline = timedelta(seconds=settings.MINIGO["SETTLE_DEADLINE_S"])
    changed = 0
    for pk, revision, entered, exited in rows:
        heard = not marks or (floor is not None and floor >= exited)
        i = bisect_left(undecided, entered - slack)
        decided = i == len(undecided) or undecided[i] > exited
        overdue = revision is None and now >= exited + deadline
        if not (heard and decided) and not overdue:
            continue
        receipt = visit_settle(visit=Visit(pk=pk), now=now)
        if receipt is not None and receipt.revision != revision:
            changed += 1
    return changed


def settlement_poke(*, when: datetime | None = None) -> None:
    """Something the settlement waits for moved (a decided event, a closed visit): run the
    settle job once the current transaction commits, if a visit is still waiting, and, for a
    decided event that happened at `when`, only if no other undecided event still holds a
    waiting visit whose span contains it (this was the last one). Under a backlog many visits
    wait and every decided event would otherwise queue a run. Looked at once committed, so of
    two events decided at once, the later to commit sees both."""

    def check() -> None:
        waiting = Visit.objects.filter(status=VisitStatus.CLOSED).filter(
            Q(receipt__isnull=True) | Q(receipt__provisional=True)
        )
        if when is not None:
            slack = timedelta(seconds=ENTRY_SLACK_S)
            held = ShelfEvent.objects.filter(
                status=EventStatus.PENDING,
                occurred_at__gte=OuterRef("entered_at") - slack,
                occurred_at__lte=OuterRef("exited_at"),
            )
            waiting = waiting.filter(entered_at__lte=when + slack, exited_at__gte=when).filter(
                ~Exists(held)
            )
        if waiting.exists():
            tasks.settle_receipts_soon()

    transaction.on_commit(check)


def settlement_watermark_moved(*, previous: datetime | None, now: datetime) -> None:
    """A shelf's watermark moved from `previous` to `now`: settle if that completed a waiting
    visit's watermarks, i.e. the lowest watermark of all shelves now reaches an exit that lay
    past `previous`. Shelves report every second or so; a report that only moved a shelf still
    ahead of another one completes nothing, and does not queue a settle run. Looked at once
    the report has committed, so of two reports racing, the later one sees both."""

    def check() -> None:
        shelves = Device.objects.filter(
            kind=DeviceKind.SHELF, revoked_at__isnull=True, last_seen__isnull=False
        ).aggregate(floor=Min("watermark"), silent=Count("pk", filter=Q(watermark__isnull=True)))
        floor = shelves["floor"]
        if floor is None or shelves["silent"]:
            return
        waiting = Visit.objects.filter(status=VisitStatus.CLOSED, exited_at__lte=floor).filter(
            Q(receipt__isnull=True) | Q(receipt__provisional=True)
        )
        if previous is not None:
            # Exits up to `previous` were not waiting for this shelf.
            waiting = waiting.filter(exited_at__gt=previous)
        if waiting.exists():
            tasks.settle_receipts_soon()

    transaction.on_commit(check)


def visit_settling_payload(*, visit: Visit) -> dict:
    return {
        "visit": visit.pk,
        "shopper": visit.shopper_id,
        "name": visit.shopper.display_name,
        "exited_at": visit.exited_at.isoformat() if visit.exited_at else None,
        "waiting_for": settlement_missing(visit=visit),
    }


def settlement_request_watermarks(*, until: datetime) -> None:
    """Ask every connected shelf agent to report its watermark now, so a receipt waits a
    round trip rather than a heartbeat period. Older agents ignore the message; their
    heartbeats still move their watermark."""
    trace("sync", until=stamp(until))
    for pk in Device.objects.filter(kind=DeviceKind.SHELF, online=True).values_list(
        "pk", flat=True
    ):
        live.to_device(pk, "sync", {"until": until.timestamp()})
