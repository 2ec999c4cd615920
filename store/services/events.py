"""Storing what devices send (invariant 1: stored before acked, once per device event id)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from minigo.publish import task_publish
from store.errors import DomainError
from store.models import Device, DeviceKind, EventStatus, Frame, ShelfEvent, Slot


def _when(ts: float) -> datetime:
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
    from store.tasks import process_shelf_event

    try:
        with _savepoint_if_nested():
            event = ShelfEvent.objects.create(
                device=device,
                event_id=msg["event_id"],
                slot_code=msg["slot"],
                sensor=msg["sensor"],
                before=msg["before"],
                after=msg["after"],
                occurred_at=_when(msg["ts"]),
            )
    except IntegrityError:
        existing = ShelfEvent.objects.get(device=device, event_id=msg["event_id"])
        return _same_or_conflict(existing, msg), False
    transaction.on_commit(lambda: task_publish(process_shelf_event, event.pk))
    return event, True


def _savepoint_if_nested():
    """A savepoint around an INSERT that may hit the unique constraint, needed only inside a
    caller's transaction (PostgreSQL aborts the whole transaction on the error otherwise)."""
    if transaction.get_connection().in_atomic_block:
        return transaction.atomic()
    return nullcontext()


def _same_or_conflict(existing: ShelfEvent, msg: dict[str, Any]) -> ShelfEvent:
    same = (existing.slot_code, existing.before, existing.after) == (
        msg["slot"],
        msg["before"],
        msg["after"],
    )
    if not same:
        raise DomainError("event_conflict", "this event id was stored with other readings")
    return existing


def frame_store(
    *, device: Device, header: dict[str, Any], jpeg: bytes, width: int, height: int
) -> tuple[Frame, bool]:
    """Store a validated frame and queue it for vision. The row goes to the database, the
    pixels to the frames cache (store/services/pixels.py), both before the device is acked;
    the pixels stay only until processed, unless frames are kept for training data."""
    sees = header.get("sees")
    if sees is not None and not settings.MINIGO["ACCEPT_SEES"]:
        # A device must never be able to tell the server whom it saw: identities come only
        # from the server's own vision, except in a replay's temporary store.
        raise DomainError("sees_not_accepted", "frames with 'sees' are accepted only in replay")
    from store.services.pixels import pixels_hold, pixels_release
    from store.tasks import process_frame

    # Pixels first, under the device's event id: a stored row always has them. Then the row,
    # inserted first (a repeat is found by the unique constraint), then the task.
    pixels_hold(device_pk=device.pk, event_id=header["event_id"], jpeg=jpeg)
    try:
        with _savepoint_if_nested():
            frame = Frame.objects.create(
                device=device,
                event_id=header["event_id"],
                camera=header["camera"],
                seq=header["seq"],
                captured_at=_when(header["ts"]),
                width=width,
                height=height,
                result={"sees": sees} if sees is not None else {},
            )
    except IntegrityError:
        existing = Frame.objects.defer("jpeg").get(device=device, event_id=header["event_id"])
        if existing.status == EventStatus.PENDING:
            # Queueing it may have failed after the row was stored (the agent then sent it
            # again); processing is idempotent, so queue it again.
            transaction.on_commit(lambda: task_publish(process_frame, existing.pk))
        else:
            pixels_release(frame=existing)  # held again above; already processed
        return existing, False
    transaction.on_commit(lambda: task_publish(process_frame, frame.pk))
    return frame, True


def frame_release(*, frame: Frame, jpeg: bytes | None, keep_s: float = 0) -> dict[str, Any]:
    """What to write to a processed frame's row for its pixels: a kept frame (training data)
    gets them and its expiry; otherwise they are dropped from the frames cache once the
    processing commits, or held `keep_s` longer (a shelf frame whose faces may be asked for)."""
    from store.services.pixels import pixels_keep_for, pixels_release

    hours = settings.MINIGO["FRAME_RETENTION_HOURS"]
    if keep_s > 0:
        transaction.on_commit(lambda: pixels_keep_for(frame=frame, seconds=keep_s))
    else:
        transaction.on_commit(lambda: pixels_release(frame=frame))
    if settings.MINIGO["KEEP_FRAMES"] and jpeg is not None:
        return {"jpeg": jpeg, "expires_at": timezone.now() + timedelta(hours=hours)}
    return {}


def frames_expire() -> int:
    """Delete the pixels of kept frames past their expiry; the vision results stay."""
    return Frame.objects.filter(expires_at__lte=timezone.now(), jpeg__isnull=False).update(
        jpeg=None
    )


def mark_processed(obj: ShelfEvent | Frame, *, status: str, result: dict[str, Any]) -> None:
    obj.status = status
    obj.result = result
    obj.processed_at = timezone.now()
    obj.save(update_fields=["status", "result", "processed_at"])


__all__ = [
    "EventStatus",
    "event_store",
    "frame_release",
    "frame_store",
    "frames_expire",
    "mark_processed",
]
