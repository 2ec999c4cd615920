"""Under a worker backlog, a doubtful pick waits for its camera's queued frames instead of
being decided without them and sent to review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from store.models import CartEntry, Frame, ReviewItem, Sighting
from store.services import pace
from store.services.events import event_store
from store.services.shelf_events import shelf_event_process
from store.services.visits import visit_open


@pytest.fixture
def two_inside(store, visit, other_shopper):
    ana = visit_open(shopper=other_shopper, device=store.gate_in)[0]
    for v in (visit, ana):
        type(v).objects.filter(pk=v.pk).update(entered_at=timezone.now() - timedelta(minutes=5))
    return visit, ana


def _pick(store, at):
    msg = {"event_id": "e1", "slot": "A1", "sensor": "load_cell", "before": 4200,
           "after": 3850, "ts": at.timestamp()}  # fmt: skip
    return event_store(device=store.shelf_device, msg=msg)[0]


def _queued_frame(store, at) -> Frame:
    return Frame.objects.create(
        device=store.shelf_device, event_id="f1", captured_at=at, width=16, height=16
    )


def test_a_doubtful_pick_waits_for_its_cameras_queued_frames(store, two_inside):
    kit, ana = two_inside
    at = timezone.now() - timedelta(seconds=30)  # its window closed long ago
    frame = _queued_frame(store, at + timedelta(seconds=0.5))
    event = _pick(store, at)
    shelf_event_process(event_id=event.pk, final=True)
    event.refresh_from_db()
    assert event.status == "pending" and not ReviewItem.objects.exists()
    # The frame is processed: Ana was at the shelf. Now the pick is hers.
    Sighting.objects.create(
        device=store.shelf_device, frame=frame, shopper=ana.shopper, visit=ana,
        seen_at=frame.captured_at, confidence=1.0,
    )  # fmt: skip
    Frame.objects.filter(pk=frame.pk).update(status="applied")
    shelf_event_process(event_id=event.pk, final=True)
    event.refresh_from_db()
    assert event.status == "applied"
    assert CartEntry.objects.get(shelf_event=event).visit_id == ana.pk


def test_the_wait_for_queued_frames_is_bounded(store, two_inside, monkeypatch):
    monkeypatch.setattr(pace, "FRAME_BACKLOG_WAIT_S", 10)
    at = timezone.now() - timedelta(seconds=30)
    _queued_frame(store, at)  # never processed
    event = _pick(store, at)
    shelf_event_process(event_id=event.pk, final=True)
    event.refresh_from_db()
    assert event.status == "review"  # decided, in doubt: a person looks at it
    assert ReviewItem.objects.get(shelf_event=event).reason == "who_unknown"


def test_a_visit_starts_when_the_gate_saw_the_shopper_not_when_a_worker_got_to_it(store, shopper):
    seen = timezone.now() - timedelta(seconds=40)  # the gate frame waited in a backlog
    visit, created = visit_open(shopper=shopper, device=store.gate_in, at=seen)
    assert created and visit.entered_at == seen


def test_a_gate_clock_ahead_never_opens_a_visit_in_the_future(store, shopper):
    visit, _ = visit_open(
        shopper=shopper, device=store.gate_in, at=timezone.now() + timedelta(hours=1)
    )
    assert visit.entered_at <= timezone.now()
