"""Shopping together: the payer's "+N", companions recognised at the gate within the window,
their picks on the payer's cart and receipt, and guests."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from store.errors import DomainError
from store.models import Account, AccountEntry, GroupMember, Payment, ShoppingGroup
from store.selectors import manager_state
from store.services.carts import cart_return, cart_take
from store.services.entry import entry_admit
from store.services.groups import group_announce, group_guests_seen, group_label
from store.services.visits import visit_close


@pytest.fixture
def child(make_user):
    return make_user("noa").shopper


def _enter(store, shopper, at):
    admission = entry_admit(shopper=shopper, device=store.gate_in, method="face", at=at)
    assert admission.outcome == "visit_opened"
    return admission.visit


def test_a_companion_s_picks_land_on_the_payer_s_cart_and_receipt(store, shopper, child):
    now = timezone.now()
    group_announce(shopper=shopper, companions=1)
    payer_visit = _enter(store, shopper, now - timedelta(seconds=10))
    companion_visit = _enter(store, child, now - timedelta(seconds=8))
    assert GroupMember.objects.get(visit=companion_visit).group.payer == shopper
    assert Payment.objects.get(visit=companion_visit).payer == shopper

    entry = cart_take(visit=companion_visit, product=store.cola, quantity=2, slot=store.a1)
    assert entry.visit_id == payer_visit.pk
    assert entry.evidence["picked_by"]["shopper"] == child.pk
    cart_return(visit=companion_visit, product=store.cola, quantity=1, slot=store.a1)
    cart_take(visit=payer_visit, product=store.chips, quantity=1, slot=store.a2)

    companion_receipt = visit_close(visit=companion_visit)
    payer_receipt = visit_close(visit=payer_visit)
    assert {(x.sku, x.quantity) for x in payer_receipt.lines.all()} == {("COLA", 1), ("CHIPS", 1)}
    assert payer_receipt.total == Decimal("2.60")
    assert companion_receipt.lines.count() == 0 and companion_receipt.total == 0
    assert Account.objects.get(shopper=shopper).balance == Decimal("-2.60")
    assert not AccountEntry.objects.filter(account__shopper=child).exists()


def test_a_companion_let_in_a_moment_before_the_payer_joins(store, shopper, child):
    now = timezone.now()
    group_announce(shopper=shopper, companions=2)
    companion_visit = _enter(store, child, now - timedelta(seconds=6))
    _enter(store, shopper, now - timedelta(seconds=4))
    assert GroupMember.objects.filter(visit=companion_visit).exists()
    assert Payment.objects.get(visit=companion_visit).payer == shopper


def test_without_an_announcement_people_walking_in_together_pay_for_themselves(
    store, shopper, child
):
    now = timezone.now()
    _enter(store, shopper, now - timedelta(seconds=3))
    alone = _enter(store, child, now - timedelta(seconds=2))
    assert not GroupMember.objects.exists()
    assert (
        cart_take(visit=alone, product=store.cola, quantity=1, slot=store.a1).visit_id == alone.pk
    )


def test_a_companion_outside_the_window_does_not_join(store, shopper, child):
    now = timezone.now()
    group_announce(shopper=shopper, companions=1)
    _enter(store, shopper, now - timedelta(seconds=30))
    late = _enter(store, child, now - timedelta(seconds=20))  # 10 s later: too late
    assert not GroupMember.objects.exists()
    assert Payment.objects.get(visit=late).payer == child


def test_announced_places_are_not_exceeded(store, shopper, child, other_shopper):
    now = timezone.now()
    group_announce(shopper=shopper, companions=1)
    _enter(store, shopper, now - timedelta(seconds=5))
    _enter(store, child, now - timedelta(seconds=4))
    _enter(store, other_shopper, now - timedelta(seconds=3))
    assert GroupMember.objects.count() == 1
    assert group_guests_seen(device=store.gate_in, at=now - timedelta(seconds=3), count=2) == 0


def test_faces_nobody_knows_count_as_guests(store, shopper):
    now = timezone.now()
    group_announce(shopper=shopper, companions=2)
    visit = _enter(store, shopper, now - timedelta(seconds=5))
    assert group_guests_seen(device=store.gate_in, at=now - timedelta(seconds=4), count=3) == 2
    # More frames of the same people walking in do not add to them.
    assert group_guests_seen(device=store.gate_in, at=now - timedelta(seconds=3), count=1) == 2
    assert ShoppingGroup.objects.get(payer_visit=visit).guests == 2
    assert group_label(visit=visit) == {"role": "payer", "companions": [], "guests": 2}


def test_plus_n_inside_the_store_opens_the_gate_window_from_then(store, shopper, child):
    now = timezone.now()
    _enter(store, shopper, now - timedelta(minutes=5))
    group_announce(shopper=shopper, companions=1)
    companion_visit = _enter(store, child, now + timedelta(seconds=1))
    assert GroupMember.objects.filter(visit=companion_visit).exists()


def test_each_member_still_appears_on_the_live_page(store, shopper, child):
    now = timezone.now()
    group_announce(shopper=shopper, companions=1)
    _enter(store, shopper, now - timedelta(seconds=3))
    _enter(store, child, now - timedelta(seconds=2))
    rows = {v["name"]: v for v in manager_state()["visits"]}
    assert set(rows) == {"Kit", "Noa"}
    assert rows["Noa"]["group"] == {"role": "companion", "payer": "Kit"}
    assert rows["Kit"]["group"]["companions"] == ["Noa"]


@pytest.mark.parametrize("count", [-1, 99, "2", True])
def test_it_refuses_a_bad_announcement(store, shopper, count):
    with pytest.raises(DomainError) as exc:
        group_announce(shopper=shopper, companions=count)
    assert exc.value.code == "bad_companions"


def test_a_companion_cannot_announce_their_own_group(store, shopper, child):
    now = timezone.now()
    group_announce(shopper=shopper, companions=1)
    _enter(store, shopper, now - timedelta(seconds=3))
    _enter(store, child, now - timedelta(seconds=2))
    with pytest.raises(DomainError) as exc:
        group_announce(shopper=child, companions=1)
    assert exc.value.code == "already_companion"


def test_after_the_payer_leaves_a_companion_s_picks_are_still_paid_by_the_payer(
    store, shopper, child
):
    now = timezone.now()
    group_announce(shopper=shopper, companions=1)
    payer_visit = _enter(store, shopper, now - timedelta(seconds=10))
    companion_visit = _enter(store, child, now - timedelta(seconds=9))
    visit_close(visit=payer_visit)
    entry = cart_take(visit=companion_visit, product=store.chips, quantity=1, slot=store.a2)
    assert entry.visit_id == companion_visit.pk
    receipt = visit_close(visit=companion_visit)
    assert receipt.total == Decimal("1.10")
    assert Account.objects.get(shopper=shopper).balance == Decimal("-1.10")
    assert not AccountEntry.objects.filter(account__shopper=child).exists()


def test_a_companion_first_seen_as_an_unknown_face_still_joins(store, shopper, child):
    now = timezone.now()
    group_announce(shopper=shopper, companions=1)
    visit = _enter(store, shopper, now - timedelta(seconds=5))
    assert group_guests_seen(device=store.gate_in, at=now - timedelta(seconds=5), count=1) == 1
    companion_visit = _enter(store, child, now - timedelta(seconds=4))
    group = ShoppingGroup.objects.get(payer_visit=visit)
    assert group.guests == 0
    assert list(group.members.values_list("visit", flat=True)) == [companion_visit.pk]


def test_a_companion_s_phone_says_whose_receipt_the_picks_go_on(store, shopper, child):
    from store.selectors import shopper_state

    now = timezone.now()
    group_announce(shopper=shopper, companions=1)
    _enter(store, shopper, now - timedelta(seconds=3))
    _enter(store, child, now - timedelta(seconds=2))
    assert shopper_state(shopper=child)["group"] == {"role": "companion", "payer": "Kit"}
    assert shopper_state(shopper=shopper)["group"]["companions"] == ["Noa"]
