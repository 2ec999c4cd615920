"""Frames whose task was lost (the broker's queue wiped) are queued again by the periodic
recovery job, and a frame that stays pending loses its pixels instead of keeping them
without end. (With real workers and a wiped Redis: tests/store/test_faults.py.)"""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from PIL import Image

from store.models import Frame
from store.services.frames import frame_store, frames_expire
from store.services.pixels import pixels_get
from store.tasks import recover_frames

pytestmark = pytest.mark.django_db


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 10)).save(buf, "JPEG")
    return buf.getvalue()


def _lost_frame(store, event_id: str, *, age_s: float) -> Frame:
    """A frame stored and acked whose task never ran (no on_commit here: the task is lost)."""
    frame, _ = frame_store(
        device=store.shelf_device,
        jpeg=_jpeg(),
        width=64,
        height=48,
        header={"event_id": event_id, "camera": "0", "seq": 1, "ts": time.time() - age_s},
    )
    Frame.objects.filter(pk=frame.pk).update(received_at=timezone.now() - timedelta(seconds=age_s))
    return frame


def test_a_frame_whose_task_was_lost_is_processed_by_the_recovery_job(store, settings):
    settings.MINIGO = {**settings.MINIGO, "FRAME_RECOVER_AFTER_S": 60}
    lost = _lost_frame(store, "f-lost", age_s=120)
    recent = _lost_frame(store, "f-recent", age_s=5)
    # Row ids repeat across tests; the shared cache may remember one from an earlier test.
    cache.delete_many([f"frame-recovered:{f.pk}" for f in (lost, recent)])
    assert recover_frames() == 1
    lost.refresh_from_db()
    recent.refresh_from_db()
    assert lost.status == "applied"
    assert recent.status == "pending" and pixels_get(frame=recent) is not None  # may still come
    # Queued again at most once per period: no flood when the job runs again.
    Frame.objects.filter(pk=lost.pk).update(status="pending")
    assert recover_frames() == 0


def test_a_frame_pending_past_its_ttl_loses_its_pixels(store, settings):
    settings.MINIGO = {**settings.MINIGO, "FRAME_PENDING_TTL_S": 3600}
    old = _lost_frame(store, "f-old", age_s=7200)
    young = _lost_frame(store, "f-young", age_s=60)
    assert frames_expire() == 1
    old.refresh_from_db()
    young.refresh_from_db()
    assert (old.status, old.result) == ("failed", {"error": "expired_unprocessed"})
    assert pixels_get(frame=old) is None
    assert young.status == "pending" and pixels_get(frame=young) is not None
