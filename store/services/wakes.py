"""Which shelf events wait for camera evidence, so that a processed frame wakes exactly those.

A shelf event whose picker is in doubt waits (shelf_events._wait) while its camera window may
still bring sightings. It registers here, per shelf device, with its event time; a processed
frame of that shelf asks for the events waiting within its window (its sightings are evidence
for them) or whose window it closes (the first frame captured past it: the event can now be
decided), and queues one re-run for each. Events not yet processed at all are never woken:
their own first task runs after the frame's sightings are committed and sees them.

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
from datetime import datetime

from django.conf import settings

# A mark outlives its wake only if that wake's message is lost; then the event waits for its
# final run, which is queued independently.
WAKE_MARK_TTL_S = 60
# Registry entries of an event decided without clearing them (a crash) age out with the key.
REGISTRY_TTL_S = 900

_client = None
_local_waiting: dict[int, dict[int, tuple[float, bool]]] = {}
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


def local_swap(state: tuple[dict, set] | None = None) -> tuple[dict, set]:
    """Put `state` (or an empty registry) in place of the embedded one, and return what was
    there: a replay runs a store of its own, then gives the process's own back."""
    with _lock:
        previous = (dict(_local_waiting), set(_local_marks))
        _local_waiting.clear()
        _local_marks.clear()
        if state is not None:
            _local_waiting.update(state[0])
            _local_marks.update(state[1])
    return previous


def _prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX") or "minigo"


def waiting_add(
    *, device_pk: int, event_pk: int, occurred_at: datetime, on_frames: bool = False
) -> None:
    """Register a waiting event. `on_frames`: any processed frame of its window (with faces
    or without) wakes it, not only one with sightings: its window has closed and it waits
    only for frames of it still to be processed, or its decision waits for the frames around
    it to be in (a slot without a reach band: attribution.rank)."""
    at = occurred_at.timestamp()
    r = _redis()
    if r is None:
        with _lock:
            _local_waiting.setdefault(device_pk, {})[event_pk] = (at, on_frames)
        return
    key = f"{_prefix()}:waiting:{device_pk}"
    with r.pipeline(transaction=False) as pipe:
        pipe.hset(key, str(event_pk), f"{at!r} frames" if on_frames else repr(at))
        pipe.expire(key, REGISTRY_TTL_S)
        pipe.execute()


def waiting_remove(*, device_pk: int, event_pk: int) -> None:
    r = _redis()
    if r is None:
        with _lock:
            _local_waiting.get(device_pk, {}).pop(event_pk, None)
        return
    r.hdel(f"{_prefix()}:waiting:{device_pk}", str(event_pk))


def _waiting(device_pk: int) -> dict[int, tuple[float, bool]]:
    r = _redis()
    if r is None:
        with _lock:
            return dict(_local_waiting.get(device_pk, {}))
    raw = r.hgetall(f"{_prefix()}:waiting:{device_pk}")
    out = {}
    for k, v in raw.items():
        at, _, flag = v.decode().partition(" ")
        out[int(k)] = (float(at), flag == "frames")
    return out


def waiting_near(*, device_pk: int, when: datetime) -> list[int]:
    """Events registered as waiting at this shelf whose time lies within the attribution
    window of `when`: a frame captured then is evidence for them."""
    window = settings.MINIGO["ATTRIBUTION_WINDOW_S"]
    t = when.timestamp()
    return sorted(pk for pk, (at, _) in _waiting(device_pk).items() if abs(at - t) <= window)


def waiting_to_wake(*, device_pk: int, when: datetime, evidence: bool) -> list[int]:
    """Events a processed frame of this shelf captured at `when` may let decide: those it is
    evidence for (within their window; only if it recorded sightings), those whose window is
    closed and that wait only for their window's frames to be processed (any such frame), and
    those whose window it closes (captured at or past its end, before their final run is due):
    the camera has then sent everything of their window, so they are decided now rather than
    at their final run's countdown."""
    window, grace = settings.MINIGO["ATTRIBUTION_WINDOW_S"], settings.MINIGO["ATTRIBUTION_GRACE_S"]
    t = when.timestamp()
    woken = []
    for pk, (at, on_frames) in _waiting(device_pk).items():
        d = t - at
        if window <= d <= window + grace or ((evidence or on_frames) and abs(d) <= window):
            woken.append(pk)
    return sorted(woken)


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
