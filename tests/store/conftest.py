"""Fixtures of the store tests that more than one module uses."""

from __future__ import annotations

import pytest

from tests.store.detection_support import with_detector


@pytest.fixture
def camera_shelf(store, monkeypatch):
    """The store's shelf with a detector (tests/store/detection_support.py)."""
    return with_detector(store, monkeypatch)
