"""Who took it at a camera's own pace: the time scales of following faces come from how often
that camera sends frames, measured around each event, not from one camera speed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from store.models import CartEntry, Frame, ReviewItem
from store.services.pace import DEFAULT_FRAME_S, Pace, pace_of
from tests.store.test_attribution import _event, _process, _seen


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _frames(store, now, every_s: float, span_s: float = 3.0) -> None:
    """The camera's frames over the window, every `every_s`, most of them without a face."""
    k = 0
    t = -span_s + 0.4
    while t <= span_s:
        Frame.objects.create(
            device=store.shelf_device,
            event_id=f"f{k}",
            seq=k,
            captured_at=now + _s(t),
            width=640,
            height=480,
            status="applied",
        )
        k += 1
        t += every_s


def test_the_pace_is_the_median_gap_between_frames_and_never_faster_than_the_default():
    now = timezone.now()
    every = [now + _s(t) for t in (0.0, 1.0, 2.0, 3.0, 5.0)]  # one missed frame
    assert pace_of([], every, window_s=3.0).frame_s == pytest.approx(1.0)
    fast = [now + _s(t / 10) for t in range(20)]
    assert pace_of([], fast, window_s=3.0).frame_s == DEFAULT_FRAME_S
    # Too few frames to tell: the default stands.
    assert pace_of([], every[:2], window_s=3.0) == Pace()


def test_a_slower_camera_widens_every_time_scale():
    slow, default = Pace(frame_s=1.0), Pace()
    assert slow.track_gap_s == pytest.approx(2 * default.track_gap_s)
    assert slow.unnamed_gap_s < slow.track_gap_s
    # A face a second and a half from the event: one frame and a half away at that pace.
    assert slow.closeness(1.5, 3.0) > 5 * default.closeness(1.5, 3.0)
    assert slow.closeness(0.0, 3.0) == default.closeness(0.0, 3.0) == 1.0


@pytest.mark.parametrize("every_s", [1.0, 0.5])
def test_a_face_a_frame_after_the_pick_names_the_picker_at_that_cameras_pace(
    store, visit, other_shopper, every_s
):
    from store.services.visits import visit_open

    kit = visit
    visit_open(shopper=other_shopper, device=store.gate_in)
    now = timezone.now()
    _frames(store, now, every_s)
    # Kit's face was missed in the frames at the moment; the first one that shows it is
    # 1.4 s after the pick and Kit stays.
    for dt in (1.4, 2.4):
        _seen(store, kit, now + _s(dt))
    event = _process(_event(store, "e1", 4200, 3850, at=now), final=True)
    if every_s == 1.0:
        # One frame a second: the next frame with a face is as near as that camera gets.
        assert event.status == "applied"
        entry = CartEntry.objects.get(shelf_event=event)
        assert entry.visit_id == kit.pk and entry.confidence >= 0.8
    else:
        # Two frames a second: the two frames nearer the pick did not show Kit, who may have
        # stepped up after someone unseen took it. A person decides.
        assert event.status == "review"
        item = ReviewItem.objects.get(shelf_event=event)
        assert item.reason == "who_unknown"
        assert item.candidates[0]["shopper"] == kit.shopper_id
