"""The REST API: who may read and write what."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from store.services.carts import cart_take
from store.services.visits import visit_close, visit_open


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_anonymous_gets_nothing(store):
    for url in ["/api/products/", "/api/visits/", "/api/receipts/", "/api/cart/", "/api/stock/"]:
        response = client_for().get(url)
        assert response.status_code == 403, url
        assert response.json()["code"] == "not_authenticated"


def test_a_shopper_reads_products_but_cannot_change_them(store, shopper):
    c = client_for(shopper.user)
    assert {p["sku"] for p in c.get("/api/products/").json()["results"]} == {"COLA", "CHIPS"}
    response = c.post(
        "/api/products/", {"sku": "X", "name": "X", "price": "1.00", "unit_weight_g": 10}
    )
    assert response.status_code == 403


def test_a_manager_creates_a_product_and_bad_input_gets_a_code(store, manager):
    c = client_for(manager)
    ok = c.post(
        "/api/products/", {"sku": "TEA", "name": "Tea", "price": "2.00", "unit_weight_g": 120}
    )
    assert ok.status_code == 201
    bad = c.post("/api/products/", {"sku": "TEA", "name": "Tea", "price": "-1", "unit_weight_g": 0})
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == "invalid"
    assert {"sku", "price", "unit_weight_g"} <= set(body["fields"])


def test_a_shopper_sees_only_their_own_cart_and_visits(store, shopper, other_shopper):
    mine, _ = visit_open(shopper=shopper)
    theirs, _ = visit_open(shopper=other_shopper)
    cart_take(visit=theirs, product=store.cola, quantity=1, slot=store.a1)
    c = client_for(shopper.user)
    assert c.get("/api/cart/").json()["items"] == 0
    assert c.get(f"/api/visits/{theirs.pk}/cart/").status_code == 404
    assert c.get(f"/api/visits/{theirs.pk}/").status_code == 404
    assert [v["id"] for v in c.get("/api/visits/").json()["results"]] == [mine.pk]


def test_a_shopper_sees_only_their_own_receipts(store, shopper, other_shopper):
    theirs, _ = visit_open(shopper=other_shopper)
    cart_take(visit=theirs, product=store.cola, quantity=1, slot=store.a1)
    receipt = visit_close(visit=theirs)
    assert client_for(shopper.user).get("/api/receipts/").json()["results"] == []
    assert client_for(shopper.user).get(f"/api/receipts/{receipt.pk}/").status_code == 404
    own = client_for(other_shopper.user).get(f"/api/receipts/{receipt.pk}/").json()
    assert own["total"] == "1.50" and own["lines"][0]["sku"] == "COLA"


def test_my_cart_outside_the_store_says_so(store, shopper):
    response = client_for(shopper.user).get("/api/cart/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_in_store"


@pytest.mark.parametrize("url", ["/api/stock/", "/api/shelves/", "/api/slots/", "/api/review/"])
def test_manager_pages_are_staff_only(store, shopper, outsider, manager, url):
    assert client_for(shopper.user).get(url).status_code == 403
    assert client_for(outsider).get(url).status_code == 403
    assert client_for(manager).get(url).status_code == 200


def test_restock_respects_capacity(store, manager):
    c = client_for(manager)
    response = c.post(f"/api/slots/{store.a1.pk}/restock/", {"quantity": 5}, format="json")
    assert response.status_code == 200 and response.json()["stock"] == 17
    over = c.post(f"/api/slots/{store.a1.pk}/restock/", {"quantity": 50}, format="json")
    assert over.status_code == 400 and over.json()["code"] == "over_capacity"
    store.a1.refresh_from_db()
    assert store.a1.stock == 17


def test_the_review_queue_resolves_through_the_api(store, visit, manager):
    from store.services.review import review_open

    item = review_open(reason="who_unknown", slot=store.a1, product=store.cola, quantity=1)
    c = client_for(manager)
    assert [r["id"] for r in c.get("/api/review/").json()["results"]] == [item.pk]
    done = c.post(f"/api/review/{item.pk}/resolve/", {"visit": visit.pk}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    again = c.post(f"/api/review/{item.pk}/resolve/", {"visit": visit.pk}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "review_already_resolved"


def test_the_openapi_schema_and_docs_are_served(db):
    schema = client_for().get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/receipts/" in schema.content
    docs = client_for().get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    assert b"cdn" not in docs.content.lower()
