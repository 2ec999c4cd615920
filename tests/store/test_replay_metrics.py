"""Scoring a replay: every receipt counts, and the metrics line keeps DESIGN.md's shape."""

from __future__ import annotations

import re

import pytest

from store.replay.metrics import Metrics, score


def _score(expects, receipts, review=0, events=10, **kw):
    lines = [{"type": "expect", "shopper": s, "items": items} for s, items in expects]
    return score(expects=lines, receipts=receipts, review=review, events=events, **kw)


def test_exact_receipts_score_one():
    m = _score([("kit", {"COLA": 2}), ("ana", {})], {"kit": [{"COLA": 2}], "ana": [{}]})
    assert (m.exact, m.receipts, m.precision, m.recall) == (2, 2, 1.0, 1.0)


def test_a_receipt_of_a_shopper_nobody_expected_counts_and_its_items_are_wrong():
    m = _score([("kit", {"COLA": 1})], {"kit": [{"COLA": 1}], "eve": [{"CHIPS": 3}]})
    assert (m.exact, m.receipts) == (1, 2)
    assert m.precision == pytest.approx(1 / 4)
    assert m.recall == 1.0


def test_an_empty_receipt_nobody_expected_is_still_a_wrong_receipt():
    m = _score([("kit", {"COLA": 1})], {"kit": [{"COLA": 1}], "eve": [{}]})
    assert (m.exact, m.receipts) == (1, 2)


def test_an_expected_visit_without_a_receipt_is_wrong_even_when_nothing_was_expected():
    m = _score([("kit", {}), ("ana", {"TEA": 1})], {})
    assert (m.exact, m.receipts) == (0, 2)
    assert m.recall == 0.0 and m.precision == 1.0


def test_visits_are_matched_in_order_and_an_extra_visit_counts():
    m = _score(
        [("kit", {"COLA": 1}), ("kit", {"TEA": 1})],
        {"kit": [{"COLA": 1}, {"TEA": 2}, {"GUM": 1}]},
    )
    assert (m.exact, m.receipts) == (1, 3)
    assert m.precision == pytest.approx(2 / 4)
    assert m.recall == 1.0


def test_a_wrong_quantity_is_partly_right():
    m = _score([("kit", {"COLA": 3})], {"kit": [{"COLA": 2}]})
    assert m.exact == 0
    assert (m.precision, m.recall) == (1.0, pytest.approx(2 / 3))


def test_the_metrics_line_follows_the_design_and_takes_further_fields():
    m = _score([("kit", {"COLA": 1})], {"kit": [{"COLA": 1}]}, review=3, extra={"late": 2})
    assert m.line() == "cAcc=1/1 items_p=1.0000 items_r=1.0000 review=3 amended=0 late=2"
    plain = Metrics(exact=40, receipts=41, precision=0.99, recall=0.5, review=7, events=9)
    pattern = r"cAcc=40/41 items_p=0\.9900 items_r=0\.5000 review=7 amended=0"
    assert re.fullmatch(pattern, plain.line()), plain.line()
