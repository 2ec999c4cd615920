"""The JSON state pages fetch on open and after a reconnect, and the analytics selectors."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from store.models import Frame, Receipt, ShelfEvent, Visit
from store.selectors import frame_boxes
from store.services.carts import cart_take
from store.services.review import review_open
from store.services.visits import visit_close, visit_open
from store.web import analytics


def staff(manager) -> Client:
    c = Client()
    c.force_login(manager)
    return c


def test_the_live_state_lists_who_is_in_with_their_cart(store, manager, shopper, other_shopper):
    visit, _ = visit_open(shopper=shopper)
    cart_take(visit=visit, product=store.cola, quantity=2, slot=store.a1)
    gone, _ = visit_open(shopper=other_shopper)
    visit_close(visit=gone)
    state = staff(manager).get("/manager/state.json").json()
    assert [v["name"] for v in state["visits"]] == ["Kit"]
    assert state["visits"][0]["cart"]["total"] == "3.00"
    texts = [item["text"] for item in state["feed"]]
    assert "Kit took 2 × Cola 330ml" in texts
    assert "Ana walked out" in texts
    assert {d["device"] for d in state["devices"]} == {"shelf-1", "gate-in", "gate-out"}


def test_low_stock_and_open_reviews_are_in_the_state(store, manager):
    store.a2.stock = 1
    store.a2.save()
    review_open(reason="weight_unexplained", slot=store.a1, product=store.cola)
    state = staff(manager).get("/manager/state.json").json()
    assert [s["code"] for s in state["low_stock"]] == ["A2"]
    assert state["review_open"] == 1


def test_a_devices_latest_frame_shows_boxes_even_after_its_pixels_are_dropped(store, manager):
    now = timezone.now()
    Frame.objects.create(
        device=store.shelf_device,
        event_id="old",
        captured_at=now - timedelta(seconds=5),
        width=640,
        height=480,
        jpeg=b"\xff\xd8old",
    )
    Frame.objects.create(
        device=store.shelf_device,
        event_id="new",
        captured_at=now,
        width=640,
        height=480,
        result={"detections": [{"xyxy": [1, 2, 30, 40], "label": "COLA", "confidence": 0.9}]},
    )
    devices = {
        d["device"]: d for d in staff(manager).get("/manager/devices.json").json()["devices"]
    }
    frame = devices["shelf-1"]["frame"]
    assert frame["has_image"] is False
    assert frame["boxes"] == [
        {"kind": "product", "xyxy": [1.0, 2.0, 30.0, 40.0], "label": "COLA", "confidence": 0.9}
    ]
    assert devices["gate-in"]["frame"] is None


def test_frame_boxes_read_the_shelf_detectors_nested_result():
    result = {
        "detection": {
            "detections": [
                {"label": "cola", "class_id": 0, "confidence": 0.87, "box": [1.5, 2, 30, 40]}
            ],
            "counts": {"A1": 1},
        }
    }
    assert frame_boxes(result) == [
        {"kind": "product", "xyxy": [1.5, 2.0, 30.0, 40.0], "label": "cola", "confidence": 0.87}
    ]


def test_frame_boxes_read_a_gates_faces_as_top_right_bottom_left():
    result = {"faces": [{"shopper": 3, "box": [10, 50, 60, 5], "outcome": "entered"}], "qr": []}
    assert frame_boxes(result) == [
        {"kind": "face", "xyxy": [5.0, 10.0, 50.0, 60.0], "label": "entered", "confidence": None}
    ]


def test_frame_boxes_read_faces_in_face_recognition_order_and_skip_junk():
    boxes = frame_boxes(
        {
            "faces": [{"location": [10, 50, 60, 5], "name": "Kit"}, {"box": "bad"}],
            "detections": [{"xyxy": [0, 0, "x", 1]}, "junk"],
        }
    )
    assert boxes == [
        {"kind": "face", "xyxy": [5.0, 10.0, 50.0, 60.0], "label": "Kit", "confidence": None}
    ]


def test_the_review_state_carries_weights_and_candidates(store, manager, shopper):
    visit, _ = visit_open(shopper=shopper)
    event = ShelfEvent.objects.create(
        device=store.shelf_device,
        event_id="e1",
        slot_code="A1",
        sensor="load_cell",
        before=4200,
        after=3700,
        occurred_at=timezone.now(),
    )
    review_open(
        reason="who_unknown",
        shelf_event=event,
        slot=store.a1,
        product=store.cola,
        quantity=1,
        candidates=[{"visit": visit.pk, "shopper": shopper.pk, "name": "Kit", "confidence": 0.5}],
    )
    data = staff(manager).get("/manager/review.json").json()
    item = data["items"][0]
    assert item["trace"]["before"] == 4200.0 and item["trace"]["after"] == 3700.0
    assert item["trace"]["sensor"] == "Load cell (grams)" and item["trace"]["unit"] == "g"
    assert item["trace"]["points"] == [{"t": 0.0, "before": 4200.0, "after": 3700.0, "this": True}]
    assert item["candidates"][0]["name"] == "Kit"
    assert item["candidates"][0]["evidence"] == "in the store at the time"
    assert data["in_store"] == [{"visit": visit.pk, "name": "Kit"}]
    # In words, not codes: what happened and what the manager is asked.
    assert item["title"] == "Who took it?"
    assert item["story"] == (
        "1 × Cola 330ml taken from Drinks/A1; the camera could not tell who. "
        "Drinks/A1 got 500 g lighter (one Cola 330ml weighs 350 g)."
    )


def _sale(store, shopper, qty: int, when):
    visit, _ = visit_open(shopper=shopper)
    cart_take(visit=visit, product=store.cola, quantity=qty, slot=store.a1)
    receipt = visit_close(visit=visit)
    Receipt.objects.filter(pk=receipt.pk).update(issued_at=when)
    Visit.objects.filter(pk=visit.pk).update(
        entered_at=when - timedelta(minutes=10), exited_at=when
    )
    return receipt


def test_sales_are_bucketed_per_hour_and_per_day_with_empty_buckets(store, shopper):
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    _sale(store, shopper, 2, now)
    _sale(store, shopper, 1, now - timedelta(hours=3))
    _sale(store, shopper, 1, now - timedelta(days=2))
    data = analytics.sales(now=now, hours=24, days=7)
    assert len(data["per_hour"]["values"]) == 24
    assert data["per_hour"]["values"][-1] == 3.0
    assert data["per_hour"]["values"][-4] == 1.5
    assert sum(data["per_hour"]["values"]) == 4.5
    assert len(data["per_day"]["values"]) == 7
    assert sum(data["per_day"]["values"]) == 6.0
    assert data["per_day"]["values"][-3] == 1.5


def test_top_products_and_average_visit_length(store, shopper):
    now = timezone.now()
    _sale(store, shopper, 2, now)
    visit, _ = visit_open(shopper=shopper)
    cart_take(visit=visit, product=store.chips, quantity=5, slot=store.a2)
    visit_close(visit=visit)
    Visit.objects.filter(pk=visit.pk).update(entered_at=now - timedelta(minutes=20), exited_at=now)
    top = analytics.top_products()
    assert [(p["sku"], p["quantity"]) for p in top] == [("CHIPS", 5), ("COLA", 2)]
    assert top[0]["revenue"] == 5.5
    average = analytics.average_visit_minutes()
    assert average == {"visits": 2, "minutes": 15.0}


def test_events_are_counted_per_device(store):
    now = timezone.now()
    for i in range(3):
        ShelfEvent.objects.create(
            device=store.shelf_device,
            event_id=f"e{i}",
            slot_code="A1",
            sensor="load_cell",
            before=1,
            after=1,
            occurred_at=now,
        )
    Frame.objects.create(device=store.gate_in, event_id="f", captured_at=now, width=1, height=1)
    data = analytics.device_events(now=now, hours=24, days=3)
    assert data["per_hour"]["series"]["shelf-1"][-1] == 3
    assert data["per_hour"]["series"]["gate-in"][-1] == 1
    assert data["per_day"]["series"]["shelf-1"][-1] == 3


def test_the_analytics_endpoint_returns_every_chart(store, manager):
    data = staff(manager).get("/manager/analytics.json?days=7").json()
    assert set(data) == {
        "sales",
        "device_events",
        "top_products",
        "average_visit",
        "days",
        "currency",
    }
    assert data["days"] == 7 and data["average_visit"]["minutes"] is None
    assert Decimal(str(sum(data["sales"]["per_day"]["values"]))) == 0
