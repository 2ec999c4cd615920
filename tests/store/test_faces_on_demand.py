"""A shelf frame's faces are computed only when a shelf event within its window needs them,
or now and then for "last seen"; gate frames always."""

from __future__ import annotations

import io
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone
from PIL import Image

from store.models import CartEntry, Frame, ShelfEvent
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
    frame = _frame(store, "f1", now + timedelta(seconds=0.5))
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
    with mock.patch("store.services.faces.faces_identify") as identify:
        frame_process(frame_id=before.pk)
        frame_process(frame_id=far.pk)
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


def test_one_frame_per_shelf_now_and_then_keeps_last_seen_moving(store, two_inside, settings):
    settings.MINIGO = {**settings.MINIGO, "FACES_LAST_SEEN_EVERY_S": 60}
    # The periods are of capture time: three frames, the first two in one minute.
    start = (timezone.now().timestamp() // 60 - 2) * 60 + 10
    for period in (start // 60, start // 60 + 1):
        cache.delete(f"faces-last-seen:{store.shelf_device.pk}:{int(period)}")
    at = timezone.now() + timedelta(seconds=start - timezone.now().timestamp())
    first, second, third = (
        _frame(store, "f1", at),
        _frame(store, "f2", at + timedelta(seconds=0.5)),
        _frame(store, "f3", at + timedelta(seconds=60)),
    )
    with mock.patch("store.services.faces.faces_identify", return_value=[]):
        # Processed out of order (a backlog): still decided by when each was captured.
        for frame in (first, third, second):
            frame_process(frame_id=frame.pk)
    deferred = [
        Frame.objects.get(pk=f.pk).result.get("faces_deferred") for f in (first, second, third)
    ]
    assert deferred == [None, True, None]


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
    frame = Frame.objects.create(
        device=store.shelf_device, event_id="f1", captured_at=now - timedelta(seconds=0.4),
        width=1, height=1, result={"sees": {"shoppers": ["ana"]}},
    )  # fmt: skip
    frame_process(frame_id=frame.pk)
    frame.refresh_from_db()
    assert frame.result["faces_deferred"] is True and frame.result["sees"] == {"shoppers": ["ana"]}
    msg = {"event_id": "e1", "slot": "A1", "sensor": "load_cell", "before": 4200.0,
           "after": 3850.0, "ts": now.timestamp()}  # fmt: skip
    event = event_store(device=store.shelf_device, msg=msg)[0]
    with django_capture_on_commit_callbacks(execute=True):
        shelf_event_process(event_id=event.pk)
    assert CartEntry.objects.get(shelf_event=event).visit_id == ana.pk
