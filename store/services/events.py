"""Storing what devices send (invariant 1: stored before acked, once per device event id)."""

from __future__ import annotations

import hashlib
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
    """Store a validated frame and queue it for vision. The pixels stay only until processed,
    unless frames are kept for training data, and then until they expire."""
    sees = header.get("sees")
    if sees is not None and not settings.MINIGO["ACCEPT_SEES"]:
        # A device must never be able to tell the server whom it saw: identities come only
        # from the server's own vision, except in a replay's temporary store.
        raise DomainError("sees_not_accepted", "frames with 'sees' are accepted only in replay")
    digest = hashlib.sha256(jpeg).hexdigest()
    existing = Frame.objects.filter(device=device, event_id=header["event_id"]).first()
    if existing is not None:
        return _frame_same_or_conflict(existing, header, digest), False
    keep = settings.MINIGO["KEEP_FRAMES"]
    expires = timezone.now() + timedelta(hours=settings.MINIGO["FRAME_RETENTION_HOURS"])
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
                jpeg=jpeg,
                digest=digest,
                expires_at=expires if keep else None,
                result={"sees": sees} if sees is not None else {},
            )
            from store.tasks import process_frame

            transaction.on_commit(lambda: process_frame.delay(frame.pk))
    except IntegrityError:
        existing = Frame.objects.get(device=device, event_id=header["event_id"])
        return _frame_same_or_conflict(existing, header, digest), False
    return frame, True


def frame_release(*, frame: Frame) -> None:
    """Drop the pixels of a processed frame unless frames are being kept."""
    if not settings.MINIGO["KEEP_FRAMES"] and frame.jpeg is not None:
        Frame.objects.filter(pk=frame.pk).update(jpeg=None)
        frame.jpeg = None


def frames_expire() -> int:
    """Delete the pixels of kept frames past their expiry; the vision results stay. A frame
    still pending after FRAME_PENDING_TTL_S (vision failed on it every time it was retried)
    loses its pixels too and is marked failed: pixels are never held without end
    (invariant 6)."""
    now = timezone.now()
    expired = Frame.objects.filter(expires_at__lte=now, jpeg__isnull=False).update(jpeg=None)
    stale = now - timedelta(seconds=settings.MINIGO["FRAME_PENDING_TTL_S"])
    expired += Frame.objects.filter(status=EventStatus.PENDING, received_at__lte=stale).update(
        jpeg=None,
        status=EventStatus.FAILED,
        processed_at=now,
        result={"error": "expired_unprocessed"},
    )
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

    from store.tasks import process_frame

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
            process_frame.delay(pk)
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
