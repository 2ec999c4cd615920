"""A replay keeps its marks to itself: a cache and a waiting registry of its own, whose
entries expire on the scenario's clock, and the process's own given back after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

from django.core.cache import cache, caches

from store.replay.sandbox import replay_sandbox
from store.services import wakes


def test_a_replay_never_uses_a_running_stores_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    with replay_sandbox():
        assert settings.REDIS_URL == ""
        assert wakes._redis() is None  # the waiting registry stays in this process
    assert settings.REDIS_URL == "redis://127.0.0.1:6379/15"


def test_a_replay_sees_none_of_the_process_marks_and_leaves_none_behind(settings):
    settings.REDIS_URL = ""  # embedded: the registry is this process's own
    cache.set("final-mark:7", 1)
    caches["frames"].set("pixels:7", b"live")
    wakes.local_swap(({3: {7: (1.0, False)}}, {7}))
    try:
        with replay_sandbox():
            assert cache.get("final-mark:7") is None
            assert caches["frames"].get("pixels:7") is None
            assert wakes.waiting_near(device_pk=3, when=datetime.fromtimestamp(1.0, UTC)) == []
            assert wakes.wake_claim(event_pk=7)  # no mark of the process's event 7
            cache.set("final-mark:8", 1)
            wakes.waiting_add(device_pk=3, event_pk=8, occurred_at=datetime.fromtimestamp(2, UTC))
        assert cache.get("final-mark:7") == 1 and cache.get("final-mark:8") is None
        assert caches["frames"].get("pixels:7") == b"live"
        assert wakes.waiting_near(device_pk=3, when=datetime.fromtimestamp(2.0, UTC)) == [7]
        assert not wakes.wake_claim(event_pk=7)  # its mark is back
    finally:
        wakes.local_swap()
        cache.delete("final-mark:7")
        caches["frames"].delete("pixels:7")


def test_the_replay_cache_expires_on_the_scenario_clock_not_the_wall_clock():
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    clock = {"now": t0}
    with mock.patch("django.utils.timezone.now", lambda: clock["now"]), replay_sandbox():
        cache.set("mark", 1, timeout=60)
        assert cache.add("mark", 2, timeout=60) is False
        # However long the machine takes, the mark stands until the scenario's minute is up.
        with mock.patch("time.time", return_value=t0.timestamp() + 3600):
            assert cache.get("mark") == 1
        clock["now"] = t0 + timedelta(seconds=61)
        assert cache.get("mark") is None
        assert cache.add("mark", 3, timeout=60) is True
