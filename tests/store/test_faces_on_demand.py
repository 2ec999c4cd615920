"""A shelf frame's faces are computed only when a shelf event within its window needs them,
or now and then for "last seen"; gate frames always."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone
from PIL import Image

from store.models import CartEntry, Frame, ReviewItem, ShelfEvent, Visit
from store.services.events import event_store
from store.services.frames import frame_process, frame_store
from store.services.pixels import pixels_get
from store.services.shelf_events import shelf_event_process
from store.services.visits import visit_open


@pytest.fixture
def two_inside(store, visit, other_shopper):
    from store.models import Shopper

    Shopper.objects.update(face_consent=True)  # shelf cameras match consenting shoppers only
    return visit, visit_open(shopper=other_shopper, device=store.gate_in)[0]


@pytest.fixture
def no_last_seen(settings):
    settings.MINIGO = {**settings.MINIGO, "FACES_LAST_SEEN_EVERY_S": 0}


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), "gray").save(out, "JPEG")
    return out.getvalue()


def _frame(store, event_id, at) -> Frame:
    header = {"event_id": event_id, "camera": "0", "seq": 1, "ts": at.timestamp()}
    return frame_store(device=store.shelf_device, header=header, jpeg=_jpeg(), width=32,
                       height=24)[0]  # fmt: skip


def _faces_of(shopper):
    return [{"shopper": shopper.pk, "confidence": 0.95, "distance": 0.3, "x": 0.2}]


def test_a_shelf_frame_nobody_needs_is_not_analysed(store, two_inside, no_last_seen):
    frame = _frame(store, "f1", timezone.now())
    with mock.patch("store.services.faces.faces_identify") as identify:
        frame_process(frame_id=frame.pk)
    identify.assert_not_called()
    frame.refresh_from_db()
    assert frame.status == "applied" and frame.result["faces_deferred"] is True
    assert pixels_get(frame=frame) is not None  # held: an event may still ask for it


def test_a_frame_near_a_waiting_event_is_analysed_and_decides_it(
    store, two_inside, no_last_seen, django_capture_on_commit_callbacks
):
    kit, ana = two_inside
    now = timezone.now()
    msg = {"event_id": "e1", "slot": "A1", "sensor": "load_cell", "before": 4200.0,
           "after": 3850.0, "ts": now.timestamp()}  # fmt: skip
    event = event_store(device=store.shelf_device, msg=msg)[0]
    shelf_event_process(event_id=event.pk)  # two shoppers, no face: it waits
    # The camera's next frames show Ana at the shelf: once those of the moment are in, she is
    # the picker.
    for k, dt in enumerate((0.5, 1.0, 1.5)):
        frame = _frame(store, f"f{k}", now + timedelta(seconds=dt))
        with mock.patch("store.services.faces.faces_identify", return_value=_faces_of(ana.shopper)):
            with django_capture_on_commit_callbacks(execute=True):
                frame_process(frame_id=frame.pk)
        frame.refresh_from_db()
        assert "faces_deferred" not in frame.result
        assert frame.result["sightings"][0]["shopper"] == ana.shopper_id
    assert CartEntry.objects.get(shelf_event=event).visit_id == ana.pk


def test_an_event_that_starts_waiting_gets_the_deferred_frames_of_its_window(
    store, two_inside, no_last_seen, django_capture_on_commit_callbacks
):
    kit, ana = two_inside
    now = timezone.now()
    before = _frame(store, "f1", now - timedelta(seconds=0.5))
    far = _frame(store, "f0", now - timedelta(seconds=20))
    after = [
        _frame(store, f"a{k}", now + timedelta(seconds=dt)) for k, dt in enumerate((0.5, 1.0, 1.5))
    ]
    with mock.patch("store.services.faces.faces_identify") as identify:
        for frame in (before, far, *after):
            frame_process(frame_id=frame.pk)
    identify.assert_not_called()
    msg = {"event_id": "e1", "slot": "A1", "sensor": "load_cell", "before": 4200.0,
           "after": 3850.0, "ts": now.timestamp()}  # fmt: skip
    event = event_store(device=store.shelf_device, msg=msg)[0]
    with mock.patch("store.services.faces.faces_identify", return_value=_faces_of(kit.shopper)):
        with django_capture_on_commit_callbacks(execute=True):
            shelf_event_process(event_id=event.pk)
    before.refresh_from_db()
    far.refresh_from_db()
    assert before.status == "applied" and before.result["sightings"][0]["shopper"] == kit.shopper_id
    assert far.result["faces_deferred"] is True  # outside the window: still not analysed
    assert ShelfEvent.objects.get(pk=event.pk).status == "applied"
    assert CartEntry.objects.get(shelf_event=event).visit_id == kit.pk


def test_one_frame_per_period_of_capture_time_keeps_last_seen_moving(store, two_inside, settings):
    settings.MINIGO = {**settings.MINIGO, "FACES_LAST_SEEN_EVERY_S": 60}
    cache.clear()
    Visit.objects.update(entered_at=timezone.now() - timedelta(hours=1))
    # The periods follow the frames' capture times, not the clock that processes them.
    start = datetime.fromtimestamp((timezone.now().timestamp() // 60 - 10) * 60 + 1, tz=UTC)
    first, second = _frame(store, "f1", start), _frame(store, "f2", start + timedelta(seconds=30))
    next_period = _frame(store, "f3", start + timedelta(seconds=60))
    with mock.patch("store.services.faces.faces_identify", return_value=[]) as identify:
        frame_process(frame_id=first.pk)
        frame_process(frame_id=second.pk)
        frame_process(frame_id=next_period.pk)
    assert identify.call_count == 2
    for frame, deferred in ((first, False), (second, True), (next_period, False)):
        frame.refresh_from_db()
        assert bool(frame.result.get("faces_deferred")) is deferred, frame.event_id


def test_gate_frames_are_always_analysed(store, no_last_seen):
    header = {"event_id": "g1", "camera": "0", "seq": 1, "ts": timezone.now().timestamp()}
    frame = frame_store(device=store.gate_in, header=header, jpeg=_jpeg(), width=32, height=24)[0]
    with mock.patch("store.services.gates.face_identify", return_value=[]) as identify:
        frame_process(frame_id=frame.pk)
    identify.assert_called_once()


def test_a_synthetic_frame_follows_the_same_rule(
    store, two_inside, no_last_seen, settings, django_capture_on_commit_callbacks
):
    settings.MINIGO = {**settings.MINIGO, "ACCEPT_SEES": True}
    kit, ana = two_inside
    now = timezone.now()
    for k, dt in enumerate((-0.4, 0.1, 0.6, 1.1, 1.6)):
        frame = Frame.objects.create(
            device=store.shelf_device, event_id=f"f{k}", captured_at=now + timedelta(seconds=dt),
            width=1, height=1, result={"sees": {"shoppers": ["ana"]}},
        )  # fmt: skip
        frame_process(frame_id=frame.pk)
        frame.refresh_from_db()
        assert frame.result["faces_deferred"] is True
        assert frame.result["sees"] == {"shoppers": ["ana"]}
    msg = {"event_id": "e1", "slot": "A1", "sensor": "load_cell", "before": 4200.0,
           "after": 3850.0, "ts": now.timestamp()}  # fmt: skip
    event = event_store(device=store.shelf_device, msg=msg)[0]
    with django_capture_on_commit_callbacks(execute=True):
        shelf_event_process(event_id=event.pk)
    assert CartEntry.objects.get(shelf_event=event).visit_id == ana.pk


def _gray_frame(store, event_id, at, level: int) -> Frame:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (level, level, level)).save(out, "JPEG", quality=95)
    header = {"event_id": event_id, "camera": "0", "seq": 1, "ts": at.timestamp()}
    return frame_store(device=store.shelf_device, header=header, jpeg=out.getvalue(), width=32,
                       height=24)[0]  # fmt: skip


def _pick(store, at):
    msg = {"event_id": "e1", "slot": "A1", "sensor": "load_cell", "before": 4200.0,
           "after": 3850.0, "ts": at.timestamp()}  # fmt: skip
    return event_store(device=store.shelf_device, msg=msg)[0]


def test_the_frames_nearest_the_pick_are_analysed_first_and_the_rest_only_if_still_in_doubt(
    store, two_inside, no_last_seen, django_capture_on_commit_callbacks
):
    kit, ana = two_inside
    now = timezone.now()
    # A camera sending two frames a second, from 2.75 s before the pick to 2.75 s after.
    offsets = {f"f{k}": k / 2 - 2.75 for k in range(12)}
    frames = {
        name: _frame(store, name, now + timedelta(seconds=dt)) for name, dt in offsets.items()
    }
    with mock.patch("store.services.faces.faces_identify") as identify:
        for frame in frames.values():
            frame_process(frame_id=frame.pk)
    identify.assert_not_called()
    event = _pick(store, now)
    with mock.patch(
        "store.services.faces.faces_identify", return_value=_faces_of(ana.shopper)
    ) as identify:
        with django_capture_on_commit_callbacks(execute=True):
            shelf_event_process(event_id=event.pk)
    # The picker was caught in the act, nobody else about, in the frames of the moment (those
    # within a second and a quarter of the pick: two rounds of the nearest two).
    assert identify.call_count == 4
    assert CartEntry.objects.get(shelf_event=event).visit_id == ana.pk
    deferred = {
        n for n, f in frames.items() if Frame.objects.get(pk=f.pk).result.get("faces_deferred")
    }
    assert deferred == {n for n, dt in offsets.items() if abs(dt) > 1.0}


def test_an_event_still_in_doubt_after_the_nearest_frames_asks_for_the_next_ones(
    store, two_inside, no_last_seen, django_capture_on_commit_callbacks
):
    kit, ana = two_inside
    now = timezone.now()
    # Nobody in the two frames next to the pick (grey 40); the picker in the next one (200);
    # nobody in the frames after it.
    shots = [("n1", -0.1, 40), ("n2", 0.1, 40), ("f1", -0.4, 200)]
    shots += [(f"a{k}", dt, 40) for k, dt in enumerate((0.6, 1.1, 1.6))]
    for name, dt, level in shots:
        frame = _gray_frame(store, name, now + timedelta(seconds=dt), level)
        frame_process(frame_id=frame.pk)
    event = _pick(store, now)

    def identify(*, rgb, shopper_ids, outside=False):
        return _faces_of(kit.shopper) if rgb.mean() > 120 else []

    with mock.patch("store.services.faces.faces_identify", side_effect=identify) as called:
        with django_capture_on_commit_callbacks(execute=True):
            shelf_event_process(event_id=event.pk)
    assert called.call_count == 6  # three rounds: the nearest two, the next two, the last two
    assert not Frame.objects.filter(result__faces_deferred=True).exists()
    assert CartEntry.objects.get(shelf_event=event).visit_id == kit.pk


def test_a_shopper_no_gate_saw_come_in_is_inside_once_seen_clearly_at_a_shelf(
    store, two_inside, make_user, no_last_seen, django_capture_on_commit_callbacks
):
    from store.models import Shopper

    kit, ana = two_inside
    # Sam walked in while the entry camera missed every frame of them.
    sam = make_user("sam").shopper
    Shopper.objects.filter(pk=sam.pk).update(face_consent=True)
    now = timezone.now() - timedelta(seconds=2)
    msg = {"event_id": "e1", "slot": "A1", "sensor": "load_cell", "before": 4200.0,
           "after": 3850.0, "ts": now.timestamp()}  # fmt: skip
    event = event_store(device=store.shelf_device, msg=msg)[0]
    shelf_event_process(event_id=event.pk)
    frame = _frame(store, "f1", now + timedelta(seconds=0.5))
    doubtful = [{"shopper": sam.pk, "confidence": 0.6, "distance": 0.49, "x": 0.2}]
    with mock.patch("store.services.faces.faces_identify", return_value=doubtful) as identify:
        with django_capture_on_commit_callbacks(execute=True):
            frame_process(frame_id=frame.pk)
    # Shelf vision also matches faces nobody inside matches against everyone enrolled.
    assert identify.call_args.kwargs["outside"] is True
    assert not Visit.objects.filter(shopper=sam).exists()  # a doubtful match opens nothing
    again = _frame(store, "f2", now + timedelta(seconds=0.2))
    with mock.patch("store.services.faces.faces_identify", return_value=_faces_of(sam)):
        with django_capture_on_commit_callbacks(execute=True):
            frame_process(frame_id=again.pk)
    visit = Visit.objects.get(shopper=sam)
    assert visit.status == "open" and visit.entry_method == "shelf"
    assert visit.entry_device_id == store.shelf_device.pk
    assert visit.entered_at == now + timedelta(seconds=0.2)
    shelf_event_process(event_id=event.pk, final=True)
    assert CartEntry.objects.get(shelf_event=event).visit_id == visit.pk


def test_an_early_decision_waits_for_the_deferred_frames_just_before_the_pick(
    store, two_inside, no_last_seen, django_capture_on_commit_callbacks
):
    from store.services.calibration import slot_calibrate
    from tests.store.test_attribution import _seen, _steady_camera

    kit, ana = two_inside
    now = timezone.now()
    slot_calibrate(slot=store.a1, reach=[0.1, 0.4])
    _steady_camera(store, kit, now)
    # A frame a third of a second before the pick arrived and was deferred: it shows Ana
    # plainly in front of the slot. Kit is caught plainly in front of it a moment after.
    before = _frame(store, "f1", now - timedelta(seconds=0.3))
    frame_process(frame_id=before.pk)
    before.refresh_from_db()
    assert before.result["faces_deferred"] is True
    _seen(store, kit, now + timedelta(seconds=0.1), x=0.3)
    event = _pick(store, now)
    with mock.patch("store.services.faces.faces_identify", return_value=_faces_of(ana.shopper)):
        with django_capture_on_commit_callbacks(execute=True):
            shelf_event_process(event_id=event.pk)
    before.refresh_from_db()
    assert before.result["sightings"][0]["shopper"] == ana.shopper_id
    # Two people plainly in front of the slot at the moment: nobody is charged yet.
    assert not CartEntry.objects.filter(shelf_event=event).exists()
    with django_capture_on_commit_callbacks(execute=True):
        shelf_event_process(event_id=event.pk, final=True)
    event.refresh_from_db()
    assert event.status == "review"
    item = ReviewItem.objects.get(shelf_event=event)
    assert {c["shopper"] for c in item.candidates[:2]} == {kit.shopper_id, ana.shopper_id}
