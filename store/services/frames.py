"""Processing a stored camera frame: gate frames identify shoppers (store/services/gates.py),
shelf frames record who is at the shelf (sightings.py) and what is on it (detection.py).

A frame task costs at most five SQL statements for a shelf frame (the frame and its device
and shelf in one read, the open visits of the faces seen, the sightings, their "last seen"
mark, and the frame's own result); the pixels come from the frames cache (pixels.py), and
waiting shelf events are found in the wake registry (wakes.py), not in the database."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.utils import timezone

from store.models import DeviceKind, EventStatus, Frame
from store.services import ondemand
from store.services.events import frame_release
from store.services.pixels import pixels_get
from vision.images import ImageError, decode_rgb

log = logging.getLogger(__name__)

GATES = (DeviceKind.ENTRY_GATE, DeviceKind.EXIT_GATE)


def frame_process(*, frame_id: int, faces: bool = False) -> Frame | None:
    """Run vision on a stored frame once. Safe to run twice: vision runs outside any
    transaction (it is slow and has no side effects); its results are then written in one
    transaction that ends by marking the frame processed only if it is still pending. If
    another run got there first, this run's writes are rolled back. `faces`: a shelf event
    asked for this frame's faces (ondemand.py), so they are computed whatever else waits."""
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
    # A shelf frame's faces only when an event needs them (ondemand.py); one that needs
    # neither faces nor its shelf's product detector is not even decoded. A synthetic frame
    # (`sees`, what vision would find) follows the same rule, so a replay measures it.
    deferred = not gate and not faces and not ondemand.faces_wanted(frame=frame)
    jpeg, rgb = None, None
    decode = sees is None and not (deferred and not _has_detector(frame))
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
        from store.services.sees import sees_gate_apply

        analysis, apply = {"sees": sees}, sees_gate_apply
    elif gate:
        from store.services import gates

        analysis = gates.gate_frame_analyse(frame=frame, rgb=rgb)
        apply = gates.gate_frame_apply
    else:
        from store.services import detection, sightings

        analysis = {
            "sightings": {} if deferred else sightings.shelf_frame_analyse(frame=frame, rgb=rgb),
            "detection": detection.shelf_frame_analyse(frame=frame, rgb=rgb),
        }

        def apply(*, frame: Frame, analysis: dict[str, Any]) -> dict[str, Any]:
            if deferred:
                ondemand.frame_recheck(frame=frame)
            return {
                **sightings.shelf_frame_apply(frame=frame, analysis=analysis["sightings"]),
                **detection.shelf_frame_apply(frame=frame, analysis=analysis["detection"]),
                **(ondemand.deferred_result(sees=sees) if deferred else {}),
            }

    with transaction.atomic():
        result = apply(frame=frame, analysis=analysis)
        keep_s = ondemand.deferred_keep_s() if result.get(ondemand.DEFERRED) else 0
        return _finish(frame, EventStatus.APPLIED, result, jpeg, keep_s=keep_s)


def _has_detector(frame: Frame) -> bool:
    try:
        return frame.device.shelf.detector_id is not None
    except ObjectDoesNotExist:
        return False


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
