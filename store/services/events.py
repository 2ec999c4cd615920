"""Storing what devices send (invariant 1: stored before acked, once per device event id)."""

from __future__ import annotations

import hashlib
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from store import tasks
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
    tasks.enqueue_shelf_event(event_pk=event.pk)
    return event, True


def _savepoint_if_nested():
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
        _when(msg["ts"]),
    )
    if not same:
        raise DomainError(
            "event_conflict", "this event id was stored with other readings or another time"
        )
    return existing


def _frame_same_or_conflict(existing: Frame, header: dict[str, Any], digest: str) -> Frame:
    """A resent frame is the same capture: same time, camera, sequence number and pixels (by
    digest; the pixels themselves are gone once processed). Anything else reusing the id is
    a different frame, refused rather than acked as a duplicate."""
    same = (existing.captured_at, existing.camera, existing.seq) == (
        _when(header["ts"]),
        header["camera"],
        header["seq"],
    ) and (not existing.digest or existing.digest == digest)
    if not same:
        raise DomainError("frame_conflict", "this frame id was stored with another capture")
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
    from store.services.pixels import pixels_drop, pixels_hold

    # Pixels first, under the device's event id and their digest: a stored row always has
    # them, and another frame reusing the id cannot overwrite them. Then the row, inserted
    # first (a repeat is found by the unique constraint), then the task.
    digest = hashlib.sha256(jpeg).hexdigest()
    pixels_hold(device_pk=device.pk, event_id=header["event_id"], digest=digest, jpeg=jpeg)
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
                digest=digest,
                result={"sees": sees} if sees is not None else {},
            )
    except IntegrityError:
        existing = Frame.objects.defer("jpeg").get(device=device, event_id=header["event_id"])
        try:
            _frame_same_or_conflict(existing, header, digest)
        finally:
            if existing.digest != digest or existing.status != EventStatus.PENDING:
                # Held above for nothing: another capture, or one already processed.
                pixels_drop(device_pk=device.pk, event_id=existing.event_id, digest=digest)
        if existing.status == EventStatus.PENDING:
            # Queueing it may have failed after the row was stored (the agent then sent it
            # again); processing is idempotent, so queue it again.
            tasks.enqueue_frame(frame_pk=existing.pk)
        return existing, False
    tasks.enqueue_frame(frame_pk=frame.pk)
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
    return {"jpeg": None}  # a row that held pixels (an older version's) lets them go


def frames_expire() -> int:
    """Delete the pixels of kept frames past their expiry; the vision results stay. A frame
    still pending after FRAME_PENDING_TTL_S (vision failed on it every time it was retried)
    loses its pixels too and is marked failed: pixels are never held without end
    (invariant 6)."""
    now = timezone.now()
    expired = Frame.objects.filter(expires_at__lte=now, jpeg__isnull=False).update(jpeg=None)
    stale = now - timedelta(seconds=settings.MINIGO["FRAME_PENDING_TTL_S"])
    stale_frames = Frame.objects.filter(status=EventStatus.PENDING, received_at__lte=stale)
    held = list(stale_frames.only("pk", "device_id", "event_id", "digest"))
    expired += stale_frames.update(
        jpeg=None,
        status=EventStatus.FAILED,
        processed_at=now,
        result={"error": "expired_unprocessed"},
    )
    from store.services.pixels import pixels_release

    for frame in held:  # their pixels wait in the frames cache, not in the row
        pixels_release(frame=frame)
    return expired


RECOVER_BATCH = 200


def frames_recover() -> int:
    """Queue again the frames still pending FRAME_RECOVER_AFTER_S after they arrived: their
    task was lost (Redis restarted without persistence, or wiped with tasks queued), as the
    periodic settle does for shelf events. Processing is idempotent, so a frame whose task
    was only slow costs one extra status check. Each frame is queued again at most once per
    FRAME_RECOVER_AFTER_S and at most RECOVER_BATCH per run, oldest first, so a long backlog
    is not queued twice over. Returns how many were queued."""
    from django.core.cache import cache

    after_s = settings.MINIGO["FRAME_RECOVER_AFTER_S"]
    cutoff = timezone.now() - timedelta(seconds=after_s)
    pks = (
        Frame.objects.filter(status=EventStatus.PENDING, received_at__lte=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)
    )
    queued = 0
    for pk in pks.iterator():
        if queued >= RECOVER_BATCH:
            break
        if cache.add(f"frame-recovered:{pk}", 1, timeout=after_s):
            tasks.requeue_frame(frame_pk=pk)
            queued += 1
    return queued


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
    "frames_recover",
    "mark_processed",
]
