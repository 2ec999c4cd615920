"""What a replay keeps to itself besides its database: a cache of its own, whose entries expire
on the scenario's clock, and the embedded registry of events waiting for frames, emptied.

Marks in the cache (a queued final decision, a shelf's "last seen" period) and the waiting
registry are keyed by database ids, which every replay's fresh database hands out again from
1: left over from an earlier replay in the same process, or shared with a running store's
Redis, they would change what this replay decides. And a mark that expired by the wall clock
would make the outcome depend on how fast the machine runs (invariant 8)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

from asgiref.local import Local
from django.conf import settings
from django.core.cache import caches, close_caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.utils import timezone

_runs = itertools.count(1)


class ScenarioClockCache(LocMemCache):
    """A process-local cache whose timeouts run on django.utils.timezone.now: the scenario's
    clock while a replay runs (store/replay/local.py SimClock)."""

    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        if timeout == DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        elif timeout == 0:
            timeout = -1  # as Django's: expire at once
        return None if timeout is None else timezone.now().timestamp() + timeout

    def _has_expired(self, key):
        expires = self._expire_info.get(key, -1)
        return expires is not None and expires <= timezone.now().timestamp()


@contextlib.contextmanager
def replay_sandbox() -> Iterator[None]:
    """For the length of one replay: fresh private caches (the default one and the frames'
    pixels), no Redis for the waiting registry, and that registry empty; the process's own
    are put back after."""
    from store.services import wakes

    saved = settings.CACHES, settings.REDIS_URL
    run = next(_runs)
    private = {
        alias: {
            "BACKEND": "store.replay.sandbox.ScenarioClockCache",
            "LOCATION": f"minigo-replay-{run}-{alias}",
            "TIMEOUT": config.get("TIMEOUT", 300),
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
        for alias, config in saved[0].items()
    }
    _use_caches(private)
    settings.REDIS_URL = ""
    registry = wakes.local_swap()
    try:
        yield
    finally:
        for alias in private:
            caches[alias].clear()
        wakes.local_swap(registry)
        settings.REDIS_URL = saved[1]
        _use_caches(saved[0])


def _use_caches(config: dict) -> None:
    # As Django's own test signal does when CACHES changes.
    close_caches()
    settings.CACHES = config
    caches._settings = caches.settings = caches.configure_settings(None)
    caches._connections = Local()
