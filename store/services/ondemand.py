"""Faces on shelf frames, computed on demand.

Finding and matching faces costs 150–250 ms of CPU per frame: twenty shelf cameras at two
frames a second would need a dozen cores. Most of those frames explain nothing: a face at a
shelf is evidence only for a shelf event within the attribution window, and only for one
whose picker is in doubt. So a shelf frame's faces are computed when

- a shelf event at that shelf, within the frame's window, waits for camera evidence (it is in
  the wake registry, store/services/wakes.py), or
- nobody asked for a while: one frame per shelf every FACES_LAST_SEEN_EVERY_S keeps the
  shoppers' "last seen" marks (weak evidence, and the manager's view) moving.

Any other shelf frame is recorded as processed with `"faces_deferred": true` and its pixels are
held a little longer (DEFERRED_KEEP_S). When a shelf event starts waiting, the deferred frames
of its window are analysed at once by the same worker and the event is decided again. Gate
frames are always analysed: a missed entry or exit is not something a later event can ask for.

Two orders are possible between a frame being deferred and an event starting to wait, and
both end with the frame analysed: the event registers before it asks for deferred frames, and
a frame, once its deferral has committed, looks at the registry again."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from store.models import EventStatus, Frame, ShelfEvent
from store.services import wakes

DEFERRED = "faces_deferred"  # the result key of a frame whose faces wait


def deferred_keep_s() -> float:
    """How long a deferred frame's pixels stay: its event may be processed this much later
    (the window, the grace period, and a queue of a few seconds)."""
    m = settings.MINIGO
    return m["ATTRIBUTION_WINDOW_S"] * 2 + m["ATTRIBUTION_GRACE_S"] + m["FACES_DEFERRED_SLACK_S"]


def deferred_result(*, sees: dict | None) -> dict:
    """What a deferred frame records: that its faces wait, and a synthetic frame's camera
    output for when they are asked for."""
    return {DEFERRED: True, **({"sees": sees} if sees is not None else {})}


def faces_wanted(*, frame: Frame) -> bool:
    if wakes.waiting_near(device_pk=frame.device_id, when=frame.captured_at):
        return True
    every = settings.MINIGO["FACES_LAST_SEEN_EVERY_S"]
    if every <= 0:
        return False
    # The first frame of each `every` seconds of capture time (event time, not when it is
    # processed: a replay, compressed in time, analyses the same frames on every run). The
    # mark outlives its period by far, for a backlog processed late.
    period = int(frame.captured_at.timestamp() // every)
    return cache.add(f"faces-last-seen:{frame.device_id}:{period}", 1, max(every * 12, 60))


def frame_recheck(*, frame: Frame) -> None:
    """After a deferral commits: an event that started waiting meanwhile gets this frame,
    analysed at once by the same worker."""

    def recheck() -> None:
        if wakes.waiting_near(device_pk=frame.device_id, when=frame.captured_at):
            _analyse_now([frame.pk])

    transaction.on_commit(recheck)


def frames_request(*, event: ShelfEvent) -> int:
    """Once the event's wait has committed, analyse the deferred frames of its window in this
    worker, then decide the event again with their sightings. Done here rather than queued:
    behind a queue of other tasks the pick would wait for the whole queue twice."""
    window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"])
    ids = list(
        Frame.objects.filter(
            device_id=event.device_id,
            status=EventStatus.APPLIED,
            captured_at__gte=event.occurred_at - window,
            captured_at__lte=event.occurred_at + window,
            **{f"result__{DEFERRED}": True},
        )
        .order_by("captured_at")
        .values_list("pk", flat=True)
    )
    if ids:
        transaction.on_commit(lambda: _analyse_for(event.pk, ids))
    return len(ids)


def _analyse_for(event_pk: int, ids: list[int]) -> None:
    from store.services.shelf_events import shelf_event_process

    # Frames' own wakes are held back while this run acts as the event's wake (the mark is
    # dropped before the event reads the sightings: wakes.py).
    claimed = wakes.wake_claim(event_pk=event_pk)
    try:
        _analyse_now(ids)
    finally:
        if claimed:
            wakes.wake_started(event_pk=event_pk)
    shelf_event_process(event_id=event_pk)


def _analyse_now(ids: list[int]) -> None:
    from store.services.frames import frame_process

    # Back to pending first, so a decision elsewhere waits for them (_frames_pending); only
    # frames still deferred: one analysed meanwhile is left as it is.
    Frame.objects.filter(
        pk__in=ids, status=EventStatus.APPLIED, **{f"result__{DEFERRED}": True}
    ).update(status=EventStatus.PENDING)
    for pk in ids:
        frame_process(frame_id=pk, faces=True)
