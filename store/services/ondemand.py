"""Vision on shelf frames, run on demand: faces and the product detector.

Finding and matching faces costs 150–250 ms of CPU per frame, the product detector about as
much: twenty shelf cameras at two frames a second would need a dozen cores. Most of those
frames explain nothing: a face at a shelf is evidence only for a shelf event within the
attribution window, and only for one whose picker is in doubt; the products on a load-cell
shelf matter only around a pick the camera is to confirm. So a shelf frame's vision runs when

- a shelf event at that shelf, within the frame's window, waits for camera evidence (it is in
  the wake registry, store/services/wakes.py), or
- a pick that the shelf's detector is to confirm needs the products seen just before and
  just after it (detection.detection_frames_needed), or
- nobody asked for a while: the first frame per shelf in every FACES_LAST_SEEN_EVERY_S of
  capture time keeps the shoppers' "last seen" marks (weak evidence, and the manager's view)
  and the shelf's latest product counts moving.

Any other shelf frame is recorded as processed with `"faces_deferred": true` (no faces, no
detections) and its pixels are held a little longer (deferred_keep_s). When a shelf event
starts waiting, the deferred frames it needs are analysed at once by the same worker, nearest
first, a few at a time, and the event is decided again after each few. The detector runs on
every frame of a shelf with camera-only slots: there it is the sensor, and its hands are what
makes the events. Gate frames are always analysed: a missed entry or exit is not something a
later event can ask for.

Two orders are possible between a frame being deferred and an event starting to wait, and
both end with the frame analysed: the event registers before it asks for deferred frames, and
a frame, once its deferral has committed, looks at the registry again."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from minigo.trace import trace
from store.models import EventStatus, Frame, ShelfEvent
from store.services import wakes

DEFERRED = "faces_deferred"  # the result key of a frame whose vision waits


def deferred_keep_s() -> float:
    """How long a deferred frame's pixels stay: its event may be processed this much later
    (the window the frame may be asked for in, the grace period, and a queue of a few
    seconds)."""
    m = settings.MINIGO
    window = max(m["ATTRIBUTION_WINDOW_S"], m["DETECTION_WINDOW_S"])
    return window * 2 + m["ATTRIBUTION_GRACE_S"] + m["FACES_DEFERRED_SLACK_S"]


def deferred_result(*, sees: dict | None) -> dict:
    """What a deferred frame records: that its faces wait, and a synthetic frame's camera
    output for when they are asked for."""
    return {DEFERRED: True, **({"sees": sees} if sees is not None else {})}


def vision_wanted(*, frame: Frame) -> bool:
    if wakes.waiting_near(device_pk=frame.device_id, when=frame.captured_at):
        return True
    every = settings.MINIGO["FACES_LAST_SEEN_EVERY_S"]
    if every <= 0:
        return False
    key = last_seen_key(device_pk=frame.device_id, captured_at=frame.captured_at.timestamp())
    return cache.add(key, 1, every * 4 + 60)


def last_seen_key(*, device_pk: int, captured_at: float) -> str:
    """The mark of a shelf's first frame in its period of FACES_LAST_SEEN_EVERY_S: of capture
    time, not of the clock, so which frames are analysed (and so which sightings exist)
    depends on the camera's times only, and a replay gives the same decisions however fast the
    workers run (invariant 8)."""
    period = int(captured_at // settings.MINIGO["FACES_LAST_SEEN_EVERY_S"])
    return f"faces-last-seen:{device_pk}:{period}"


def frame_recheck(*, frame: Frame) -> None:
    """After a deferral commits: an event that started waiting meanwhile gets this frame,
    analysed at once by the same worker."""

    def recheck() -> None:
        if wakes.waiting_near(device_pk=frame.device_id, when=frame.captured_at):
            _analyse_now([frame.pk])

    transaction.on_commit(recheck)


# Deferred frames analysed for their faces per round, nearest the event first: the picker
# caught in the act is usually in the frame or two next to the pick, and an event still in
# doubt after a round asks for the next ones (it waits while any of its window's frames are
# deferred: pace.frames_pending), so nothing is decided on part of the evidence
# unless that part already names the picker clearly (attribution.rank while not settled), and
# never before the frames of the moment just before the pick, which have arrived, are in.
FACES_PER_ROUND = 2


def frames_request(*, event: ShelfEvent, ids: list[int] | None = None) -> int:
    """Once the event's wait has committed, analyse deferred frames in this worker, then
    decide the event again with their results: `ids` (those the detector's check needs), or
    the FACES_PER_ROUND deferred frames of the event's window nearest to it (for their
    faces). Done here rather than queued: behind a queue of other tasks the pick would wait
    for the whole queue twice."""
    if ids is None:
        window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"])
        deferred = Frame.objects.filter(
            device_id=event.device_id,
            status=EventStatus.APPLIED,
            captured_at__gte=event.occurred_at - window,
            captured_at__lte=event.occurred_at + window,
            **{f"result__{DEFERRED}": True},
        ).values_list("pk", "captured_at")
        nearest = sorted(deferred, key=lambda f: (abs(f[1] - event.occurred_at), f[0]))
        ids = [pk for pk, _ in nearest[:FACES_PER_ROUND]]
    if ids:
        transaction.on_commit(lambda: _analyse_for(event.pk, ids))
    return len(ids)


def _analyse_for(event_pk: int, ids: list[int]) -> None:
    from store.services.shelf_events import shelf_event_process  # it imports this module

    # Frames' own wakes are held back while this run acts as the event's wake (the mark is
    # dropped before the event reads the sightings: wakes.py).
    claimed = wakes.wake_claim(event_pk=event_pk)
    trace("ondemand", event=event_pk, frames=len(ids))
    try:
        _analyse_now(ids)
    finally:
        if claimed:
            wakes.wake_started(event_pk=event_pk)
    shelf_event_process(event_id=event_pk)


def _analyse_now(ids: list[int]) -> None:
    from store.services.frames import frame_process  # it imports this module

    # Back to pending first, so a decision elsewhere waits for them (pace.frames_pending); only
    # frames still deferred: one analysed meanwhile is left as it is.
    Frame.objects.filter(
        pk__in=ids, status=EventStatus.APPLIED, **{f"result__{DEFERRED}": True}
    ).update(status=EventStatus.PENDING)
    for pk in ids:
        frame_process(frame_id=pk, faces=True)
