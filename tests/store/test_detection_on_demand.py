"""The product detector on demand on a load-cell shelf: a shelf frame is run through it only
when a pick its camera is to confirm needs it, or with the "last seen" faces; a camera-only
slot has every frame detected."""

from __future__ import annotations

import pytest

from store.models import CartEntry, Frame, ReviewItem, Slot
from store.services import detectors
from store.services.shelf_events import shelf_event_process
from tests.store.detection_support import (
    CHIPS,
    HAND,
    T0,
    THREE,
    ScriptedDetector,
    box,
    entered_before_the_frames,
    send,
    weight_event,
)


@pytest.fixture
def visit(visit):
    return entered_before_the_frames(visit)


class CountingDetector(ScriptedDetector):
    def __init__(self, script):
        super().__init__(script)
        self.seen: list[int] = []

    def detect(self, rgb):
        self.seen.append(round(float(rgb.mean()) / 20))
        return super().detect(rgb)


@pytest.fixture
def load_cell_shelf(camera_shelf, monkeypatch, settings):
    """The same shelf with a detector, every slot a load cell: its camera confirms picks."""
    settings.MINIGO = {**settings.MINIGO, "FACES_LAST_SEEN_EVERY_S": 0}
    Slot.objects.filter(pk=camera_shelf.a1.pk).update(sensor="load_cell", camera_region=None)

    def use(script):
        detector = CountingDetector(script)
        monkeypatch.setattr(detectors, "detector_load", lambda *, model: detector)
        return detector

    camera_shelf.use_script = use
    return camera_shelf


CRISPS = [box(CHIPS, 40), box(CHIPS, 50)]


@pytest.mark.django_db
def test_a_load_cell_shelf_frame_nobody_asks_for_is_not_run_through_the_detector(
    load_cell_shelf,
):
    detector = load_cell_shelf.use_script([CRISPS] * 3)
    frames = [send(load_cell_shelf, i) for i in range(3)]
    assert detector.seen == []
    for frame in frames:
        frame.refresh_from_db()
        assert frame.result["faces_deferred"] is True and "detection" not in frame.result


@pytest.mark.django_db
def test_a_camera_only_slot_has_every_frame_run_through_the_detector(camera_shelf, settings):
    settings.MINIGO = {**settings.MINIGO, "FACES_LAST_SEEN_EVERY_S": 0}
    camera_shelf.use_script([THREE] * 3)
    frames = [send(camera_shelf, i) for i in range(3)]
    for frame in frames:
        frame.refresh_from_db()
        # Its faces wait for an event; its products are the slot's reading.
        assert frame.result["faces_deferred"] is True
        assert frame.result["detection"]["counts"]["A1"] == 3


@pytest.mark.django_db
def test_a_pick_has_the_deferred_frames_around_it_detected_and_is_charged_when_they_agree(
    load_cell_shelf, visit, django_capture_on_commit_callbacks
):
    far_before = [CRISPS, CRISPS]  # 0, 1: long before the pick, never needed
    script = [*far_before, CRISPS, [box(HAND, 40, 0)], [box(HAND, 40, 0)], CRISPS[:1], CRISPS]
    detector = load_cell_shelf.use_script(script)
    for i in range(len(script)):
        send(load_cell_shelf, i)
    assert detector.seen == []
    event = weight_event(load_cell_shelf, removed_g=45, at=T0 + 3.5)
    with django_capture_on_commit_callbacks(execute=True):
        shelf_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == "applied"
    assert CartEntry.objects.get(shelf_event=event).visit_id == visit.pk
    # Outwards from the pick until a hand-free frame on each side: 3, 2 before; 4, 5 after.
    assert sorted(detector.seen) == [2, 3, 4, 5]
    assert Frame.objects.get(event_id="f0").result["faces_deferred"] is True


@pytest.mark.django_db
def test_a_pick_the_deferred_frames_contradict_goes_to_review(
    load_cell_shelf, visit, django_capture_on_commit_callbacks
):
    script = [CRISPS, [*CRISPS, box(HAND, 40, 0)], CRISPS]
    detector = load_cell_shelf.use_script(script)
    for i in range(3):
        send(load_cell_shelf, i)
    event = weight_event(load_cell_shelf, removed_g=45, at=T0 + 1.5)
    with django_capture_on_commit_callbacks(execute=True):
        shelf_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == "review"
    assert ReviewItem.objects.get(shelf_event=event).reason == "detection_disagrees"
    assert sorted(detector.seen) == [0, 1, 2]


@pytest.mark.django_db
def test_the_last_seen_frame_runs_the_detector_with_the_faces(load_cell_shelf, settings):
    from django.core.cache import cache

    from store.services.ondemand import last_seen_key

    settings.MINIGO = {**settings.MINIGO, "FACES_LAST_SEEN_EVERY_S": 60}
    # A shared cache (Redis) may still hold an earlier run's mark for this period.
    pk = load_cell_shelf.shelf_device.pk
    cache.delete_many([last_seen_key(device_pk=pk, captured_at=T0 + i) for i in (0, 1)])
    detector = load_cell_shelf.use_script([CRISPS] * 2)
    first, second = send(load_cell_shelf, 0), send(load_cell_shelf, 1)
    first.refresh_from_db()
    second.refresh_from_db()
    assert detector.seen == [0]
    assert first.result["detection"]["counts"]["A2"] == 2 and "faces_deferred" not in first.result
    assert second.result["faces_deferred"] is True
