"""Which shelf events wait for camera evidence, so that a processed frame wakes exactly those.

A shelf event whose picker is in doubt waits (shelf_events._wait) while its camera window may
still bring sightings. It registers here, per shelf device, with its event time; a frame of
that shelf that recorded sightings asks for the events waiting within its window and queues
one re-run for each. Events not yet processed at all are never woken: their own first task
runs after the frame's sightings are committed and sees them.

Coalescing: at most one wake per event is queued at a time (a camera sends two frames a
second). The mark is taken when a wake is queued and dropped when that wake *starts*, before
it reads any sighting, and frames ask only after their sightings have committed. So a frame
either finds no mark and queues a wake, or finds a wake that has not started yet and will read
its sightings: no frame's evidence is ever skipped (a fixed one-second mark could swallow the
one frame that showed the picker).

With Redis (REDIS_URL) the registry is a hash per shelf device, shared by every server and
worker; embedded, a dictionary in the one process that runs everything. It is a hint for
speed only: an event missing from it (Redis restarted) is still decided when its window
closes (its own final run, the periodic settle), with every sighting then stored."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from django.conf import settings

# A mark outlives its wake only if that wake's message is lost; then the event waits for its
# final run, which is queued independently.
WAKE_MARK_TTL_S = 60
# Registry entries of an event decided without clearing them (a crash) age out with the key.
REGISTRY_TTL_S = 900

_client = None
_local_waiting: dict[int, dict[int, float]] = {}
_local_marks: set[int] = set()
_lock = threading.Lock()


def _redis():
    global _client
    if not settings.REDIS_URL:
        return None
    if _client is None:
        import redis  # a tenth of a second, loaded only by a store with Redis

        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


def _prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX") or "minigo"


def waiting_add(*, device_pk: int, event_pk: int, occurred_at: datetime) -> None:
    r = _redis()
    if r is None:
        with _lock:
            _local_waiting.setdefault(device_pk, {})[event_pk] = occurred_at.timestamp()
        return
    key = f"{_prefix()}:waiting:{device_pk}"
    with r.pipeline(transaction=False) as pipe:
        pipe.hset(key, str(event_pk), repr(occurred_at.timestamp()))
        pipe.expire(key, REGISTRY_TTL_S)
        pipe.execute()


def waiting_remove(*, device_pk: int, event_pk: int) -> None:
    r = _redis()
    if r is None:
        with _lock:
            _local_waiting.get(device_pk, {}).pop(event_pk, None)
        return
    r.hdel(f"{_prefix()}:waiting:{device_pk}", str(event_pk))


def waiting_near(*, device_pk: int, when: datetime) -> list[int]:
    """Events registered as waiting at this shelf whose time lies within the attribution
    window of `when`."""
    r = _redis()
    if r is None:
        with _lock:
            entries = dict(_local_waiting.get(device_pk, {}))
    else:
        raw = r.hgetall(f"{_prefix()}:waiting:{device_pk}")
        entries = {int(k): float(v) for k, v in raw.items()}
    window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"]).total_seconds()
    t = when.timestamp()
    return sorted(pk for pk, at in entries.items() if abs(at - t) <= window)


def wake_claim(*, event_pk: int) -> bool:
    """True if no wake of this event is queued and not yet started (the caller queues one)."""
    r = _redis()
    if r is None:
        with _lock:
            if event_pk in _local_marks:
                return False
            _local_marks.add(event_pk)
            return True
    return bool(r.set(f"{_prefix()}:wake-queued:{event_pk}", 1, nx=True, ex=WAKE_MARK_TTL_S))


def wake_started(*, event_pk: int) -> None:
    """Called by a wake as it starts, before it reads sightings."""
    r = _redis()
    if r is None:
        with _lock:
            _local_marks.discard(event_pk)
        return
    r.delete(f"{_prefix()}:wake-queued:{event_pk}")


def registry_clear() -> None:
    """Forget the in-process registry (embedded mode; tests)."""
    with _lock:
        _local_waiting.clear()
        _local_marks.clear()
