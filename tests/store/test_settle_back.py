"""A scale that reads as before moments later (a knock, something leant on the shelf and
lifted off): nothing moved, nobody is charged, the manager has nothing to decide."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from store.models import CartEntry, ReviewItem
from store.services.carts import cart_take
from store.services.shelf_events import shelf_events_settle
from tests.store.test_attribution import _event, _process


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


@pytest.mark.parametrize("dip,back", [((4200, 4020), (4021, 4195)), ((4200, 4330), (4326, 4204))])
def test_a_knock_that_settles_back_moments_later_charges_nobody_and_asks_nobody(
    store, two_inside, dip, back
):
    now = timezone.now()
    # 180 g off the colas' scale (half a cola: no number of colas), or 130 g on it, then
    # back to within the cola's tolerance of where it was 1.5 s later.
    first = _process(_event(store, "e1", *dip, at=now))
    assert first.status == "pending" and first.result["waiting"] == "settle_back"
    second = _process(_event(store, "e2", *back, at=now + _s(1.5)))
    first.refresh_from_db()
    assert (first.status, second.status) == ("ignored", "ignored")
    assert first.result["settled_back"] is True and second.result["of"] == first.pk
    shelf_events_settle(now=now + _s(30))
    assert not ReviewItem.objects.exists()
    assert not CartEntry.objects.exists()
    store.a1.refresh_from_db()
    assert store.a1.stock == 12


def test_a_change_nothing_undoes_goes_to_review_once_its_moment_has_passed(store, two_inside):
    now = timezone.now()
    first = _process(_event(store, "e1", 4200, 4020, at=now))
    assert first.status == "pending"
    shelf_events_settle(now=now + _s(30))
    first.refresh_from_db()
    assert first.status == "review"
    assert ReviewItem.objects.get(shelf_event=first).reason == "weight_unexplained"


def test_a_reading_back_after_the_review_opened_closes_that_review(store, two_inside):
    now = timezone.now()
    first = _process(_event(store, "e1", 4200, 4020, at=now), final=True)
    item = ReviewItem.objects.get(shelf_event=first)
    assert item.status == "open"
    second = _process(_event(store, "e2", 4020, 4200, at=now + _s(6)))
    item.refresh_from_db()
    assert second.status == "ignored"
    assert item.status == "dismissed" and item.resolution["settled_back"] == second.pk
    assert not CartEntry.objects.exists()


@pytest.mark.parametrize("back,later_s", [((4020, 4290), 1.5), ((4020, 4200), 20.0)])
def test_a_reading_that_does_not_undo_the_change_is_judged_on_its_own(
    store, two_inside, back, later_s
):
    kit, ana = two_inside
    now = timezone.now()
    first = _process(_event(store, "e1", 4200, 4020, at=now))
    if later_s > 10:
        shelf_events_settle(now=now + _s(later_s - 1))
    # 270 g back is not the 180 g that went; the full 180 g twenty seconds on is something
    # else put down.
    _process(_event(store, "e2", *back, at=now + _s(later_s)), final=True)
    shelf_events_settle(now=now + _s(later_s + 30))
    first.refresh_from_db()
    assert first.status == "review"
    assert ReviewItem.objects.get(shelf_event=first).status == "open"


def test_a_pick_between_the_two_readings_is_not_undone(store, two_inside):
    kit, ana = two_inside
    cart_take(visit=kit, product=store.cola, quantity=1, slot=store.a1)
    now = timezone.now()
    first = _process(_event(store, "e1", 4200, 4020, at=now))
    # A cola taken meanwhile: the next reading of the slot is that pick, and the one after it
    # does not bring the slot back to where it read before the knock.
    _process(_event(store, "e2", 4020, 3670, at=now + _s(1.0)), final=True)
    third = _process(_event(store, "e3", 3670, 3850, at=now + _s(2.0)), final=True)
    assert third.result.get("settled_back") is None
    shelf_events_settle(now=now + _s(30))
    first.refresh_from_db()
    assert first.status == "review"
