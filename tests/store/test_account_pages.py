"""The accounts, restock and shopper account pages: who may open them, and what their JSON
endpoints do with good and bad input."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from store.models import AccountEntry, ShoppingGroup, StockBatch
from store.services.storetime import store_today

PAGES = [
    "manager-accounts",
    "manager-restock",
    "manager-cashup",
    "manager-accounts-state",
    "manager-restock-state",
]


def _top_up(client, shopper, amount: str):
    """Staff (the signed-in client) record a top-up at the counter."""
    return client.post(
        reverse("manager-topup", args=[shopper.pk]),
        {"amount": amount},
        content_type="application/json",
    )


@pytest.mark.parametrize("name", PAGES)
def test_manager_pages_are_staff_only(client, store, shopper, manager, name):
    url = reverse(name)
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(shopper.user)
    assert client.get(url).status_code == 403
    client.force_login(manager)
    assert client.get(url).status_code == 200


def test_staff_top_up_at_the_counter(client, store, shopper, manager):
    client.force_login(manager)
    url = reverse("manager-topup", args=[shopper.pk])
    r = client.post(url, {"amount": "12.50", "method": "card"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["balance"] == "12.50"
    entry = AccountEntry.objects.get()
    assert entry.created_by == manager and entry.method == "card"
    bad = client.post(url, {"amount": "12.505"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "bad_amount"
    assert AccountEntry.objects.count() == 1


def test_a_shopper_cannot_top_up_or_verify_anyone(client, store, shopper, other_shopper):
    client.force_login(shopper.user)
    r = client.post(
        reverse("manager-topup", args=[shopper.pk]),
        {"amount": "5"},
        content_type="application/json",
    )
    assert r.status_code == 403
    r = client.post(
        reverse("manager-verify-age", args=[shopper.pk]), {}, content_type="application/json"
    )
    assert r.status_code == 403
    assert not AccountEntry.objects.exists()
    shopper.refresh_from_db()
    assert shopper.age_verified_at is None


def test_staff_verify_an_age_at_the_counter(client, store, shopper, manager):
    client.force_login(manager)
    r = client.post(
        reverse("manager-verify-age", args=[shopper.pk]), {}, content_type="application/json"
    )
    assert r.json()["shopper"]["age_verified_by"] == "manager"


def test_the_cash_up_downloads_as_csv(client, store, shopper, manager):
    client.force_login(manager)
    _top_up(client, shopper, "3")
    r = client.get(reverse("manager-cashup"), {"day": store_today().isoformat()})
    assert r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[1][2] == "kit" and rows[1][5] == "3.00"
    assert client.get(reverse("manager-cashup"), {"day": "yesterday"}).json()["code"] == "bad_date"


def test_the_statement_page_shows_the_entries(client, store, shopper, manager):
    client.force_login(manager)
    _top_up(client, shopper, "7")
    r = client.get(reverse("manager-statement", args=[shopper.pk]))
    assert r.status_code == 200 and b"7.00" in r.content and b"manager" in r.content


def test_a_shopper_sees_only_their_own_account(client, store, shopper, other_shopper, manager):
    client.force_login(manager)
    _top_up(client, other_shopper, "9")
    client.force_login(shopper.user)
    state = client.get(reverse("shopper-account-state")).json()
    assert state["account"]["balance"] == "0.00" and state["entries"] == []


def test_a_shopper_announces_companions(client, store, shopper):
    client.force_login(shopper.user)
    r = client.post(reverse("shopper-group"), {"companions": 2}, content_type="application/json")
    assert r.status_code == 200 and r.json()["group"]["announced"] == 2
    assert ShoppingGroup.objects.get().payer == shopper
    bad = client.post(
        reverse("shopper-group"), {"companions": "lots"}, content_type="application/json"
    )
    assert bad.status_code == 400 and bad.json()["code"] == "bad_companions"


def test_staff_record_a_delivery_and_read_the_history(client, store, manager):
    client.force_login(manager)
    bb = (store_today() + timedelta(days=2)).isoformat()
    url = reverse("manager-restock-slot", args=[store.a1.pk])
    r = client.post(
        url, {"quantity": 3, "batch_code": "L9", "best_before": bb}, content_type="application/json"
    )
    assert r.json()["stock"] == 15
    assert StockBatch.objects.get().best_before.isoformat() == bb
    over = client.post(url, {"quantity": 30}, content_type="application/json")
    assert over.status_code == 400 and over.json()["code"] == "over_capacity"
    moves = client.get(reverse("manager-stock-history", args=[store.a1.pk])).json()["moves"]
    assert [(m["reason"], m["delta"], m["who"], m["batch"]) for m in moves] == [
        ("restock", 3, "manager", "L9")
    ]
    state = client.get(reverse("manager-restock-state")).json()
    assert {r["code"]: r["bring"] for r in state["restock"]}["A1"] == 5
    assert state["expiring"][0]["batch_code"] == "L9"
    assert Decimal(state["expiring"][0]["remaining"]) == 3


def test_the_counter_lists_who_owes_the_largest_debt_first(
    client, store, shopper, other_shopper, manager
):
    from store.services.account_ledger import account_post

    account_post(shopper=shopper, kind="charge", amount=Decimal("-3.00"))
    account_post(shopper=other_shopper, kind="charge", amount=Decimal("-8.00"))
    client.force_login(manager)
    rows = client.get(reverse("manager-accounts-state"), {"owing": "1"}).json()["shoppers"]
    assert [(r["username"], r["balance"]) for r in rows] == [("ana", "-8.00"), ("kit", "-3.00")]


def test_a_statement_downloads_as_csv(client, store, shopper, manager):
    client.force_login(manager)
    _top_up(client, shopper, "4")
    r = client.get(reverse("manager-statement", args=[shopper.pk]), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[1][1] == "opening" and rows[2][1] == "settlement" and rows[2][4] == "4.00"
    assert rows[-1][1:6] == ["closing", "", "", "", "4.00"]
