"""Processing a stored camera frame: gate frames identify shoppers (store/services/gates.py),
shelf frames record who is at the shelf (sightings.py) and what is on it (detection.py)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from store.models import DeviceKind, EventStatus, Frame
from store.services.events import frame_release, mark_processed
from vision.images import ImageError, decode_rgb

log = logging.getLogger(__name__)


def frame_process(*, frame_id: int) -> Frame:
    """Run vision on a stored frame once. Safe to run twice: vision runs outside any
    transaction (it is slow and has no side effects), then the frame row is locked and only
    a still-pending frame has its results applied."""
    frame = Frame.objects.select_related("device").get(pk=frame_id)
    if frame.status != EventStatus.PENDING:
        return frame
    rgb = None
    if frame.jpeg is not None:
        try:
            rgb = decode_rgb(
                bytes(frame.jpeg),
                max_bytes=settings.MINIGO["FRAME_MAX_BYTES"],
                max_pixels=settings.MINIGO["FRAME_MAX_PIXELS"],
            )
        except ImageError as exc:
            with transaction.atomic():
                locked = Frame.objects.select_for_update().get(pk=frame_id)
                if locked.status == EventStatus.PENDING:
                    mark_processed(locked, status=EventStatus.FAILED, result={"error": exc.code})
                    frame_release(frame=locked)
                return locked
    sees = frame.result.get("sees") if settings.MINIGO["ACCEPT_SEES"] else None
    if sees is not None and frame.device.kind in (DeviceKind.ENTRY_GATE, DeviceKind.EXIT_GATE):
        # A replay's synthetic gate frame: it names who stands at the gate.
        from store.services.sees import sees_gate_apply

        analysis, apply = {"sees": sees}, sees_gate_apply
    elif frame.device.kind in (DeviceKind.ENTRY_GATE, DeviceKind.EXIT_GATE):
        from store.services import gates

        analysis = gates.gate_frame_analyse(frame=frame, rgb=rgb)
        apply = gates.gate_frame_apply
    else:
        from store.services import detection, sightings

        analysis = {
            "sightings": sightings.shelf_frame_analyse(frame=frame, rgb=rgb),
            "detection": detection.shelf_frame_analyse(frame=frame, rgb=rgb),
        }

        def apply(*, frame: Frame, analysis: dict[str, Any]) -> dict[str, Any]:
            return {
                **sightings.shelf_frame_apply(frame=frame, analysis=analysis["sightings"]),
                **detection.shelf_frame_apply(frame=frame, analysis=analysis["detection"]),
            }

    with transaction.atomic():
        locked = Frame.objects.select_for_update().select_related("device").get(pk=frame_id)
        if locked.status != EventStatus.PENDING:
            return locked
        result = apply(frame=locked, analysis=analysis)
        mark_processed(locked, status=EventStatus.APPLIED, result=result)
        frame_release(frame=locked)
    return locked
