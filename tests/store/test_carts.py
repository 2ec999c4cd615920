"""Invariants 2 and 3: the cart is an append-only ledger that never goes below zero, and
stock moves with it in the same transaction."""

from __future__ import annotations

import pytest

from store.errors import DomainError
from store.models import CartEntry, Slot
from store.services.carts import cart_correct, cart_lines, cart_return, cart_take


def _stock(slot) -> int:
    return Slot.objects.get(pk=slot.pk).stock


def test_a_take_adds_to_the_cart_and_moves_stock(store, visit):
    cart_take(visit=visit, product=store.cola, quantity=2, slot=store.a1)
    [line] = cart_lines(visit=visit)
    assert (line.sku, line.quantity) == ("COLA", 2)
    assert _stock(store.a1) == 10


def test_a_return_is_a_new_entry_not_an_edit(store, visit):
    take = cart_take(visit=visit, product=store.cola, quantity=2, slot=store.a1)
    cart_return(visit=visit, product=store.cola, quantity=1, slot=store.a1)
    take.refresh_from_db()
    assert take.quantity == 2  # the first entry is untouched
    assert list(CartEntry.objects.filter(visit=visit).values_list("kind", "quantity")) == [
        ("take", 2),
        ("return", -1),
    ]
    assert cart_lines(visit=visit)[0].quantity == 1
    assert _stock(store.a1) == 11


def test_it_refuses_a_return_below_zero_and_changes_nothing(store, visit):
    cart_take(visit=visit, product=store.cola, quantity=1, slot=store.a1)
    with pytest.raises(DomainError) as err:
        cart_return(visit=visit, product=store.cola, quantity=2, slot=store.a1)
    assert err.value.code == "return_exceeds_cart"
    assert CartEntry.objects.filter(visit=visit).count() == 1
    assert _stock(store.a1) == 11


def test_a_return_of_a_product_never_taken_is_refused(store, visit):
    with pytest.raises(DomainError) as err:
        cart_return(visit=visit, product=store.chips, quantity=1, slot=store.a2)
    assert err.value.code == "return_exceeds_cart"
    assert _stock(store.a2) == 10


def test_stock_does_not_move_when_the_entry_fails(store, visit, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(CartEntry.objects, "create", boom)
    with pytest.raises(RuntimeError):
        cart_take(visit=visit, product=store.cola, quantity=3, slot=store.a1)
    assert _stock(store.a1) == 12


def test_stock_stops_at_zero(store, visit):
    cart_take(visit=visit, product=store.cola, quantity=15, slot=store.a1)
    assert _stock(store.a1) == 0


def test_a_closed_visit_takes_nothing(store, visit):
    from store.services.visits import visit_close

    visit_close(visit=visit)
    with pytest.raises(DomainError) as err:
        cart_take(visit=visit, product=store.cola, quantity=1, slot=store.a1)
    assert err.value.code == "visit_closed"
    assert _stock(store.a1) == 12


@pytest.mark.parametrize("quantity", [0, -1])
def test_it_refuses_non_positive_quantities(store, visit, quantity):
    with pytest.raises(DomainError) as err:
        cart_take(visit=visit, product=store.cola, quantity=quantity, slot=store.a1)
    assert err.value.code == "bad_quantity"


def test_a_correction_is_signed_and_cannot_go_below_zero(store, visit, manager):
    cart_take(visit=visit, product=store.cola, quantity=1, slot=store.a1)
    cart_correct(visit=visit, product=store.cola, quantity=-1, by=manager, note="not taken")
    assert cart_lines(visit=visit) == []
    with pytest.raises(DomainError) as err:
        cart_correct(visit=visit, product=store.cola, quantity=-1, by=manager, note="again")
    assert err.value.code == "correction_below_zero"
    assert _stock(store.a1) == 11  # a correction moves no goods


def test_the_database_refuses_a_negative_take(store, visit):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        CartEntry.objects.create(
            visit=visit, product=store.cola, kind="take", quantity=-1, unit_price=store.cola.price
        )
