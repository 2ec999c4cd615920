from __future__ import annotations

from django.db import IntegrityError, transaction
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
