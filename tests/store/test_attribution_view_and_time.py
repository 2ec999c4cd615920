"""Who took it at the edges: a face cut off by the picture's edge beyond the outermost band, one
in a narrow gap between two bands, and a return decided after a later pick of the same product
(who held it is read as of the return's own time)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from store.models import CartEntry
from store.services.calibration import slot_calibrate
from store.services.carts import cart_quantity, cart_take
from store.services.reach import at_slot, in_front, in_narrow_gap
from tests.store.test_attribution import _event, _process, _seen


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_a_band_drawn_almost_to_the_pictures_edge_reaches_it():
    # Drawn 0.03 short of the left edge: a face measured at the edge stands at that slot.
    assert in_front(0.0, (0.03, 0.25)) > 0.99
    assert in_front(1.0, (0.7, 0.97)) > 0.99
    # Its inner edge is as sharp as ever.
    assert in_front(0.26, (0.03, 0.25)) < 0.5
    # A band that stops well short of the edge does not: beyond it is somewhere else.
    assert in_front(0.0, (0.15, 0.25)) < 0.1


def test_a_face_in_a_narrow_gap_is_at_one_of_the_two_slots_beside_it():
    a1, a2 = (0.3, 0.5), (0.52, 0.8)
    assert in_narrow_gap(0.51, [a1, a2])
    assert not in_narrow_gap(0.45, [a1, a2])  # inside a band
    assert not in_narrow_gap(0.51, [a1, (0.6, 0.8)])  # a gap a person fits in
    assert not in_narrow_gap(0.9, [a1, a2])  # beyond the last band
    # Nearer A1: more at A1 than at A2, and nowhere else.
    here, there = at_slot(0.505, a1, [(a2, 1.0)]), at_slot(0.505, a2, [(a1, 1.0)])
    assert here > there > 0.1
    assert here + there > 0.99
    # In a wide gap a face may be at neither.
    assert at_slot(0.55, a1, [((0.6, 0.8), 1.0)]) < 0.1


def test_a_face_cut_off_by_the_pictures_edge_is_the_picker_at_the_outermost_slot(store, two_inside):
    kit, ana = two_inside
    slot_calibrate(slot=store.a1, reach=[0.03, 0.25])
    slot_calibrate(slot=store.a2, reach=[0.25, 0.5])
    now = timezone.now()
    for dt in (-1.0, -0.5, 0.0, 0.5, 1.0):
        # Kit stands at the end of the shelf: the face's centre is measured at the edge.
        _seen(store, kit, now + _s(dt), x=0.0)
        _seen(store, ana, now + _s(dt), x=0.38)  # plainly at A2
    event = _process(_event(store, "e1", 4200, 3850, at=now), final=True)
    assert event.status == "applied"
    assert CartEntry.objects.get(shelf_event=event).visit_id == kit.pk


def test_a_return_is_not_given_to_someone_whose_pick_of_that_product_came_later(store, two_inside):
    kit, ana = two_inside
    cart_take(visit=kit, product=store.cola, quantity=1, slot=store.a1)
    now = timezone.now()
    # Ana takes a cola two seconds after a cola went back; her pick is decided first (her
    # face came in sooner), the return afterwards, with nobody's face at its moment.
    _seen(store, ana, now + _s(2.0))
    pick = _process(_event(store, "e2", 3850, 3500, at=now + _s(2.0)), final=True)
    assert CartEntry.objects.get(shelf_event=pick).visit_id == ana.pk
    back = _process(_event(store, "e1", 3500, 3850, at=now), final=True)
    # When the cola went back only Kit held one: it comes off Kit's cart, not Ana's.
    assert back.status == "applied"
    entry = CartEntry.objects.get(shelf_event=back)
    assert entry.visit_id == kit.pk and entry.quantity == -1
    assert cart_quantity(visit=kit, product=store.cola) == 0
    assert cart_quantity(visit=ana, product=store.cola) == 1
