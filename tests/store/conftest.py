"""Fixtures of the store tests that more than one module uses."""

from __future__ import annotations

import pytest

from tests.store.detection_support import with_detector


@pytest.fixture
def camera_shelf(store, monkeypatch):
    """The store's shelf with a detector (tests/store/detection_support.py)."""
    return with_detector(store, monkeypatch)


@pytest.fixture
def two_inside(store, visit, other_shopper):
    """Kit's visit and Ana's, both inside (modules that need them otherwise define their own)."""
    from store.services.visits import visit_open

    return visit, visit_open(shopper=other_shopper, device=store.gate_in)[0]
