"""Age-restricted products and sale hours: checked once at the kiosk, refused at the shelf
(to review, staff alerted at once) for an unverified shopper or outside the hours."""

from __future__ import annotations

from datetime import UTC, datetime, time
from unittest import mock

import pytest

from store.errors import DomainError
from store.models import CartEntry, ReviewItem
from store.services.age import age_verify, sale_hours_closed
from store.services.events import event_store
from store.services.review import review_resolve
from store.services.shelf_events import shelf_event_process
from store.services.visits import visit_open

# 22:30 in Berlin on a winter evening; 11:00 the next morning.
NIGHT = datetime(2026, 1, 10, 21, 30, tzinfo=UTC)
DAY = datetime(2026, 1, 11, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _berlin(settings):
    settings.MINIGO = {**settings.MINIGO, "STORE_TIME_ZONE": "Europe/Berlin"}


@pytest.fixture
def beer(store):
    store.cola.age_restricted = True
    store.cola.save()
    return store.cola


def _pick(store, shopper, when, event_id="e1"):
    visit_open(shopper=shopper, device=store.gate_in, at=when.replace(minute=0))
    msg = {
        "event_id": event_id,
        "slot": "A1",
        "sensor": "load_cell",
        "before": 4200,
        "after": 3850,
        "ts": when.timestamp(),
    }
    event, _ = event_store(device=store.shelf_device, msg=msg)
    # The camera window of a past event: decided now, as the periodic settle would.
    return shelf_event_process(event_id=event.pk, final=True)


def _alerts(send):
    return [m["data"] for (g, m), _ in send.call_args_list if m.get("event") == "alert"]


def test_an_unverified_shopper_s_restricted_pick_goes_to_review_with_an_alert(
    store, shopper, beer, django_capture_on_commit_callbacks
):
    with mock.patch("store.services.live._send") as send:
        with django_capture_on_commit_callbacks(execute=True):
            event = _pick(store, shopper, DAY)
    assert event.status == "review"
    assert not CartEntry.objects.exists()
    item = ReviewItem.objects.get(shelf_event=event)
    assert item.reason == "age_unverified"
    (alert,) = _alerts(send)
    assert alert["reason"] == "age_unverified" and alert["shopper"] == "Kit"
    assert alert["product"] == "Cola 330ml"


def test_a_verified_shopper_takes_it_like_anything_else(store, shopper, beer, manager):
    age_verify(shopper=shopper, by=manager)
    event = _pick(store, shopper, DAY)
    assert event.status == "applied"
    assert CartEntry.objects.get().product == beer


def test_staff_deciding_the_review_put_it_on_the_cart(store, shopper, beer, manager):
    event = _pick(store, shopper, DAY)
    item = ReviewItem.objects.get(shelf_event=event)
    review_resolve(item=item, by=manager, visit=shopper.visits.get())
    assert CartEntry.objects.get().review_item == item


def test_the_check_keeps_only_the_fact_and_who(store, shopper, manager):
    checked = age_verify(shopper=shopper, by=manager)
    assert checked.age_verified_by == manager and checked.age_verified_at is not None
    again = age_verify(shopper=shopper, by=manager)
    assert again.age_verified_at == checked.age_verified_at


def test_only_staff_verify_ages(store, shopper, other_shopper):
    with pytest.raises(DomainError) as exc:
        age_verify(shopper=shopper, by=other_shopper.user)
    assert exc.value.code == "staff_only"


def test_outside_sale_hours_even_a_verified_shopper_s_pick_is_refused(
    store, shopper, manager, django_capture_on_commit_callbacks
):
    store.cola.no_sale_from, store.cola.no_sale_until = time(22, 0), time(6, 0)
    store.cola.save()
    age_verify(shopper=shopper, by=manager)
    with mock.patch("store.services.live._send") as send:
        with django_capture_on_commit_callbacks(execute=True):
            night = _pick(store, shopper, NIGHT)
    assert night.status == "review"
    assert ReviewItem.objects.get(shelf_event=night).reason == "outside_sale_hours"
    assert _alerts(send)[0]["title"] == "Outside sale hours"


def test_in_sale_hours_the_pick_is_applied(store, shopper):
    store.cola.no_sale_from, store.cola.no_sale_until = time(22, 0), time(6, 0)
    store.cola.save()
    assert _pick(store, shopper, DAY).status == "applied"


@pytest.mark.parametrize(
    "start,end,when,closed",
    [
        (time(22), time(6), datetime(2026, 1, 10, 21, 0, tzinfo=UTC), True),  # 22:00 local
        (time(22), time(6), datetime(2026, 1, 10, 20, 59, tzinfo=UTC), False),  # 21:59
        (time(22), time(6), datetime(2026, 1, 11, 4, 59, tzinfo=UTC), True),  # 05:59
        (time(22), time(6), datetime(2026, 1, 11, 5, 0, tzinfo=UTC), False),  # 06:00
        (time(13), time(15), datetime(2026, 7, 1, 11, 30, tzinfo=UTC), True),  # 13:30 CEST
        (None, None, datetime(2026, 1, 10, 21, 0, tzinfo=UTC), False),
    ],
)
def test_sale_hours_are_store_local_and_may_span_midnight(store, start, end, when, closed):
    store.cola.no_sale_from, store.cola.no_sale_until = start, end
    assert sale_hours_closed(product=store.cola, at=when) is closed
