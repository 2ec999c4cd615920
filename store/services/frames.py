"""Camera frames: storing what a device sends (frame_store, invariant 1), processing it once,
letting its pixels go (frame_release, frames_expire; invariant 6) and queueing again the
frames whose task was lost (frames_recover).

Processing: gate frames identify shoppers (store/services/gates.py),
shelf frames record who is at the shelf (sightings.py) and what is on it (detection.py).

A frame task costs at most five SQL statements for a shelf frame (the frame and its device
and shelf in one read, the open visits of the faces seen, the sightings, their "last seen"
mark, and the frame's own result); the pixels come from the frames cache (pixels.py), and
waiting shelf events are found in the wake registry (wakes.py), not in the database."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, transaction
from django.utils import timezone

from store import tasks
from store.errors import DomainError
from store.models import Device, DeviceKind, EventStatus, Frame, SensorKind, Slot
from store.services import detection, gates, ondemand, sightings
from store.services.events import event_time, savepoint_if_nested
from store.services.pixels import (
    pixels_drop,
    pixels_get,
    pixels_hold,
    pixels_keep_for,
    pixels_release,
)
from store.services.sees import sees_gate_apply
from vision.images import ImageError, decode_rgb

log = logging.getLogger(__name__)

GATES = (DeviceKind.ENTRY_GATE, DeviceKind.EXIT_GATE)


def frame_process(*, frame_id: int, faces: bool = False) -> Frame | None:
    """Run vision on a stored frame once. Safe to run twice: vision runs outside any
    transaction (it is slow and has no side effects); its results are then written in one
    transaction that ends by marking the frame processed only if it is still pending. If
    another run got there first, this run's writes are rolled back. `faces`: a shelf event
    asked for this frame's vision (ondemand.py), so it runs whatever else waits."""
    frame = (
        Frame.objects.select_related("device", "device__shelf")
        .defer("jpeg")
        .filter(pk=frame_id)
        .first()
    )
    if frame is None or frame.status != EventStatus.PENDING:
        return frame
    sees = frame.result.get("sees") if settings.MINIGO["ACCEPT_SEES"] else None
    gate = frame.device.kind in GATES
    # A shelf frame's vision only when an event needs it (ondemand.py): its faces, and its
    # products where the shelf counts them. A frame that needs neither is not even decoded.
    # A synthetic frame (`sees`, what vision would find) follows the same rule, so a replay
    # measures it.
    deferred = not gate and not faces and not ondemand.vision_wanted(frame=frame)
    # Counted before (its shelf's detector is its sensor), or now.
    counted = frame.result.get("detection") if faces else None
    detect = not gate and counted is None and _counts_products(frame, sees)
    if detect and deferred:
        detect = _camera_is_sensor(frame)
    jpeg, rgb = None, None
    decode = sees is None and (not deferred or detect)
    if decode or (sees is None and settings.MINIGO["KEEP_FRAMES"]):
        jpeg = pixels_get(frame=frame)
    if decode:
        if jpeg is None:
            return _finish(frame, EventStatus.FAILED, {"error": "pixels_expired"}, None)
        try:
            rgb = decode_rgb(
                jpeg,
                max_bytes=settings.MINIGO["FRAME_MAX_BYTES"],
                max_pixels=settings.MINIGO["FRAME_MAX_PIXELS"],
            )
        except ImageError as exc:
            return _finish(frame, EventStatus.FAILED, {"error": exc.code}, None)
    if jpeg is not None:
        frame.jpeg = jpeg  # for detection's training-data copy; never saved from here
    if sees is not None and gate:
        # A replay's synthetic gate frame: it names who stands at the gate.

        analysis, apply = {"sees": sees}, sees_gate_apply
    elif gate:
        analysis = gates.gate_frame_analyse(frame=frame, rgb=rgb)
        apply = gates.gate_frame_apply
    else:
        analysis = {
            "sightings": {} if deferred else sightings.shelf_frame_analyse(frame=frame, rgb=rgb),
            "detection": detection.shelf_frame_analyse(frame=frame, rgb=rgb) if detect else {},
        }

        def apply(*, frame: Frame, analysis: dict[str, Any]) -> dict[str, Any]:
            if deferred:
                ondemand.frame_recheck(frame=frame)
            return {
                **sightings.shelf_frame_apply(frame=frame, analysis=analysis["sightings"]),
                **detection.shelf_frame_apply(frame=frame, analysis=analysis["detection"]),
                **({"detection": counted} if counted is not None else {}),
                **(ondemand.deferred_result(sees=sees) if deferred else {}),
            }

    with transaction.atomic():
        result = apply(frame=frame, analysis=analysis)
        keep_s = ondemand.deferred_keep_s() if result.get(ondemand.DEFERRED) else 0
        return _finish(frame, EventStatus.APPLIED, result, jpeg, keep_s=keep_s)


def _counts_products(frame: Frame, sees: dict | None) -> bool:
    """Does this frame's shelf count products: a detector of its own, or (a replay's
    synthetic frame) a camera output that lists products."""
    if sees is not None:
        return isinstance(sees.get("products"), dict)
    try:
        return frame.device.shelf.detector_id is not None
    except ObjectDoesNotExist:
        return False


def _camera_is_sensor(frame: Frame) -> bool:
    # Camera-only slots are watched by the detector alone: each of their frames is a reading.
    return Slot.objects.filter(shelf__device_id=frame.device_id, sensor=SensorKind.CAMERA).exists()


def _finish(
    frame: Frame, status: str, result: dict[str, Any], jpeg: bytes | None, keep_s: float = 0
) -> Frame:
    """Mark the frame processed, in the caller's transaction (or one of its own), if it is
    still pending; otherwise roll back whatever this run wrote before (no savepoint: the
    whole transaction goes)."""
    with transaction.atomic(savepoint=False):
        now = timezone.now()
        fields = {"status": status, "result": result, "processed_at": now}
        done = Frame.objects.filter(pk=frame.pk, status=EventStatus.PENDING).update(
            **fields, **frame_release(frame=frame, jpeg=jpeg, keep_s=keep_s)
        )
        if not done:
            transaction.set_rollback(True)
            return frame
    frame.status, frame.result, frame.processed_at = status, result, now
    return frame


def _frame_same_or_conflict(existing: Frame, header: dict[str, Any], digest: str) -> Frame:
    """A resent frame is the same capture: same time, camera, sequence number and pixels (by
    digest; the pixels themselves are gone once processed). Anything else reusing the id is
    a different frame, refused rather than acked as a duplicate."""
    same = (existing.captured_at, existing.camera, existing.seq) == (
        event_time(header["ts"]),
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

    # Pixels first, under the device's event id and their digest: a stored row always has
    # them, and another frame reusing the id cannot overwrite them. Then the row, inserted
    # first (a repeat is found by the unique constraint), then the task.
    digest = hashlib.sha256(jpeg).hexdigest()
    pixels_hold(device_pk=device.pk, event_id=header["event_id"], digest=digest, jpeg=jpeg)
    try:
        with savepoint_if_nested():
            frame = Frame.objects.create(
                device=device,
                event_id=header["event_id"],
                camera=header["camera"],
                seq=header["seq"],
                captured_at=event_time(header["ts"]),
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
            tasks.enqueue_frame(frame_pk=existing.pk, ingest=device.kind == DeviceKind.SHELF)
        return existing, False
    tasks.enqueue_frame(frame_pk=frame.pk, ingest=device.kind == DeviceKind.SHELF)
    return frame, True


def frame_release(*, frame: Frame, jpeg: bytes | None, keep_s: float = 0) -> dict[str, Any]:
    """What to write to a processed frame's row for its pixels: a kept frame (training data)
    gets them and its expiry; otherwise they are dropped from the frames cache once the
    processing commits, or held `keep_s` longer (a shelf frame whose faces may be asked for)."""
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
