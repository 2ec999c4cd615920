"""What shopper and manager see of settlement: settling visits on the live page, provisional
and amended receipts with their history, and the manager's correction form."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from store.models import Device, Receipt
from store.services.receipts import receipt_correct
from store.services.settlement import visits_settle
from store.services.visits import visit_close


def _silent_shelf(store):
    Device.objects.filter(pk=store.shelf_device.pk).update(
        last_seen=timezone.now(), watermark=timezone.now() - timedelta(minutes=5)
    )


def test_the_live_page_state_lists_settling_and_provisional_visits(client, store, visit, manager):
    _silent_shelf(store)
    assert visit_close(visit=visit, device=store.gate_out) is None
    client.force_login(manager)
    settling = client.get("/manager/state.json").json()["settling"]
    assert [(s["visit"], s["waiting_for"], s["provisional"]) for s in settling] == [
        (visit.pk, ["shelf-1"], False)
    ]
    visits_settle(now=timezone.now() + timedelta(seconds=61))
    settling = client.get("/manager/state.json").json()["settling"]
    assert settling[0]["provisional"] and settling[0]["number"]


def test_the_shopper_sees_finalising_then_a_provisional_receipt(client, store, visit, shopper):
    _silent_shelf(store)
    visit_close(visit=visit, device=store.gate_out)
    client.force_login(shopper.user)
    assert client.get("/app/state.json").json()["settling"] is True
    visits_settle(now=timezone.now() + timedelta(seconds=61))
    state = client.get("/app/state.json").json()
    assert state["settling"] is False and state["latest_receipt"]["provisional"] is True
    receipt = Receipt.objects.get(visit=visit)
    page = client.get(f"/app/receipts/{receipt.pk}/").content.decode()
    assert "Provisional: waiting for shelf-1" in page


def test_both_histories_show_what_an_amendment_changed(client, store, visit, shopper, manager):
    receipt = visit_close(visit=visit, device=store.gate_out)
    receipt_correct(receipt=receipt, product=store.cola, quantity=2, by=manager, note="missed")
    client.force_login(shopper.user)
    page = client.get(f"/app/receipts/{receipt.pk}/").content.decode()
    assert "Amended: revision 2" in page and "Cola 330ml 0 → 2" in page
    assert "amended" in client.get("/app/receipts/").content.decode()
    client.force_login(manager)
    assert "rev. 2" in client.get("/manager/receipts/").content.decode()
    page = client.get(f"/manager/receipts/{receipt.pk}/").content.decode()
    assert "Staff correction" in page and "“missed”" in page


def test_the_manager_corrects_a_receipt_from_the_receipts_page(client, store, visit, manager):
    receipt = visit_close(visit=visit, device=store.gate_out)
    url = f"/manager/receipts/{receipt.pk}/correct/"
    form = {"product": store.chips.pk, "quantity": "1", "note": "crisps under the arm"}
    client.force_login(manager)
    response = client.post(url, form)
    assert response.status_code == 302
    receipt.refresh_from_db()
    assert receipt.revision == 2 and [(x.sku, x.quantity) for x in receipt.lines.all()] == [
        ("CHIPS", 1)
    ]
    client.post(url, {**form, "quantity": "-3"})
    receipt.refresh_from_db()
    assert receipt.revision == 2  # refused: below zero; nothing stored


def test_a_shopper_cannot_use_the_correction_form(client, store, visit, shopper):
    receipt = visit_close(visit=visit, device=store.gate_out)
    client.force_login(shopper.user)
    form = {"product": store.chips.pk, "quantity": "-1", "note": "mine"}
    response = client.post(f"/manager/receipts/{receipt.pk}/correct/", form)
    assert response.status_code in (302, 403, 404)
    receipt.refresh_from_db()
    assert receipt.revision == 1


def test_the_review_page_offers_shoppers_who_left_since_the_event(client, store, visit, manager):
    from store.models import ReviewItem, Visit
    from tests.store.test_attribution import _event, _process

    Visit.objects.filter(pk=visit.pk).update(entered_at=timezone.now() - timedelta(minutes=2))
    visit_close(visit=visit, device=store.gate_out, at=timezone.now() - timedelta(seconds=10))
    # A reading nobody's cart explains, from while Kit was inside, reaches review late.
    event = _process(
        _event(store, "e1", 4200, 3900, at=timezone.now() - timedelta(seconds=30)), final=True
    )
    item = ReviewItem.objects.get(shelf_event=event)
    client.force_login(manager)
    rows = client.get("/manager/review.json").json()
    row = next(r for r in rows["items"] if r["review"] == item.pk)
    assert row["present"] == [{"visit": visit.pk, "name": "Kit"}]
    assert rows["in_store"] == []
