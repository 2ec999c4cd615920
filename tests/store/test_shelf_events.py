from __future__ import annotations

import time

import pytest

from store.models import CartEntry, ReviewItem, ShelfEvent
from store.services.events import event_store
from store.services.shelf_events import count_change, shelf_event_process


def _event(
    store, event_id: str, before: float, after: float, slot: str = "A1", ts: float | None = None
):
    msg = {
        "event_id": event_id,
        "slot": slot,
        "sensor": "load_cell",
        "before": before,
        "after": after,
        "ts": ts if ts is not None else time.time(),
    }
    return event_store(device=store.shelf_device, msg=msg)


@pytest.mark.parametrize(
    "before,after,delta,explained",
    [
        (4200, 3850, 1, True),
        (4200, 3500, 2, True),
        (3850, 4200, -1, True),
        (4200, 4195, 0, True),
        (4200, 4020, 1, False),
        (4200, 3838, 1, True),
    ],
)
def test_weight_changes_count_items(store, before, after, delta, explained):
    count = count_change(slot=store.a1, sensor="load_cell", before=before, after=after)
    assert (count.delta, count.explained) == (delta, explained)


def test_the_only_shopper_in_the_store_gets_the_item(
    store, visit, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event, created = _event(store, "e1", 4200, 3850)
    assert created
    event.refresh_from_db()
    assert event.status == "applied"
    entry = CartEntry.objects.get(shelf_event=event)
    assert (entry.visit_id, entry.quantity) == (visit.pk, 1)


def test_processing_twice_applies_once(store, visit):
    event, _ = _event(store, "e1", 4200, 3850)
    shelf_event_process(event_id=event.pk)
    shelf_event_process(event_id=event.pk)
    assert CartEntry.objects.filter(shelf_event=event).count() == 1
    store.a1.refresh_from_db()
    assert store.a1.stock == 11


def test_a_repeated_event_id_is_stored_once(store, visit):
    ts = time.time()
    _, created = _event(store, "e1", 4200, 3850, ts=ts)
    _, created_again = _event(store, "e1", 4200, 3850, ts=ts)
    assert created and not created_again
    assert ShelfEvent.objects.count() == 1


def test_a_repeat_with_other_readings_is_refused(store, visit):
    from store.errors import DomainError

    _event(store, "e1", 4200, 3850)
    with pytest.raises(DomainError) as err:
        _event(store, "e1", 4200, 3500)
    assert err.value.code == "event_conflict"
    assert ShelfEvent.objects.get().after == 3850


def test_two_shoppers_and_no_other_evidence_go_to_review(store, visit, other_shopper):
    from store.services.visits import visit_open

    visit_open(shopper=other_shopper)
    event, _ = _event(store, "e1", 4200, 3850)
    shelf_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == "pending"  # the camera's window is still open: it waits
    shelf_event_process(event_id=event.pk, final=True)
    event.refresh_from_db()
    assert event.status == "review"
    item = ReviewItem.objects.get(shelf_event=event)
    assert item.reason == "who_unknown" and len(item.candidates) == 2
    assert not CartEntry.objects.exists()


def test_an_unexplained_weight_goes_to_review(store, visit):
    event, _ = _event(store, "e1", 4200, 4020)
    shelf_event_process(event_id=event.pk)
    # It waits its moment first: the next reading may undo it (a knock of the shelf).
    event.refresh_from_db()
    assert event.status == "pending" and event.result["waiting"] == "settle_back"
    shelf_event_process(event_id=event.pk, final=True)
    assert ReviewItem.objects.get(shelf_event=event).reason == "weight_unexplained"
    assert not CartEntry.objects.exists()


@pytest.mark.parametrize(
    "before,after,status,reason",
    [
        (4200, 4210, "ignored", None),  # within the cola's 15 g: the scale's noise
        (4200, 4260, "review", "weight_unexplained"),  # 60 g more: something was put down
        (4200, 4140, "review", "weight_unexplained"),  # 60 g less: something was taken
    ],
)
def test_more_than_the_tolerance_that_nothing_explains_goes_to_a_person(
    store, visit, before, after, status, reason
):
    # Nobody holds a product that weighs 60 g, and the cola weighs 350 g: an item whose taker
    # nobody could name put down here, or something of a shopper's own. Not jitter.
    event, _ = _event(store, "e1", before, after)
    shelf_event_process(event_id=event.pk, final=True)
    event.refresh_from_db()
    assert event.status == status
    items = ReviewItem.objects.filter(shelf_event=event)
    assert [i.reason for i in items] == ([reason] if reason else [])
    assert not CartEntry.objects.exists()


def test_an_unknown_slot_is_refused(store):
    from store.errors import DomainError

    with pytest.raises(DomainError) as err:
        _event(store, "e1", 4200, 3850, slot="Z9")
    assert err.value.code == "unknown_slot"
    assert not ShelfEvent.objects.exists()


def test_a_late_shelfs_event_waits_for_the_frames_that_follow_it(store, visit, other_shopper):
    from datetime import timedelta

    from django.utils import timezone

    from store.models import Sighting, Visit
    from store.services.shelf_events import shelf_events_settle
    from store.services.visits import visit_open

    visit_open(shopper=other_shopper, device=store.gate_in)
    # The shelf was offline: its pick happened 20 s ago and reaches the server only now. Its
    # camera's frames of the moment come next, in order; the clock must not close the window
    # before they could arrive.
    happened = timezone.now() - timedelta(seconds=20)
    Visit.objects.update(entered_at=happened - timedelta(seconds=60))
    event, _ = _event(store, "e1", 4200, 3850, ts=happened.timestamp())
    shelf_event_process(event_id=event.pk)
    assert shelf_events_settle(now=timezone.now()) == 0
    event.refresh_from_db()
    assert event.status == "pending"
    Sighting.objects.create(
        device=store.shelf_device,
        shopper=visit.shopper,
        visit=visit,
        seen_at=happened + timedelta(seconds=0.6),
        confidence=1.0,
    )
    shelf_event_process(event_id=event.pk)
    event.refresh_from_db()
    if event.status == "pending":  # no later frame closed the window: the deadline does
        assert shelf_events_settle(now=timezone.now() + timedelta(seconds=10)) == 1
        event.refresh_from_db()
    assert event.status == "applied"
    assert CartEntry.objects.get(shelf_event=event).visit_id == visit.pk
