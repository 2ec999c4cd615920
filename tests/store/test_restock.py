"""Restocking and freshness: the restock list, low-stock alerts and the daily mail, batches
with best-before dates, expiring soon, markdown applied once at the pick, stock history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail

from store.errors import DomainError
from store.models import CartEntry, StockBatch, StockMove
from store.services.carts import cart_return, cart_take
from store.services.events import event_store
from store.services.restock import (
    expiring_soon,
    restock_list,
    slot_restock,
    slot_stock_count,
    stock_history,
    stock_report_send,
)
from store.services.shelf_events import shelf_event_process
from store.services.storetime import store_today
from store.services.visits import visit_close


@pytest.fixture
def fresh(store, manager):
    """Slot A1 emptied and refilled with two dated batches: 3 near their date, 5 later."""
    store.cola.markdown_percent = Decimal("30")
    store.cola.markdown_days = 2
    store.cola.save()
    slot_stock_count(slot=store.a1, stock=0, by=manager, note="emptied")
    today = store_today()
    slot_restock(
        slot=store.a1,
        quantity=3,
        by=manager,
        batch_code="L1",
        best_before=today + timedelta(days=1),
    )
    slot_restock(
        slot=store.a1,
        quantity=5,
        by=manager,
        batch_code="L2",
        best_before=today + timedelta(days=20),
    )
    store.a1.refresh_from_db()
    return store


def test_the_restock_list_says_how_many_to_bring(store):
    rows = {r["code"]: r for r in restock_list()}
    assert (rows["A1"]["stock"], rows["A1"]["capacity"], rows["A1"]["bring"]) == (12, 20, 8)
    assert rows["A2"]["bring"] == 10


def test_a_restock_is_a_batch_and_a_line_of_history_with_who(store, manager):
    slot_restock(
        slot=store.a1,
        quantity=4,
        by=manager,
        batch_code="B7",
        best_before=datetime(2027, 1, 2).date(),
    )
    store.a1.refresh_from_db()
    assert store.a1.stock == 16
    batch = StockBatch.objects.get()
    assert (batch.batch_code, batch.quantity, batch.remaining, batch.received_by) == (
        "B7",
        4,
        4,
        manager,
    )
    (row,) = stock_history(slot=store.a1)
    assert (row["reason"], row["delta"], row["stock_after"], row["who"]) == (
        "restock",
        4,
        16,
        "manager",
    )
    assert row["best_before"] == "2027-01-02"


def test_it_refuses_to_overfill_a_slot(store, manager):
    with pytest.raises(DomainError) as exc:
        slot_restock(slot=store.a1, quantity=9, by=manager)
    assert exc.value.code == "over_capacity"
    assert not StockMove.objects.exists()


def test_a_pick_near_the_date_is_marked_down_once(fresh, visit):
    msg = {"event_id": "e1", "slot": "A1", "sensor": "load_cell", "before": 2800, "after": 2450}
    event, _ = event_store(
        device=fresh.shelf_device, msg={**msg, "ts": visit.entered_at.timestamp() + 1}
    )
    shelf_event_process(event_id=event.pk, final=True)
    shelf_event_process(event_id=event.pk, final=True)  # a re-run applies nothing twice
    entry = CartEntry.objects.get()
    assert entry.unit_price == Decimal("1.05")
    assert entry.evidence["markdown"]["batch"] == "L1"
    receipt = visit_close(visit=visit)
    assert receipt.total == Decimal("1.05")
    assert receipt.lines.get().unit_price == Decimal("1.05")


def test_items_leave_the_front_batch_first_and_only_front_items_are_marked_down(fresh, visit):
    cart_take(visit=visit, product=fresh.cola, quantity=3, slot=fresh.a1)
    later = cart_take(visit=visit, product=fresh.cola, quantity=1, slot=fresh.a1)
    assert later.unit_price == Decimal("1.50")
    remaining = dict(StockBatch.objects.values_list("batch_code", "remaining"))
    assert remaining == {"L1": 0, "L2": 4}
    receipt = visit_close(visit=visit)
    assert sorted((x.unit_price, x.quantity) for x in receipt.lines.all()) == [
        (Decimal("1.05"), 3),
        (Decimal("1.50"), 1),
    ]
    assert receipt.total == Decimal("4.65")


def test_a_returned_marked_down_item_gives_back_its_marked_down_price(fresh, visit):
    cart_take(visit=visit, product=fresh.cola, quantity=1, slot=fresh.a1)
    back = cart_return(visit=visit, product=fresh.cola, quantity=1, slot=fresh.a1)
    assert back.unit_price == Decimal("1.05")
    assert dict(StockBatch.objects.values_list("batch_code", "remaining"))["L1"] == 3
    assert visit_close(visit=visit).total == 0


def test_stock_older_than_any_delivery_leaves_first_at_full_price(store, manager, visit):
    store.cola.markdown_percent, store.cola.markdown_days = Decimal("50"), 5
    store.cola.save()
    slot_stock_count(slot=store.a1, stock=2, by=manager)
    slot_restock(slot=store.a1, quantity=2, by=manager, best_before=store_today())
    first = cart_take(visit=visit, product=store.cola, quantity=2, slot=store.a1)
    then = cart_take(visit=visit, product=store.cola, quantity=1, slot=store.a1)
    assert (first.unit_price, then.unit_price) == (Decimal("1.50"), Decimal("0.75"))


def test_expiring_soon_lists_batches_near_their_date(fresh):
    rows = expiring_soon(days=3)
    assert [(r["batch_code"], r["remaining"], r["days_left"]) for r in rows] == [("L1", 3, 1)]
    assert rows[0]["marked_down_to"] == "1.05"


def test_the_history_says_who_changed_what(fresh, visit, manager):
    cart_take(visit=visit, product=fresh.cola, quantity=1, slot=fresh.a1)
    rows = stock_history(slot=fresh.a1)
    assert [(r["reason"], r["delta"], r["who"]) for r in rows] == [
        ("pick", -1, "Kit"),
        ("restock", 5, "manager"),
        ("restock", 3, "manager"),
        ("count", -12, "manager"),
    ]


def test_falling_to_the_threshold_alerts_the_managers_once(
    store, visit, django_capture_on_commit_callbacks
):
    store.a2.stock, store.a2.low_stock_threshold = 5, 3
    store.a2.save()
    with mock.patch("store.services.live._send") as send:
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(4):
                cart_take(visit=visit, product=store.chips, quantity=1, slot=store.a2)
    lows = [m["data"] for (g, m), _ in send.call_args_list if m.get("event") == "low_stock"]
    assert len(lows) == 1 and lows[0]["stock"] == 3 and lows[0]["product"] == "Crisps"


def test_the_daily_stock_mail_goes_out_once_a_day(fresh, settings):
    settings.MINIGO = {**settings.MINIGO, "STORE_TIME_ZONE": "UTC", "STOCK_REPORT_HOUR": 6}
    slot_stock_count(slot=fresh.a2, stock=1, by=None)
    today = store_today()
    early = datetime(today.year, today.month, today.day, 5, 0, tzinfo=UTC)
    morning = early + timedelta(hours=2)
    assert stock_report_send(now=early) is False
    assert stock_report_send(now=morning) is True
    assert stock_report_send(now=morning + timedelta(hours=3)) is False
    (message,) = mail.outbox
    assert message.to == ["manager@example.com"]
    assert "Drinks/A2" in message.body and "Crisps" in message.body  # low
    assert "batch L1" in message.body and "batch L2" not in message.body  # expiring soon
    assert stock_report_send(now=morning + timedelta(days=1)) is True


def test_a_count_sets_the_stock_and_takes_the_missing_from_the_oldest_batch(fresh, manager):
    slot_stock_count(slot=fresh.a1, stock=6, by=manager, note="shelf count")
    assert dict(StockBatch.objects.values_list("batch_code", "remaining")) == {"L1": 1, "L2": 5}
    assert stock_history(slot=fresh.a1)[0]["note"] == "shelf count"


def test_a_stock_figure_set_through_the_api_is_a_count_in_the_history(client, store, manager):
    client.force_login(manager)
    r = client.patch(f"/api/slots/{store.a1.pk}/", {"stock": 7}, content_type="application/json")
    assert r.status_code == 200 and r.json()["stock"] == 7
    (row,) = stock_history(slot=store.a1)
    assert (row["reason"], row["delta"], row["stock_after"], row["who"]) == (
        "count",
        -5,
        7,
        "manager",
    )
