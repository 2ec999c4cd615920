"""The admin keeps the ledgers: a top-up added there and a stock count typed there go
through their services, with who made them."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse

from store.models import AccountEntry, StockMove


def test_a_top_up_added_in_the_admin_is_a_ledger_entry(client, store, shopper, manager):
    client.force_login(manager)
    r = client.post(
        reverse("admin:store_accountentry_add"),
        {"shopper": shopper.pk, "amount": "15.00", "method": "cash", "note": "at the till"},
    )
    assert r.status_code == 302, r.content[:2000]
    entry = AccountEntry.objects.get()
    assert (entry.amount, entry.balance_after, entry.created_by) == (
        Decimal("15.00"),
        Decimal("15.00"),
        manager,
    )
    assert (
        client.get(reverse("admin:store_accountentry_change", args=[entry.pk])).status_code == 200
    )


def test_a_stock_count_typed_in_the_admin_is_kept_in_the_history(client, store, manager):
    client.force_login(manager)
    url = reverse("admin:store_slot_change", args=[store.a1.pk])
    form = {
        "shelf": store.shelf.pk,
        "code": "A1",
        "product": store.cola.pk,
        "sensor": "load_cell",
        "stock": 9,
        "capacity": 20,
        "low_stock_threshold": 3,
        "lane_depth_mm": "",
        "item_depth_mm": "",
        "camera_region": "null",
    }
    r = client.post(url, form)
    assert r.status_code == 302, r.content[:3000]
    store.a1.refresh_from_db()
    assert store.a1.stock == 9
    move = StockMove.objects.get()
    assert (move.reason, move.delta, move.stock_after, move.by) == ("count", -3, 9, manager)


def test_the_store_policy_is_set_in_the_admin(client, store, manager):
    from store.models import StorePolicy

    client.force_login(manager)
    r = client.post(
        reverse("admin:store_storepolicy_add"),
        {
            "account_mode": "prepaid",
            "entry_floor": "0.00",
            "expiring_days": 2,
            "tab_statement_day": "",
        },
    )
    assert r.status_code == 302, r.content[:2000]
    policy = StorePolicy.objects.get()
    assert (policy.pk, policy.account_mode, policy.entry_floor) == (1, "prepaid", Decimal("0.00"))
    assert client.get(reverse("admin:store_storepolicy_add")).status_code == 403  # only one
