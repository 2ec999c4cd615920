"""Real photos through the real vision code: faces placed by calibrated reach bands (against
code order, at the edges of the view, partial faces), and consent honoured in `sees` frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store.replay.local import replay_scenario
from store.replay.scenario import load
from tests.conftest import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.slow
def test_bands_against_code_order_charge_each_shopper_what_they_took(replay_settings):
    outcome = replay_scenario(load(SCENARIOS / "real-reach-reversed.jsonl"))
    assert outcome.metrics.line() == "cAcc=2/2 items_p=1.0000 items_r=1.0000 review=0 amended=0"
    assert outcome.by_shopper == {"obama": [{"CHIPS": 1}], "biden": [{"COLA": 1}]}


@pytest.mark.slow
def test_partial_faces_at_the_edges_of_the_view_and_a_lone_face_on_an_uncalibrated_shelf(
    replay_settings,
):
    from store.models import CartEntry

    outcome = replay_scenario(load(SCENARIOS / "real-edge-of-view.jsonl"))
    assert outcome.metrics.line() == "cAcc=2/2 items_p=1.0000 items_r=1.0000 review=0 amended=0"
    assert outcome.by_shopper == {"obama": [{"NUTS": 1, "SOUP": 1}], "biden": [{"TEA": 1}]}
    assert all(e.evidence["who"] == "camera" for e in CartEntry.objects.all())


def _write(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_shopper_without_face_consent_is_never_named_by_a_camera(replay_settings, tmp_path):
    """Kit gave no face consent and walks in with his QR code; the shelf camera's `sees` names
    him at the pick, as a vision with his face would, but the store may not know that face:
    with Ana in the store too, the pick goes to review instead of to Kit."""
    from store.models import ReviewItem, Sighting

    store = {
        "type": "store",
        "products": [{"sku": "COLA", "price": "1.50", "unit_weight_g": 350}],
        "shelves": [
            {
                "device": "shelf-1",
                "camera": True,
                "slots": [{"slot": "A1", "sku": "COLA", "stock": 10, "reach": [0.2, 0.6]}],
            }
        ],
        "gates": [{"device": "gate-in", "kind": "entry"}, {"device": "gate-out", "kind": "exit"}],
    }
    scenario = _write(
        tmp_path / "consent.jsonl",
        [
            store,
            {"type": "shopper", "id": "kit", "face_consent": False},
            {"type": "shopper", "id": "ana"},
            {"t": 0.0, "type": "qr", "device": "gate-in", "shopper": "kit"},
            {"t": 0.5, "type": "frame", "device": "gate-in", "sees": {"shoppers": ["kit"]}},
            {"t": 1.0, "type": "frame", "device": "gate-in", "sees": {"shoppers": ["ana"]}},
            {
                "t": 4.0,
                "type": "frame",
                "device": "shelf-1",
                "sees": {"shoppers": [{"id": "kit", "x": 0.4}]},
            },
            {
                "t": 4.2,
                "type": "weight",
                "device": "shelf-1",
                "slot": "A1",
                "before_g": 3500,
                "after_g": 3150,
            },
            {
                "t": 4.5,
                "type": "frame",
                "device": "shelf-1",
                "sees": {"shoppers": [{"id": "kit", "x": 0.41}]},
            },
            {"t": 12.0, "type": "qr", "device": "gate-out", "shopper": "kit"},
            {"t": 12.5, "type": "frame", "device": "gate-out", "sees": {"shoppers": ["ana"]}},
            {"type": "expect", "shopper": "kit", "items": {"COLA": 1}},
            {"type": "expect", "shopper": "ana", "items": {}},
        ],
    )
    outcome = replay_scenario(load(scenario))
    assert not Sighting.objects.filter(shopper__isnull=False).exists()
    assert Sighting.objects.filter(shopper__isnull=True).count() == 2
    assert outcome.by_shopper == {"kit": [{}], "ana": [{}]}
    assert ReviewItem.objects.get().reason == "who_unknown"
    assert outcome.metrics.line() == "cAcc=1/2 items_p=1.0000 items_r=0.0000 review=1 amended=0"
