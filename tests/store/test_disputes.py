"""Disputes: a shopper reports a problem on a receipt line; a manager refunds it as a
correction entry on the ledger, or rejects it."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

import pytest
from django.test import Client

from store.errors import DomainError
from store.models import CartEntry, EntryKind
from store.services.carts import cart_take
from store.services.disputes import dispute_open, dispute_refunded, dispute_resolve
from store.services.receipts import receipt_refunds
from store.services.visits import visit_close, visit_open
from tests.conftest import at_once, needs_postgres


@pytest.fixture
def receipt(store, shopper):
    visit, _ = visit_open(shopper=shopper)
    cart_take(visit=visit, product=store.cola, quantity=3, slot=store.a1)
    return visit_close(visit=visit)


def test_a_refund_is_a_correction_entry_at_the_receipt_price(store, shopper, manager, receipt):
    line = receipt.lines.get()
    dispute = dispute_open(shopper=shopper, receipt=receipt, line=line, quantity=2, message="x2")
    store.cola.price = Decimal("9.99")
    store.cola.save()
    dispute = dispute_resolve(dispute=dispute, by=manager, refund=True)
    assert dispute.status == "resolved"
    entry = CartEntry.objects.get(dispute=dispute)
    assert entry.kind == EntryKind.CORRECTION
    assert entry.quantity == -2 and entry.unit_price == Decimal("1.50")
    assert entry.created_by == manager
    assert dispute_refunded(dispute=dispute) == Decimal("3.00")
    # The refund amends the same receipt: a second revision that says what changed, while
    # the first revision keeps what was issued.
    receipt.refresh_from_db()
    assert receipt.total == Decimal("1.50") and receipt.revision == 2
    first, second = receipt.revisions.order_by("revision")
    assert first.total == Decimal("4.50") and second.reason == "refund"
    assert second.difference == Decimal("-3.00")
    assert second.changes == [{"sku": "COLA", "name": store.cola.name, "was": 3, "now": 1}]


def test_a_line_cannot_be_refunded_twice_beyond_what_was_bought(store, shopper, manager, receipt):
    line = receipt.lines.get()
    first = dispute_open(shopper=shopper, receipt=receipt, line=line, quantity=3, message="a")
    dispute_resolve(dispute=first, by=manager, refund=True)
    # A fully refunded line cannot be reported again: the shopper is told so at once.
    with pytest.raises(DomainError) as exc:
        dispute_open(shopper=shopper, receipt=receipt, line=line, quantity=1, message="b")
    assert exc.value.code == "line_already_refunded"
    assert CartEntry.objects.filter(dispute__isnull=False).count() == 1


def test_a_partly_refunded_line_can_be_reported_for_what_is_left(store, shopper, manager, receipt):
    line = receipt.lines.get()
    assert line.quantity == 3
    first = dispute_open(shopper=shopper, receipt=receipt, line=line, quantity=2, message="a")
    dispute_resolve(dispute=first, by=manager, refund=True)
    with pytest.raises(DomainError) as exc:
        dispute_open(shopper=shopper, receipt=receipt, line=line, quantity=2, message="b")
    assert exc.value.code == "bad_quantity"
    assert exc.value.message == "you can report at most 1 item on this line (2 already refunded)"
    second = dispute_open(shopper=shopper, receipt=receipt, line=line, quantity=1, message="c")
    dispute_resolve(dispute=second, by=manager, refund=True)
    refunds = receipt_refunds(receipt=receipt)
    assert refunds["per_line"] == {line.pk: 3}
    assert refunds["amount"] == 3 * line.unit_price
    receipt.refresh_from_db()
    assert receipt.total == 0  # each refund revised the receipt


def test_reporting_more_than_was_bought_says_the_most_one_can_report(store, shopper, receipt):
    line = receipt.lines.get()
    with pytest.raises(DomainError) as exc:
        dispute_open(shopper=shopper, receipt=receipt, line=line, quantity=5, message="a")
    assert exc.value.code == "bad_quantity"
    assert exc.value.message == "you can report at most 3 items on this line"


def test_a_dispute_is_decided_once(store, shopper, manager, receipt):
    dispute = dispute_open(shopper=shopper, receipt=receipt, line=receipt.lines.get(), message="m")
    dispute_resolve(dispute=dispute, by=manager, refund=False, note="we saw you take it")
    with pytest.raises(DomainError) as exc:
        dispute_resolve(dispute=dispute, by=manager, refund=True)
    assert exc.value.code == "dispute_already_resolved"
    assert not CartEntry.objects.filter(dispute=dispute).exists()


def test_a_shopper_cannot_dispute_another_shoppers_receipt(store, other_shopper, receipt):
    with pytest.raises(DomainError) as exc:
        dispute_open(shopper=other_shopper, receipt=receipt, message="mine?")
    assert exc.value.code == "receipt_not_found"


def test_a_dispute_needs_a_message_and_a_sane_quantity(store, shopper, receipt):
    line = receipt.lines.get()
    with pytest.raises(DomainError) as exc:
        dispute_open(shopper=shopper, receipt=receipt, line=line, message="  ")
    assert exc.value.code == "message_required"
    with pytest.raises(DomainError) as exc:
        dispute_open(shopper=shopper, receipt=receipt, line=line, quantity=4, message="x")
    assert exc.value.code == "bad_quantity"


def test_one_open_report_per_line(store, shopper, receipt):
    line = receipt.lines.get()
    dispute_open(shopper=shopper, receipt=receipt, line=line, message="one")
    with pytest.raises(DomainError) as exc:
        dispute_open(shopper=shopper, receipt=receipt, line=line, message="two")
    assert exc.value.code == "dispute_already_open"


def test_reporting_and_refunding_through_the_pages(store, shopper, manager, receipt):
    line = receipt.lines.get()
    shopper_client = Client()
    shopper_client.force_login(shopper.user)
    response = shopper_client.post(
        f"/app/receipts/{receipt.pk}/report/",
        {"line": line.pk, "quantity": 1, "message": "I only took two"},
    )
    assert response.status_code == 302
    page = shopper_client.get(f"/app/receipts/{receipt.pk}/").content.decode()
    assert "Problem reported" in page
    manager_client = Client()
    manager_client.force_login(manager)
    listing = manager_client.get("/manager/disputes/").content.decode()
    assert "I only took two" in listing
    dispute = receipt.disputes.get()
    manager_client.post(
        f"/manager/disputes/{dispute.pk}/decide/", {"decision": "refund", "quantity": 1}
    )
    dispute.refresh_from_db()
    assert dispute.status == "resolved"
    assert CartEntry.objects.get(dispute=dispute).quantity == -1
    # A shopper cannot decide disputes.
    again = shopper_client.post(f"/manager/disputes/{dispute.pk}/decide/", {"decision": "refund"})
    assert again.status_code == 403


def test_a_shopper_cannot_report_on_another_shoppers_receipt_page(store, other_shopper, receipt):
    c = Client()
    c.force_login(other_shopper.user)
    response = c.post(f"/app/receipts/{receipt.pk}/report/", {"message": "hi"})
    assert response.status_code == 404
    assert not receipt.disputes.exists()


@needs_postgres()
@pytest.mark.django_db(transaction=True)
def test_two_managers_refunding_at_once_refund_once(store, shopper, manager, make_user):
    """Two managers click Refund on the same dispute at the same moment: one refund."""
    visit, _ = visit_open(shopper=shopper)
    cart_take(visit=visit, product=store.cola, quantity=2, slot=store.a1)
    receipt = visit_close(visit=visit)
    dispute = dispute_open(
        shopper=shopper, receipt=receipt, line=receipt.lines.get(), quantity=2, message="x"
    )
    deputy = make_user("deputy", staff=True, shopper=False)
    refund = partial(dispute_resolve, dispute=dispute, refund=True)
    results, errors = at_once(partial(refund, by=manager), partial(refund, by=deputy))
    codes = ["ok" for _ in results] + [getattr(exc, "code", repr(exc)) for exc in errors]
    assert sorted(codes) == ["dispute_already_resolved", "ok"]
    assert CartEntry.objects.filter(dispute=dispute).count() == 1
