"""The product detector on shelf frames: camera-only slots, the detector's check of load-cell
picks, models that fail, and the frames kept as training data."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import pytest

from store.models import (
    CartEntry,
    DatasetImage,
    DetectorModel,
    Frame,
    ReviewItem,
    ShelfEvent,
    Slot,
)
from store.replay.frames import sees_jpeg
from store.services import detection, detectors
from store.services.frames import frame_process, frame_store
from store.services.shelf_events import shelf_event_process
from tests.conftest import at_once, needs_postgres
from tests.store.detection_support import (
    CHIPS,
    COLA,
    HAND,
    NAMES,
    T0,
    THREE,
    TWO,
    box,
    entered_before_the_frames,
    send,
    weight_event,
)


@pytest.fixture
def visit(visit):
    return entered_before_the_frames(visit)


@pytest.mark.django_db
def test_a_hand_taking_a_cola_from_a_camera_only_slot_is_a_take_then_a_return(
    camera_shelf, visit, django_capture_on_commit_callbacks
):
    camera_shelf.use_script(
        [
            THREE,  # 0: before
            [*THREE, box(HAND, 10, 0)],  # 1: a hand reaches in
            [*TWO, box(HAND, 20, 0)],  # 2: and leaves with a cola
            TWO,  # 3: after: one fewer
            [*TWO, box(HAND, 20, 0)],  # 4: a hand puts it back
            THREE,  # 5: after
            [*THREE, box(COLA, 40)],  # 6: a cola on the right half is not in A1's region
        ]
    )
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(7):
            send(camera_shelf, i)
    events = list(ShelfEvent.objects.order_by("occurred_at"))
    assert [(e.sensor, e.slot_code, e.before, e.after) for e in events] == [
        ("camera", "A1", 3, 2),
        ("camera", "A1", 2, 3),
    ]
    assert [e.status for e in events] == ["applied", "applied"]
    # The event time is when the hand was last seen.
    assert events[0].occurred_at.timestamp() == T0 + 2
    entries = list(CartEntry.objects.filter(visit=visit).order_by("id"))
    assert [(e.kind, e.product_id, e.quantity) for e in entries] == [
        ("take", camera_shelf.cola.pk, 1),
        ("return", camera_shelf.cola.pk, -1),  # returns are signed in the ledger
    ]
    camera_shelf.a1.refresh_from_db()
    assert camera_shelf.a1.stock == 12
    assert Frame.objects.get(event_id="f6").result["detection"]["counts"] == {"A1": 3, "A2": 0}


@pytest.mark.django_db
def test_frames_processed_out_of_order_give_one_event(
    camera_shelf, visit, django_capture_on_commit_callbacks
):
    camera_shelf.use_script([THREE, [*THREE, box(HAND, 10, 0)], TWO])
    frames = [send(camera_shelf, i, process=False) for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        # The "after" frame first: it must wait for the hand frame between.
        frame_process(frame_id=frames[2].pk)
        assert not ShelfEvent.objects.exists()
        frame_process(frame_id=frames[0].pk)
        assert not ShelfEvent.objects.exists()
        frame_process(frame_id=frames[1].pk)
        frame_process(frame_id=frames[1].pk)  # a repeat changes nothing
    assert ShelfEvent.objects.count() == 1
    assert CartEntry.objects.get(visit=visit).quantity == 1


@pytest.mark.django_db
def test_no_hand_means_no_event_even_when_counts_flicker(camera_shelf):
    camera_shelf.use_script([THREE, TWO, THREE])
    for i in range(3):
        send(camera_shelf, i)
    assert not ShelfEvent.objects.exists()


@pytest.mark.django_db
def test_a_shelf_without_a_detector_is_left_alone(store):
    send(store, 0)
    assert "detection" not in Frame.objects.get().result  # sightings may still be recorded


@pytest.mark.django_db
def test_the_real_model_runs_on_shelf_frames_and_kept_frames_become_training_data(
    camera_shelf, settings
):
    settings.MINIGO = {**settings.MINIGO, "KEEP_FRAMES": True}
    frame = send(camera_shelf, 1)  # the constant model: one cola at the centre
    result = Frame.objects.get(pk=frame.pk).result["detection"]
    assert [(d["label"], d["box"]) for d in result["detections"]] == [
        ("cocacola", [28.0, 20.0, 36.0, 28.0])
    ]
    assert result["counts"] == {"A1": 0, "A2": 0}  # its centre x 0.5 is outside A1's region
    image = DatasetImage.objects.get()
    assert (image.source, image.reviewed, image.frame_id) == ("frame", False, frame.pk)
    assert [(b.label, b.x_min, b.confidence) for b in image.boxes.all()] == [
        ("cocacola", 28.0, pytest.approx(0.9))
    ]


@pytest.mark.django_db
def test_frames_are_not_kept_as_training_data_unless_configured(camera_shelf):
    send(camera_shelf, 1)
    assert not DatasetImage.objects.exists()
    assert Frame.objects.get().jpeg is None


@pytest.mark.django_db
def test_a_weight_event_the_camera_disagrees_with_is_reported(camera_shelf):
    crisps = [box(CHIPS, 40), box(CHIPS, 50)]
    camera_shelf.use_script([crisps, [*crisps, box(HAND, 40, 0)], crisps])
    for i in range(3):
        send(camera_shelf, i)
    # The load cell says one bag of crisps (45 g) left; the camera still sees two.
    event = weight_event(camera_shelf, removed_g=45, at=T0 + 1.5)
    assert detection.detection_check_weight(event=event) == {
        "reason": "detection_disagrees",
        "sensor_delta": 1,
        "camera_delta": 0,
        "seen_before": 2,
        "seen_after": 2,
        "frames": [Frame.objects.get(event_id="f0").pk, Frame.objects.get(event_id="f2").pk],
    }


@pytest.mark.django_db
def test_a_weight_event_the_camera_agrees_with_passes(camera_shelf):
    crisps = [box(CHIPS, 40), box(CHIPS, 50)]
    camera_shelf.use_script([crisps, [box(HAND, 40, 0)], crisps[:1]])
    for i in range(3):
        send(camera_shelf, i)
    assert (
        detection.detection_check_weight(
            event=weight_event(camera_shelf, removed_g=45, at=T0 + 1.5)
        )
        is None
    )


@pytest.mark.django_db
def test_without_camera_evidence_the_weight_stands(camera_shelf, store):
    # No frames at all around the event.
    assert detection.detection_check_weight(event=weight_event(store, removed_g=45, at=T0)) is None
    # A shelf without a detector.
    store.shelf.detector = None
    store.shelf.save()
    assert (
        detection.detection_check_weight(event=weight_event(store, removed_g=45, at=T0 + 1)) is None
    )


@pytest.mark.django_db
def test_synthetic_frames_count_by_sku(camera_shelf, visit, django_capture_on_commit_callbacks):
    frames = [send(camera_shelf, i, process=False) for i in range(3)]
    seen = [({"COLA": 4}, False), ({"COLA": 4}, True), ({"COLA": 3}, False)]
    with django_capture_on_commit_callbacks(execute=True):
        for frame, (products, hand) in zip(frames, seen):
            analysis = detection.detection_analysis_from_counts(products=products, hand=hand)
            result = detection.shelf_frame_apply(frame=frame, analysis=analysis)
            Frame.objects.filter(pk=frame.pk).update(status="applied", result=result)
    event = ShelfEvent.objects.get()
    assert (event.sensor, event.before, event.after, event.status) == ("camera", 4, 3, "applied")
    assert not ReviewItem.objects.exists()


@pytest.mark.django_db
def test_a_model_that_cannot_load_leaves_the_frame_processed(camera_shelf, monkeypatch):
    from vision.detect import ModelError

    def broken(*, model):
        raise ModelError("model_unloadable", "gone")

    monkeypatch.setattr(detectors, "detector_load", broken)
    frame = send(camera_shelf, 0)
    frame.refresh_from_db()
    assert frame.status == "applied"
    assert frame.result["detection"]["error"] == "detector_unavailable"


@pytest.mark.django_db
def test_the_loaded_detector_is_cached_until_the_model_changes(camera_shelf):
    model = DetectorModel.objects.get()
    first = detectors.detector_load(model=model)
    assert detectors.detector_load(model=model) is first
    model.confidence = 0.5
    model.save()
    assert detectors.detector_load(model=model) is not first


@needs_postgres()
@pytest.mark.django_db(transaction=True)
def test_neighbouring_frames_applied_at_once_by_two_workers_give_one_event(
    camera_shelf, monkeypatch
):
    import time

    from store import tasks

    camera_shelf.use_script([THREE, [*THREE, box(HAND, 10, 0)], TWO])
    with monkeypatch.context() as m:
        m.setattr(tasks.process_frame, "delay", lambda frame_id: None)  # the workers below
        frames = [send(camera_shelf, i, process=False) for i in range(3)]
    frame_process(frame_id=frames[0].pk)
    # Hold both applies open together, so both are past their frame lock before either
    # looks at its neighbour.
    counts = detection._slot_counts

    def slow_counts(*args):
        time.sleep(0.5)
        return counts(*args)

    monkeypatch.setattr(detection, "_slot_counts", slow_counts)
    _, errors = at_once(*[partial(frame_process, frame_id=f.pk) for f in frames[1:]])
    assert errors == []
    # Without the shelf lock each worker could miss the other's frame and count nothing.
    assert list(ShelfEvent.objects.values_list("before", "after")) == [(3.0, 2.0)]


@pytest.mark.django_db
def test_a_model_that_fails_on_a_frame_leaves_it_processed_not_stuck(camera_shelf, monkeypatch):
    class Failing:
        class_names = NAMES

        def detect(self, rgb):
            raise RuntimeError("onnxruntime: bad things")

    monkeypatch.setattr(detectors, "detector_load", lambda *, model: Failing())
    frame = send(camera_shelf, 0)
    frame.refresh_from_db()
    assert (frame.status, frame.result["detection"]["error"]) == ("applied", "detection_failed")


# --- the camera's counts in the decision path ----------------------------------------------
@pytest.mark.django_db
def test_a_load_cell_pick_the_camera_contradicts_goes_to_review(camera_shelf, visit):
    crisps = [box(CHIPS, 40), box(CHIPS, 50)]
    camera_shelf.use_script([crisps, [*crisps, box(HAND, 40, 0)], crisps])
    for i in range(3):
        send(camera_shelf, i)
    # The load cell says a bag of crisps left A2; the camera still sees both bags there.
    event = weight_event(camera_shelf, removed_g=45, at=T0 + 1.5, event_id="w1")
    shelf_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == "review"
    item = ReviewItem.objects.get(shelf_event=event)
    assert item.reason == "detection_disagrees"
    assert (item.evidence["sensor_delta"], item.evidence["camera_delta"]) == (1, 0)
    assert item.candidates and item.candidates[0]["visit"] == visit.pk
    assert not CartEntry.objects.exists()


@pytest.mark.django_db
def test_a_load_cell_pick_the_camera_confirms_is_charged(camera_shelf, visit):
    crisps = [box(CHIPS, 40), box(CHIPS, 50)]
    camera_shelf.use_script([crisps, [box(HAND, 40, 0)], crisps[:1]])
    for i in range(3):
        send(camera_shelf, i)
    event = weight_event(camera_shelf, removed_g=45, at=T0 + 1.5, event_id="w1")
    shelf_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == "applied"
    assert CartEntry.objects.get(shelf_event=event).visit_id == visit.pk


@pytest.mark.django_db
def test_a_pick_waits_for_the_cameras_frame_after_it_before_it_is_charged(
    camera_shelf, visit, monkeypatch
):
    from store.services import shelf_events

    # The decision is made moments after the pick (T0 lies in the past).
    moment = datetime.fromtimestamp(T0 + 0.6, tz=UTC)
    monkeypatch.setattr(shelf_events.timezone, "now", lambda: moment)
    crisps = [box(CHIPS, 40), box(CHIPS, 50)]
    camera_shelf.use_script([crisps, [*crisps, box(HAND, 40, 0)], crisps])
    send(camera_shelf, 0)
    event = weight_event(camera_shelf, removed_g=45, at=T0 + 0.5, event_id="w1")
    shelf_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == "pending"  # the camera may yet disagree
    for i in (1, 2):
        send(camera_shelf, i)
    shelf_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == "review"
    assert ReviewItem.objects.get(shelf_event=event).reason == "detection_disagrees"


def _sees_frame(store, i: int, products: dict, *, hand: bool = False):
    frame, _ = frame_store(
        device=store.shelf_device,
        header={
            "event_id": f"s{i}",
            "camera": "0",
            "seq": i,
            "ts": T0 + i,
            "sees": {"shoppers": [], "products": products, **({"hand": True} if hand else {})},
        },
        jpeg=sees_jpeg(),
        width=16,
        height=16,
    )
    frame_process(frame_id=frame.pk)
    return frame


@pytest.mark.django_db(transaction=True)
def test_sees_products_count_a_camera_only_slot_like_real_detections(store, shopper, settings):
    from store.services.visits import visit_open

    settings.MINIGO = {**settings.MINIGO, "ACCEPT_SEES": True}
    Slot.objects.filter(pk=store.a1.pk).update(sensor="camera")
    inside, _ = visit_open(shopper=shopper, device=store.gate_in)
    type(inside).objects.filter(pk=inside.pk).update(
        entered_at=datetime.fromtimestamp(T0 - 60, tz=UTC)
    )
    _sees_frame(store, 0, {"COLA": 3})
    _sees_frame(store, 1, {"COLA": 3}, hand=True)
    _sees_frame(store, 2, {"COLA": 2})
    event = ShelfEvent.objects.get(sensor="camera")
    assert (event.slot_code, event.before, event.after) == ("A1", 3.0, 2.0)
    assert event.status == "applied"
    entry = CartEntry.objects.get(shelf_event=event)
    assert (entry.visit_id, entry.product.sku, entry.quantity) == (inside.pk, "COLA", 1)
