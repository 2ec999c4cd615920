"""Storing what devices send (invariant 1: stored before acked, once per device event id)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from store import tasks
from store.errors import DomainError
from store.models import Device, DeviceKind, EventStatus, Frame, ShelfEvent, Slot


def event_time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def event_store(
    *, device: Device, msg: dict[str, Any], slot_known: bool = False
) -> tuple[ShelfEvent, bool]:
    """Store a validated shelf_event message. Returns (event, created); a repeat of an event
    id already stored returns the stored event untouched, and is not processed again. A
    repeat that carries different readings is refused (`event_conflict`) rather than
    overwriting what was stored.

    `slot_known` skips the slot lookup when the caller knows the slot from the config it
    sent the device. If that slot has since left the planogram the event is still stored,
    and processing sends it to review (`slot_not_in_planogram`), so nothing is lost."""
    if device.kind != DeviceKind.SHELF:
        raise DomainError("wrong_device_kind", "only shelf devices send shelf events")
    if not slot_known and not Slot.objects.filter(shelf__device=device, code=msg["slot"]).exists():
        # A repeat of an event stored before its slot left the planogram is still a repeat.
        existing = ShelfEvent.objects.filter(device=device, event_id=msg["event_id"]).first()
        if existing is not None:
            return _same_or_conflict(existing, msg), False
        raise DomainError("unknown_slot", f"this shelf has no slot {msg['slot']!r}")
    # New events are the common case, so insert first and let the unique constraint find a
    # repeat (one query fewer per event than looking first). The INSERT is a transaction of
    # its own (no BEGIN/COMMIT round trips around it), and the task is queued once it is.
    try:
        with savepoint_if_nested():
            event = ShelfEvent.objects.create(
                device=device,
                event_id=msg["event_id"],
                slot_code=msg["slot"],
                sensor=msg["sensor"],
                before=msg["before"],
                after=msg["after"],
                occurred_at=event_time(msg["ts"]),
            )
    except IntegrityError:
        existing = ShelfEvent.objects.get(device=device, event_id=msg["event_id"])
        return _same_or_conflict(existing, msg), False
    tasks.enqueue_shelf_event(event_pk=event.pk)
    return event, True


def savepoint_if_nested():
    """A savepoint around an INSERT that may hit the unique constraint, needed only inside a
    caller's transaction (PostgreSQL aborts the whole transaction on the error otherwise)."""
    if transaction.get_connection().in_atomic_block:
        return transaction.atomic()
    return nullcontext()


def _same_or_conflict(existing: ShelfEvent, msg: dict[str, Any]) -> ShelfEvent:
    same = (existing.slot_code, existing.before, existing.after, existing.occurred_at) == (
        msg["slot"],
        msg["before"],
        msg["after"],
        event_time(msg["ts"]),
    )
    if not same:
        raise DomainError(
            "event_conflict", "this event id was stored with other readings or another time"
        )
    return existing


def mark_processed(obj: ShelfEvent | Frame, *, status: str, result: dict[str, Any]) -> None:
    obj.status = status
    obj.result = result
    obj.processed_at = timezone.now()
    obj.save(update_fields=["status", "result", "processed_at"])


__all__ = [
    "EventStatus",
    "event_store",
    "event_time",
    "mark_processed",
    "savepoint_if_nested",
]
