"""The group-and-age scenario through the real device path: a payer's +1, a companion's
pick on the payer's receipt, an age-restricted pick refused to review, a pick after the
product's sale hours refused the same way, a refused entry."""

from __future__ import annotations

from decimal import Decimal

import pytest

from store.replay.local import replay_scenario
from store.replay.scenario import ScenarioError, load
from tests.conftest import SCENARIOS

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_group_and_an_age_restricted_pick_replay_exactly(replay_settings):
    from store.models import Account, GroupMember, ReviewItem, Shopper, Visit

    outcome = replay_scenario(load(SCENARIOS / "group-and-age.jsonl"))
    assert outcome.metrics.line() == "cAcc=3/3 items_p=1.0000 items_r=1.0000 review=2 amended=0"
    assert outcome.by_shopper == {
        "mum": [{"CHIPS": 1, "BEER": 1}],
        "kid": [{}],
        "teen": [{"COLA": 1}],
    }
    assert GroupMember.objects.get().visit.shopper.user.username == "kid"
    reasons = dict(ReviewItem.objects.values_list("reason", "candidates__0__name"))
    assert reasons == {"age_unverified": "Teen", "outside_sale_hours": "Mum"}
    assert not Visit.objects.filter(shopper__user__username="broke").exists()
    balances = {a.shopper.user.username: a.balance for a in Account.objects.all()}
    assert balances["mum"] == Decimal("16.50") and balances["teen"] == Decimal("3.50")
    assert balances["broke"] == Decimal("-1.00")
    assert Shopper.objects.get(user__username="mum").age_verified_at is not None


def test_a_phone_line_needs_a_shopper(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"type": "store", "products": [], "shelves": []}\n{"t": 1, "type": "group"}\n')
    with pytest.raises(ScenarioError, match="needs t and shopper"):
        load(path)


def test_a_scenario_start_needs_its_offset(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"type": "store", "start": "2026-01-10T22:00:00", "shelves": []}\n')
    with pytest.raises(ScenarioError, match="UTC offset"):
        replay_scenario(load(path))
