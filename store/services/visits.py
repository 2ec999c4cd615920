from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from store.models import Device, Receipt, Shopper, Visit, VisitStatus
from store.services import live
from store.services.settlement import (
    settlement_request_watermarks,
    visit_settle,
    visit_settling_payload,
)


def visit_current(*, shopper: Shopper) -> Visit | None:
    return Visit.objects.filter(shopper=shopper, status=VisitStatus.OPEN).first()


def visit_at_exit(*, shopper: Shopper, at: datetime) -> Visit | None:
    """The visit an exit frame captured at `at` ends: the shopper's open visit, unless that
    began after `at`. Then the gate's agent sent the frame late, and it is the exit of an
    earlier visit (ended when they came back in), never the end of this one."""
    visit = visit_current(shopper=shopper)
    if visit is None or visit.entered_at > at:
        return None
    return visit


def visit_open(
    *, shopper: Shopper, device: Device | None = None, method: str = "face", at=None
) -> tuple[Visit, bool]:
    """Open a visit for `shopper`, or return the one already open. Returns (visit, created).

    Idempotent: repeated entry frames of the same person, processed in any order or at the
    same time, never open a second visit (a partial unique index backs this up)."""
    existing = visit_current(shopper=shopper)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            visit = Visit.objects.create(
                shopper=shopper,
                # When the gate saw them (`at`, the frame's capture time), not when a worker
                # got to the frame: under a backlog the shopper's own picks would otherwise
                # predate the visit and go to review. Never in the future.
                entered_at=min(at, timezone.now()) if at else timezone.now(),
                entry_method=method,
                entry_device=device,
            )
    except IntegrityError:
        # Another worker opened it between our read and our insert.
        return Visit.objects.get(shopper=shopper, status=VisitStatus.OPEN), False
    live.to_managers(
        "visit_opened",
        {
            "visit": visit.pk,
            "shopper": shopper.pk,
            "name": shopper.display_name,
            "entered_at": visit.entered_at.isoformat(),
            "method": method,
        },
    )
    live.to_shopper(shopper.pk, "visit_opened", {"visit": visit.pk})
    return visit, True


def visit_close(*, visit: Visit, device: Device | None = None, at=None) -> Receipt | None:
    """Close the visit at `at` (the exit frame's capture time; never in the future, never
    before the entry) and start its settlement. Returns the receipt if the evidence is already
    complete, else None: the shopper is told "finalising" and the receipt follows (invariant
    7). Idempotent: closing a closed visit only settles it again."""

    with transaction.atomic():
        locked = Visit.objects.select_for_update().select_related("shopper").get(pk=visit.pk)
        if locked.status == VisitStatus.OPEN:
            now = timezone.now()
            exited = min(at, now) if at else now
            locked.status = VisitStatus.CLOSED
            locked.exited_at = max(exited, locked.entered_at)
            locked.exit_device = device
            locked.save(update_fields=["status", "exited_at", "exit_device"])
            payload = visit_settling_payload(visit=locked)
            live.to_managers("visit_closed", payload)
            live.to_shopper(locked.shopper_id, "visit_settling", payload)
            if payload["waiting_for"]:
                settlement_request_watermarks(until=locked.exited_at)
    return visit_settle(visit=locked)


def visits_close_idle(*, now: datetime | None = None) -> int:
    """End the visits whose shopper no camera has seen for MINIGO["VISIT_IDLE_S"] (the
    periodic job): they left while the exit camera missed every frame of them. Each ends when
    they were last seen (or walked in, if never seen since), so nothing after that is put on
    their receipt. Returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.MINIGO["VISIT_IDLE_S"])
    idle = Visit.objects.filter(status=VisitStatus.OPEN).filter(
        Q(last_seen_at__lte=cutoff) | Q(last_seen_at__isnull=True, entered_at__lte=cutoff)
    )
    closed = 0
    for visit in idle.order_by("entered_at", "pk"):
        # Or when they last took or put back something, when no camera saw them do it.
        acted = visit.entries.aggregate(at=Max("shelf_event__occurred_at"))["at"]
        seen = [t for t in (visit.last_seen_at, acted) if t is not None]
        visit_close(visit=visit, at=max([visit.entered_at, *seen]))
        closed += 1
    return closed
