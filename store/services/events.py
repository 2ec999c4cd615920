"""Storing what devices send (invariant 1: stored before acked, once per device event id)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

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
    # repeat (one query fewer per event than looking first).
    try:
        with transaction.atomic():
            event = ShelfEvent.objects.create(
                device=device,
                event_id=msg["event_id"],
                slot_code=msg["slot"],
                sensor=msg["sensor"],
                before=msg["before"],
                after=msg["after"],
                occurred_at=_when(msg["ts"]),
            )
            from store.tasks import process_shelf_event

            transaction.on_commit(lambda: process_shelf_event.delay(event.pk))
    except IntegrityError:
        existing = ShelfEvent.objects.get(device=device, event_id=msg["event_id"])
        return _same_or_conflict(existing, msg), False
    return event, True


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
    from store.services.pixels import pixels_hold
    from store.tasks import process_frame

    # New frames are the common case: insert first and let the unique constraint find a
    # repeat (one round trip fewer than looking first).
    try:
        with transaction.atomic():
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
            pixels_hold(frame_pk=frame.pk, jpeg=jpeg)
            transaction.on_commit(lambda: process_frame.delay(frame.pk))
    except IntegrityError:
        return Frame.objects.defer("jpeg").get(device=device, event_id=header["event_id"]), False
    return frame, True


def frame_release(*, frame: Frame, jpeg: bytes | None) -> dict[str, Any]:
    """What to write to a processed frame's row for its pixels: a kept frame (training data)
    gets them and its expiry; otherwise they are dropped from the frames cache once the
    processing commits."""
    from store.services.pixels import pixels_release

    if settings.MINIGO["KEEP_FRAMES"] and jpeg is not None:
        hours = settings.MINIGO["FRAME_RETENTION_HOURS"]
        transaction.on_commit(lambda: pixels_release(frame_pk=frame.pk))
        return {"jpeg": jpeg, "expires_at": timezone.now() + timedelta(hours=hours)}
    transaction.on_commit(lambda: pixels_release(frame_pk=frame.pk))
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
