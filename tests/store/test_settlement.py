"""Settlement (invariant 7): the receipt waits for its evidence, is issued provisionally past
the deadline, and every later change (late evidence, a review decided after the exit, a refund,
a staff correction) is a new revision of the same receipt."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from store.errors import DomainError
from store.models import CartEntry, Device, Receipt, ReviewItem, Visit
from store.services.devices import device_report_watermark
from store.services.review import review_resolve
from store.services.settlement import settlement_missing, visits_settle
from store.services.visits import visit_close, visit_open
from tests.store.test_attribution import _event, _frames_in, _process, _seen


@pytest.fixture
def shelf_online(store):
    """The shelf has talked to the server (so its watermark counts) and reported up to a
    minute ago."""
    now = timezone.now()
    Device.objects.filter(pk=store.shelf_device.pk).update(
        last_seen=now, online=True, watermark=now - timedelta(minutes=1)
    )
    return store.shelf_device


@pytest.fixture
def two_inside(store, shopper, other_shopper):
    ago = timezone.now() - timedelta(minutes=2)
    kit = visit_open(shopper=shopper, device=store.gate_in, at=ago)[0]
    ana = visit_open(shopper=other_shopper, device=store.gate_in, at=ago)[0]
    return kit, ana


def _report(device, at) -> None:
    device_report_watermark(device=device, epoch=at.timestamp())


def test_a_shopper_who_walks_out_a_second_after_a_pick_waits_for_its_camera_window(
    store, shelf_online, two_inside, django_capture_on_commit_callbacks
):
    kit, ana = two_inside
    picked = timezone.now() - timedelta(seconds=2)
    event = _process(_event(store, "e1", 4200, 3850, at=picked))
    assert event.status == "pending"  # two shoppers inside, no face yet: it waits
    exit_at = picked + timedelta(seconds=1)
    assert visit_close(visit=kit, device=store.gate_out, at=exit_at) is None
    kit.refresh_from_db()
    assert kit.status == "closed" and kit.exited_at == exit_at
    assert not Receipt.objects.filter(visit=kit).exists()
    assert settlement_missing(visit=kit) == ["shelf-1"]
    _report(shelf_online, exit_at + timedelta(seconds=0.5))
    assert not Receipt.objects.filter(visit=kit).exists()  # the pick is still undecided
    # The shelf camera's frame from just after the pick reaches the server now.
    _seen(store, kit, picked + timedelta(seconds=0.4))
    with django_capture_on_commit_callbacks(execute=True):
        event = _process(event)  # deciding it triggers the settlement
    assert event.status == "applied"
    receipt = Receipt.objects.get(visit=kit)
    assert [(line.sku, line.quantity) for line in receipt.lines.all()] == [("COLA", 1)]
    assert receipt.revision == 1 and not receipt.provisional
    assert not ReviewItem.objects.exists()


def test_the_exit_time_is_the_frame_capture_time_not_the_processing_time(store, visit):
    Visit.objects.filter(pk=visit.pk).update(entered_at=timezone.now() - timedelta(minutes=2))
    captured = timezone.now() - timedelta(seconds=30)
    visit_close(visit=visit, device=store.gate_out, at=captured)
    visit.refresh_from_db()
    assert visit.exited_at == captured


def test_a_shelf_offline_while_two_shoppers_pick_and_leave_amends_provisional_receipts(
    store, shelf_online, two_inside, django_capture_on_commit_callbacks
):
    kit, ana = two_inside
    t0 = timezone.now() - timedelta(seconds=20)
    exits = {kit.pk: t0 + timedelta(seconds=10), ana.pk: t0 + timedelta(seconds=12)}
    for v in (kit, ana):
        assert visit_close(visit=v, device=store.gate_out, at=exits[v.pk]) is None
    # Within the deadline nothing is issued; past it the receipts go out provisional.
    assert visits_settle(now=t0 + timedelta(seconds=40)) == 0
    assert visits_settle(now=t0 + timedelta(seconds=75)) == 2
    for v in (kit, ana):
        receipt = Receipt.objects.get(visit=v)
        assert receipt.provisional and receipt.waiting_for == ["shelf-1"]
        assert receipt.total == 0
    stock = store.a1.stock, store.a2.stock
    # The shelf comes back and delivers what it recorded while offline (90 s ago).
    _seen(store, kit, t0 + timedelta(seconds=2))
    _seen(store, ana, t0 + timedelta(seconds=6))
    for at in (t0 + timedelta(seconds=2), t0 + timedelta(seconds=6)):
        _frames_in(store, at)  # the camera's frames of those moments, analysed
    first = _process(_event(store, "e1", 4200, 3850, slot="A1", at=t0 + timedelta(seconds=2)))
    second = _process(_event(store, "e2", 900, 855, slot="A2", at=t0 + timedelta(seconds=6)))
    assert first.status == second.status == "applied"
    kit_receipt, ana_receipt = (Receipt.objects.get(visit=v) for v in (kit, ana))
    assert [(x.sku, x.quantity) for x in kit_receipt.lines.all()] == [("COLA", 1)]
    assert [(x.sku, x.quantity) for x in ana_receipt.lines.all()] == [("CHIPS", 1)]
    assert kit_receipt.revision == 2 and kit_receipt.provisional  # not final yet
    assert kit_receipt.revisions.get(revision=2).changes == [
        {"sku": "COLA", "name": "Cola 330ml", "was": 0, "now": 1}
    ]
    store.a1.refresh_from_db()
    store.a2.refresh_from_db()
    assert (store.a1.stock, store.a2.stock) == (stock[0] - 1, stock[1] - 1)
    # Its watermark passes both exits: the receipts become final (one receipt each, still).
    with django_capture_on_commit_callbacks(execute=True):
        _report(shelf_online, timezone.now())
    for v in (kit, ana):
        receipt = Receipt.objects.get(visit=v)
        assert not receipt.provisional and receipt.revision == 3
        assert receipt.revisions.get(revision=3).reason == "settled"
    assert Receipt.objects.count() == 2


def test_a_watermark_never_moves_back(store, shelf_online):
    now = timezone.now()
    _report(shelf_online, now)
    _report(shelf_online, now - timedelta(seconds=30))
    shelf_online.refresh_from_db()
    assert abs((shelf_online.watermark - now).total_seconds()) < 0.001


def test_a_review_resolved_after_the_exit_amends_the_receipt(
    store, shelf_online, two_inside, manager, django_capture_on_commit_callbacks
):
    kit, ana = two_inside
    kit.shopper.user.email = "kit@example.com"
    kit.shopper.user.save()
    picked = timezone.now() - timedelta(seconds=30)
    event = _process(_event(store, "e1", 4200, 3850, at=picked), final=True)
    item = ReviewItem.objects.get(shelf_event=event)
    assert item.reason == "who_unknown"
    exit_at = timezone.now()
    visit_close(visit=kit, device=store.gate_out, at=exit_at)
    with django_capture_on_commit_callbacks(execute=True):
        _report(shelf_online, exit_at)
    receipt = Receipt.objects.get(visit=kit)  # a pick in review does not hold the receipt
    assert receipt.total == 0
    stock = store.a1.stock
    with django_capture_on_commit_callbacks(execute=True):
        review_resolve(item=item, by=manager, visit=kit)
    receipt.refresh_from_db()
    assert receipt.revision == 2 and receipt.total == Decimal("1.50")
    revision = receipt.revisions.get(revision=2)
    assert revision.reason == "review" and revision.created_by == manager
    assert revision.difference == Decimal("1.50")
    store.a1.refresh_from_db()
    assert store.a1.stock == stock - 1
    assert "revision 2" in mail.outbox[-1].subject and "Cola" in mail.outbox[-1].body


def test_a_staff_correction_adds_and_removes_items_on_a_closed_visit(store, visit, manager):
    from store.services.receipts import receipt_correct

    receipt = visit_close(visit=visit, device=store.gate_out)
    stock = store.a2.stock
    receipt = receipt_correct(
        receipt=receipt, product=store.chips, quantity=2, by=manager, note="seen on CCTV",
        slot=store.a2,
    )  # fmt: skip
    assert receipt.revision == 2 and receipt.total == Decimal("2.20")
    receipt = receipt_correct(
        receipt=receipt, product=store.chips, quantity=-1, by=manager, note="one was paid"
    )
    assert receipt.revision == 3 and receipt.total == Decimal("1.10")
    with pytest.raises(DomainError) as exc:
        receipt_correct(receipt=receipt, product=store.chips, quantity=-5, by=manager, note="x")
    assert exc.value.code == "correction_below_zero"
    entries = CartEntry.objects.filter(visit=visit).order_by("id")
    assert [(e.kind, e.quantity) for e in entries] == [("correction", 2), ("correction", -1)]
    store.a2.refresh_from_db()
    assert store.a2.stock == stock - 2
    reasons = list(receipt.revisions.values_list("reason", flat=True))
    assert reasons == ["issued", "correction", "correction"]
    assert Receipt.objects.filter(visit=visit).count() == 1


def test_the_correction_api_is_for_staff_only(client, store, visit, manager, shopper):
    receipt = visit_close(visit=visit, device=store.gate_out)
    url = f"/api/receipts/{receipt.pk}/corrections/"
    body = {"product": store.cola.pk, "quantity": 1, "note": "missed pick"}
    client.force_login(shopper.user)
    assert client.post(url, body, content_type="application/json").status_code == 403
    client.force_login(manager)
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["revision"] == 2 and response.json()["total"] == "1.50"
    bad = client.post(url, {**body, "quantity": 0}, content_type="application/json")
    assert bad.status_code == 400
    detail = client.get(f"/api/receipts/{receipt.pk}/").json()
    assert [r["reason"] for r in detail["revisions"]] == ["issued", "correction"]


def test_an_event_after_the_exit_is_not_given_to_the_leaving_shopper(store, visit):
    Visit.objects.filter(pk=visit.pk).update(entered_at=timezone.now() - timedelta(minutes=2))
    exit_at = timezone.now() - timedelta(seconds=20)
    visit_close(visit=visit, device=store.gate_out, at=exit_at)
    event = _process(_event(store, "e1", 4200, 3850, at=exit_at + timedelta(seconds=5)))
    assert event.status == "review"
    assert ReviewItem.objects.get(shelf_event=event).reason == "nobody_in_store"
    assert Visit.objects.get(pk=visit.pk).receipt.total == 0


def test_a_settle_run_costs_the_receipts_it_issues_not_the_visits_still_waiting(
    store, shelf_online, shopper, other_shopper
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ago = timezone.now() - timedelta(minutes=2)
    exit_at = timezone.now()
    kit = visit_open(shopper=shopper, device=store.gate_in, at=ago)[0]
    visit_close(visit=kit, device=store.gate_out, at=exit_at)  # the shelf has not reported
    with CaptureQueriesContext(connection) as one_waiting:
        assert visits_settle() == 0
    ana = visit_open(shopper=other_shopper, device=store.gate_in, at=ago)[0]
    visit_close(visit=ana, device=store.gate_out, at=exit_at)
    with CaptureQueriesContext(connection) as two_waiting:
        assert visits_settle() == 0
    assert len(two_waiting) == len(one_waiting)
    assert not Receipt.objects.filter(visit__in=[kit, ana]).exists()
    Device.objects.filter(pk=shelf_online.pk).update(watermark=exit_at)
    assert visits_settle() == 2  # both complete now: both issued
    assert Receipt.objects.filter(visit__in=[kit, ana], provisional=False).count() == 2


def test_only_the_report_that_completes_a_visits_watermarks_queues_a_settle_run(
    store, shelf_online, two_inside, django_capture_on_commit_callbacks
):
    from unittest import mock

    from store import tasks
    from store.services.devices import device_create

    kit, _ana = two_inside
    ahead, _ = device_create(device_id="shelf-2", kind="shelf")
    exit_at = timezone.now() - timedelta(seconds=5)
    Device.objects.filter(pk=ahead.pk).update(last_seen=exit_at, watermark=exit_at)
    visit_close(visit=kit, device=store.gate_out, at=exit_at)
    with mock.patch.object(tasks, "settle_receipts_soon") as soon:
        with django_capture_on_commit_callbacks(execute=True):
            # shelf-2 moves on, but shelf-1 has not reported up to the exit: nothing to settle
            _report(Device.objects.get(pk=ahead.pk), exit_at + timedelta(seconds=2))
        assert soon.call_count == 0
        with django_capture_on_commit_callbacks(execute=True):
            _report(shelf_online, exit_at + timedelta(seconds=1))  # the lowest one reaches it
        assert soon.call_count == 1


def test_a_decided_event_queues_a_settle_run_only_if_it_was_the_last_one_a_visit_waited_for(
    store, shelf_online, two_inside, django_capture_on_commit_callbacks
):
    from unittest import mock

    from store import tasks
    from store.models import ShelfEvent

    kit, _ana = two_inside
    first = _process(_event(store, "e1", 4200, 3850, at=timezone.now() - timedelta(seconds=3)))
    second = _process(_event(store, "e2", 3850, 3500, at=timezone.now() - timedelta(seconds=2)))
    assert first.status == second.status == "pending"  # two inside, no face: both wait
    exit_at = timezone.now()
    visit_close(visit=kit, device=store.gate_out, at=exit_at)
    Device.objects.filter(pk=shelf_online.pk).update(watermark=exit_at)
    with mock.patch.object(tasks, "settle_receipts_soon") as soon:
        with django_capture_on_commit_callbacks(execute=True):
            _process(ShelfEvent.objects.get(pk=first.pk), final=True)
        assert soon.call_count == 0  # the visit still waits for the second pick
        with django_capture_on_commit_callbacks(execute=True):
            _process(ShelfEvent.objects.get(pk=second.pk), final=True)
        assert soon.call_count == 1


def test_a_report_past_an_exit_it_did_not_hold_queues_no_settle_run(
    store, shelf_online, two_inside, django_capture_on_commit_callbacks
):
    from unittest import mock

    from store import tasks

    kit, _ana = two_inside
    exit_at = timezone.now() - timedelta(seconds=5)
    visit_close(visit=kit, device=store.gate_out, at=exit_at)
    _report(shelf_online, exit_at + timedelta(seconds=1))  # this one completed it
    with mock.patch.object(tasks, "settle_receipts_soon") as soon:
        with django_capture_on_commit_callbacks(execute=True):
            _report(shelf_online, exit_at + timedelta(seconds=2))  # a second later: nothing new
    assert soon.call_count == 0
