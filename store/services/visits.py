from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from store.models import Device, Receipt, Shopper, Visit, VisitStatus
from store.services import live


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


def visit_close(*, visit: Visit, device: Device | None = None) -> Receipt:
    """Close the visit and issue its receipt. Idempotent: closing a closed visit returns the
    receipt it already has."""
    from store.services.receipts import receipt_issue
    from store.services.shelf_events import shelf_events_settle_for

    # Picks of this shopper still waiting for camera evidence are decided before the cart
    # closes; otherwise they would find the visit closed and go to review.
    shelf_events_settle_for(visit=visit)
    with transaction.atomic():
        locked = Visit.objects.select_for_update().get(pk=visit.pk)
        if locked.status == VisitStatus.OPEN:
            locked.status = VisitStatus.CLOSED
            locked.exited_at = timezone.now()
            locked.exit_device = device
            locked.save(update_fields=["status", "exited_at", "exit_device"])
            live.to_managers(
                "visit_closed",
                {
                    "visit": locked.pk,
                    "shopper": locked.shopper_id,
                    "name": locked.shopper.display_name,
                },
            )
        receipt = receipt_issue(visit=locked)
    return receipt
