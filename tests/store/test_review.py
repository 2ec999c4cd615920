"""Invariant 5: doubt goes to a person, and their decision writes the cart entry."""

from __future__ import annotations

import pytest

from store.errors import DomainError
from store.models import CartEntry
from store.services.carts import cart_lines
from store.services.review import review_open, review_resolve


def test_resolving_writes_a_take_to_the_chosen_visit(store, visit, manager):
    item = review_open(reason="who_unknown", slot=store.a1, product=store.cola, quantity=2)
    review_resolve(item=item, by=manager, visit=visit)
    item.refresh_from_db()
    assert item.status == "resolved" and item.resolved_by == manager
    entry = CartEntry.objects.get(review_item=item)
    assert (entry.kind, entry.quantity, entry.visit_id) == ("take", 2, visit.pk)
    assert cart_lines(visit=visit)[0].quantity == 2
    store.a1.refresh_from_db()
    assert store.a1.stock == 10


def test_it_cannot_be_resolved_twice(store, visit, manager):
    item = review_open(reason="who_unknown", slot=store.a1, product=store.cola, quantity=1)
    review_resolve(item=item, by=manager, visit=visit)
    with pytest.raises(DomainError) as err:
        review_resolve(item=item, by=manager, visit=visit)
    assert err.value.code == "review_already_resolved"
    assert CartEntry.objects.filter(review_item=item).count() == 1


def test_dismissing_writes_nothing(store, visit, manager):
    item = review_open(reason="weight_unexplained", slot=store.a1, product=store.cola)
    review_resolve(item=item, by=manager, dismiss=True)
    item.refresh_from_db()
    assert item.status == "dismissed"
    assert not CartEntry.objects.exists()


def test_resolving_needs_a_shopper(store, manager):
    item = review_open(reason="who_unknown", slot=store.a1, product=store.cola, quantity=1)
    with pytest.raises(DomainError) as err:
        review_resolve(item=item, by=manager)
    assert err.value.code == "review_needs_visit"
    item.refresh_from_db()
    assert item.status == "open"
