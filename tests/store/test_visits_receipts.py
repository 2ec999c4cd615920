"""Visits open once and close once; invariant 4: one receipt per visit, issued once."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

import pytest
from django.core import mail

from store.errors import DomainError
from store.models import Receipt, Visit
from store.services.carts import cart_return, cart_take
from store.services.receipts import receipt_issue
from store.services.visits import visit_close, visit_open
from tests.conftest import at_once, needs_postgres


def test_opening_twice_returns_the_same_visit(store, shopper):
    first, created = visit_open(shopper=shopper)
    second, created_again = visit_open(shopper=shopper)
    assert created and not created_again
    assert first.pk == second.pk
    assert Visit.objects.filter(shopper=shopper, status="open").count() == 1


def test_the_database_refuses_a_second_open_visit(store, shopper):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    visit_open(shopper=shopper)
    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.create(shopper=shopper, entered_at=timezone.now())


def test_a_shopper_can_come_back_after_leaving(store, shopper):
    first, _ = visit_open(shopper=shopper)
    visit_close(visit=first)
    second, created = visit_open(shopper=shopper)
    assert created and second.pk != first.pk


def test_walking_in_again_after_leaving_unseen_closes_the_first_visit(store, shopper):
    from datetime import timedelta

    from django.utils import timezone

    from store.services.entry import entry_admit

    now = timezone.now()
    first = entry_admit(
        shopper=shopper, device=store.gate_in, method="face", at=now - timedelta(seconds=40)
    ).visit
    cart_take(visit=first, product=store.cola, quantity=1, slot=store.a1)
    # More frames of the same passage a few seconds later: still the same visit.
    again = entry_admit(
        shopper=shopper, device=store.gate_in, method="face", at=now - timedelta(seconds=36)
    )
    assert again.outcome == "already_in" and again.visit.pk == first.pk
    # The exit camera missed every frame of them leaving; now they walk in again.
    back = entry_admit(shopper=shopper, device=store.gate_in, method="face", at=now)
    assert back.outcome == "visit_opened" and back.visit.pk != first.pk
    first.refresh_from_db()
    assert first.status != "open" and first.exited_at < now
    assert [(line.sku, line.quantity) for line in first.receipt.lines.all()] == [("COLA", 1)]
    assert not back.visit.entries.exists()


def test_someone_seen_at_a_shelf_a_moment_ago_is_still_inside(store, shopper):
    from datetime import timedelta

    from django.utils import timezone

    from store.services.entry import entry_admit

    now = timezone.now()
    first = entry_admit(
        shopper=shopper, device=store.gate_in, method="face", at=now - timedelta(seconds=40)
    ).visit
    Visit.objects.filter(pk=first.pk).update(last_seen_at=now - timedelta(seconds=1))
    again = entry_admit(shopper=shopper, device=store.gate_in, method="face", at=now)
    assert again.outcome == "already_in" and again.visit.pk == first.pk


def test_a_visit_nobody_has_seen_for_the_idle_time_ends_where_they_were_last_seen(
    store, shopper, other_shopper, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from store.services.visits import visits_close_idle

    settings.MINIGO["VISIT_IDLE_S"] = 600.0
    now = timezone.now()
    gone, _ = visit_open(shopper=shopper, at=now - timedelta(seconds=900))
    cart_take(visit=gone, product=store.cola, quantity=1, slot=store.a1)
    last = now - timedelta(seconds=700)
    Visit.objects.filter(pk=gone.pk).update(last_seen_at=last)
    here, _ = visit_open(shopper=other_shopper, at=now - timedelta(seconds=900))
    Visit.objects.filter(pk=here.pk).update(last_seen_at=now - timedelta(seconds=30))
    assert visits_close_idle(now=now) == 1
    gone.refresh_from_db()
    here.refresh_from_db()
    assert gone.status != "open" and gone.exited_at == last
    assert [(line.sku, line.quantity) for line in gone.receipt.lines.all()] == [("COLA", 1)]
    assert here.status == "open"
    assert visits_close_idle(now=now) == 0  # nothing twice


def test_closing_issues_a_receipt_with_totals_and_tax(store, visit):
    cart_take(visit=visit, product=store.cola, quantity=3, slot=store.a1)
    cart_return(visit=visit, product=store.cola, quantity=1, slot=store.a1)
    cart_take(visit=visit, product=store.chips, quantity=1, slot=store.a2)
    receipt = visit_close(visit=visit)
    lines = {line.sku: line for line in receipt.lines.all()}
    assert lines["COLA"].quantity == 2 and lines["COLA"].line_total == Decimal("3.00")
    assert lines["CHIPS"].quantity == 1
    assert receipt.total == Decimal("4.10")
    assert receipt.tax == Decimal("0.50")  # 3.00 incl. 20% tax holds 0.50
    assert receipt.subtotal == Decimal("3.60")


def test_closing_twice_returns_the_same_receipt(store, visit):
    cart_take(visit=visit, product=store.cola, quantity=1, slot=store.a1)
    first = visit_close(visit=visit)
    second = visit_close(visit=visit)
    assert first.pk == second.pk
    assert Receipt.objects.filter(visit=visit).count() == 1


def test_no_receipt_for_an_open_visit(store, visit):
    with pytest.raises(DomainError) as err:
        receipt_issue(visit=visit)
    assert err.value.code == "visit_open"


def test_the_receipt_is_emailed_once(store, visit, django_capture_on_commit_callbacks):
    cart_take(visit=visit, product=store.cola, quantity=1, slot=store.a1)
    with django_capture_on_commit_callbacks(execute=True):
        receipt = visit_close(visit=visit)
    with django_capture_on_commit_callbacks(execute=True):
        visit_close(visit=visit)
    assert len(mail.outbox) == 1
    assert receipt.number in mail.outbox[0].subject
    assert "Cola 330ml" in mail.outbox[0].body


@needs_postgres()
@pytest.mark.django_db(transaction=True)
def test_two_exits_racing_issue_one_receipt(store, shopper):
    """Two exit frames processed at once by two workers: one receipt, never two."""
    visit, _ = visit_open(shopper=shopper)
    cart_take(visit=visit, product=store.cola, quantity=2, slot=store.a1)
    results, errors = at_once(*[lambda: visit_close(visit=Visit.objects.get(pk=visit.pk)).pk] * 4)
    assert errors == []
    assert len(set(results)) == 1
    assert Receipt.objects.filter(visit=visit).count() == 1
    assert Receipt.objects.get(visit=visit).total == Decimal("3.00")


@needs_postgres()
@pytest.mark.django_db(transaction=True)
def test_two_takes_racing_move_stock_exactly(store, shopper, other_shopper):
    """Row locks: concurrent takes from one slot never lose a stock update."""
    visits = [visit_open(shopper=s)[0] for s in (shopper, other_shopper)]
    _, errors = at_once(
        *[
            partial(cart_take, visit=visits[i % 2], product=store.cola, quantity=1, slot=store.a1)
            for i in range(6)
        ]
    )
    assert errors == []
    store.a1.refresh_from_db()
    assert store.a1.stock == 6
