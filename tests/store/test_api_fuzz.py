"""Property-based fuzzing of API inputs: whatever JSON arrives, the answer is a response with
a machine-readable code (never a 500), and a refused request changes nothing stored."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.models import CartEntry, Product, ReviewItem, Shopper, Slot, Visit

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["1.50", "-1", "1e400", "NaN", "0", "", " ", "A1", "COLA", "\x00"])
)
values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=6,
)
FIELDS = [
    "sku",
    "name",
    "price",
    "tax_rate",
    "unit_weight_g",
    "weight_tolerance_g",
    "active",
    "shelf",
    "code",
    "product",
    "sensor",
    "stock",
    "capacity",
    "low_stock_threshold",
    "lane_depth_mm",
    "item_depth_mm",
    "quantity",
    "visit",
    "dismiss",
    "note",
    "shopper",
    "face",
    "username",
    "display_name",
    "email",
    "face_consent",
    "camera_region",
]
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6) | values


def _state():
    return (
        list(Product.objects.order_by("pk").values_list("sku", "price", "unit_weight_g")),
        list(Slot.objects.order_by("pk").values_list("code", "stock", "capacity", "product")),
        CartEntry.objects.count(),
        Visit.objects.count(),
        Shopper.objects.count(),
        list(ReviewItem.objects.values_list("status", flat=True)),
    )


@pytest.fixture
def targets(store, shopper, manager):
    from store.services.review import review_open

    item = review_open(reason="who_unknown", slot=store.a1, product=store.cola, quantity=1)
    staff, me = Client(), Client()
    staff.force_login(manager)
    me.force_login(shopper.user)
    return [
        (staff, "post", "/api/products/"),
        (staff, "patch", f"/api/products/{store.cola.pk}/"),
        (staff, "post", "/api/slots/"),
        (staff, "patch", f"/api/slots/{store.a1.pk}/"),
        (staff, "post", f"/api/slots/{store.a1.pk}/restock/"),
        (staff, "post", f"/api/review/{item.pk}/resolve/"),
        (staff, "post", "/api/visits/admit/"),
        (staff, "post", "/api/shoppers/"),
        (me, "post", "/api/me/consent/"),
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_api_input_gets_a_coded_answer_and_refusals_change_nothing(targets, data):
    client, method, url = data.draw(st.sampled_from(targets))
    body = data.draw(bodies)
    before = _state()
    response = getattr(client, method)(url, json.dumps(body), content_type="application/json")
    assert response.status_code < 500, (url, body, response.content[:300])
    if response.status_code >= 400:
        assert "code" in response.json(), (url, body, response.content[:300])
        assert _state() == before, (url, body)


@pytest.mark.parametrize(
    "raw", [b"{", b"\xff\xfe", b"[]" * 5000, b'{"a":' * 200 + b"1" + b"}" * 200]
)
def test_malformed_bodies_are_refused_with_a_code(store, manager, raw):
    client = Client()
    client.force_login(manager)
    before = _state()
    response = client.post("/api/products/", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"]
    assert _state() == before
