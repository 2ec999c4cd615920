"""With real workers, a camera's frames (two a second) wake a waiting shelf event at most once
a second (under load, the wakes alone would grow the queue faster than workers drain it)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from minigo.celery import app
from store.services.sightings import _not_woken_lately


@pytest.fixture
def eager():
    def set_to(value: bool) -> None:
        app.conf.task_always_eager = value

    before = app.conf.task_always_eager
    yield set_to
    app.conf.task_always_eager = before


def test_a_waiting_event_is_woken_at_most_once_per_second_with_real_workers(eager):
    cache.delete_many(["wake-shelf-event:101", "wake-shelf-event:102"])
    eager(False)
    assert _not_woken_lately([101]) == [101]
    assert _not_woken_lately([101, 102]) == [102]  # 101 has a wake queued already
    cache.delete("wake-shelf-event:101")  # the second has passed
    assert _not_woken_lately([101, 102]) == [101]


def test_embedded_mode_wakes_every_time(eager):
    eager(True)
    assert _not_woken_lately([7, 8]) == [7, 8]
    assert _not_woken_lately([7, 8]) == [7, 8]
