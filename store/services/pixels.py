"""Where a frame's pixels wait until vision has run: the shared "frames" cache, not PostgreSQL.

Frames arrive at several per second per camera and are needed for seconds. Written into a
database row and then overwritten with NULL, every frame cost PostgreSQL a TOASTed insert, a
dead tuple, vacuum work and its WAL twice, for data nobody keeps. The frame's row (device,
event id, capture time, status, vision results) stays in PostgreSQL; only the JPEG waits in
the cache, under the frame's id, with an expiry.

Why this keeps "nothing is lost" (invariant 1) with workers on other machines: the pixels are
written to the cache before the row commits and before the device gets its ack, and the cache
is Redis (REDIS_URL), the same server every worker already reads its task messages from. Any
worker that can receive a frame's task can read its pixels, whichever machine it runs on (a
file under MEDIA_ROOT would be visible only on the server that received the frame). The
pixels are exactly as durable as the task message that will process them, so Redis must keep
its data across restarts (`appendonly yes`) for the queue and the pixels alike. The expiry
(MINIGO_FRAME_PENDING_TTL_S) is only a backstop for a frame whose task never runs: such a frame
is recorded as `failed` with `pixels_expired`, never silently dropped.

Frames kept for training data (MINIGO_KEEP_FRAMES) are written to their row once, when
processed, and expire from there (invariant 6)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import caches

from store.models import Frame


def _cache():
    return caches["frames"]


def _key(device_pk: int, event_id: str, digest: str) -> str:
    # Named by the device's event id, known before the row exists (the pixels are held first,
    # so a stored row always has them), and by their digest, so another frame reusing the id
    # can never overwrite them.
    return f"frame-pixels:{device_pk}:{event_id}:{digest}"


def _key_of(frame: Frame) -> str:
    return _key(frame.device_id, frame.event_id, frame.digest)


def pixels_hold(*, device_pk: int, event_id: str, digest: str, jpeg: bytes) -> None:
    """Hold a frame's pixels until it is processed (or the backstop expiry)."""
    ttl = settings.MINIGO["FRAME_PENDING_TTL_S"]
    _cache().set(_key(device_pk, event_id, digest), jpeg, timeout=ttl)


def pixels_get(*, frame: Frame) -> bytes | None:
    """The frame's JPEG while anything still holds it: the cache, or its row (a kept frame,
    or one stored by a version that kept pending pixels in the row)."""
    if "jpeg" in frame.__dict__ and frame.jpeg is not None:
        return bytes(frame.jpeg)
    jpeg = _cache().get(_key_of(frame))
    if jpeg is None and frame.pk is not None:
        jpeg = Frame.objects.filter(pk=frame.pk).values_list("jpeg", flat=True).first()
    return bytes(jpeg) if jpeg is not None else None


def pixels_held(*, frame: Frame) -> bool:
    if _cache().get(_key_of(frame)) is not None:
        return True
    return Frame.objects.filter(pk=frame.pk, jpeg__isnull=False).exists()


def pixels_keep_for(*, frame: Frame, seconds: float) -> None:
    """Hold the pixels a little longer (a shelf frame whose faces may still be asked for)."""
    _cache().touch(_key_of(frame), timeout=max(1, int(seconds)))


def pixels_release(*, frame: Frame) -> None:
    _cache().delete(_key_of(frame))


def pixels_drop(*, device_pk: int, event_id: str, digest: str) -> None:
    _cache().delete(_key(device_pk, event_id, digest))
