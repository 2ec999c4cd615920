"""Fault: the agent's disk nearly full. Old idle frames go first, frames around
events next, shelf events never; once the link is back every event is delivered exactly once
and in order."""

from __future__ import annotations

from edge_agent.outbox import EVENT, FRAME, Outbox


def _offline_hours(outbox: Outbox, *, ticks: int, event_every: int, frame_bytes: int):
    """A shelf left offline: its camera queues a frame every tick; every `event_every`
    ticks a pick queues a shelf event and pins the frames around it."""
    events, idle, pinned = [], [], []
    for t in range(ticks):
        fid = f"f{t}"
        near = t % event_every in (event_every - 1, 0) and t > 0
        outbox.add(event_id=fid, kind=FRAME, payload=b"\xff" * frame_bytes, pinned=near)
        (pinned if near else idle).append(fid)
        if t % event_every == 0 and t > 0:
            eid = f"e{t}"
            outbox.add(event_id=eid, kind=EVENT, payload='{"type": "shelf_event"}')
            events.append(eid)
    return events, idle, pinned


def _deliver_all(outbox: Outbox) -> list[str]:
    """The link comes back: send in order, the server acks each once."""
    delivered = []
    while batch := outbox.pending(limit=50):
        for item in batch:
            delivered.append(item.event_id)
            assert outbox.ack(item.event_id)
            assert not outbox.ack(item.event_id)  # a repeated ack changes nothing
    return delivered


def test_a_long_outage_on_a_small_budget_keeps_every_event_and_the_newest_idle_frames(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3", max_bytes=60_000)
    events, idle, pinned = _offline_hours(outbox, ticks=600, event_every=50, frame_bytes=1000)
    queued = [i.event_id for i in outbox.pending(limit=10_000)]
    assert [q for q in queued if q.startswith("e")] == events  # every event, in order
    kept_idle = [q for q in queued if q in set(idle)]
    assert kept_idle == idle[-len(kept_idle) :]  # the oldest idle frames went first
    assert len(kept_idle) < len(idle)
    assert [q for q in queued if q in set(pinned)] == pinned  # frames around events kept
    assert outbox.stats()["bytes"] <= 60_000
    delivered = _deliver_all(outbox)
    assert delivered == queued and len(outbox) == 0


def test_a_disk_that_fills_before_the_budget_drops_frames_never_events(tmp_path, caplog):
    outbox = Outbox(tmp_path / "o.sqlite3", max_bytes=10**9)  # the budget never bites
    pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
    # The file may grow by ~60 pages (240 KB with 4 KB pages) and no more: SQLite then fails
    # writes with SQLITE_FULL, "database or disk is full", as on a full SD card.
    outbox._db.execute(f"PRAGMA max_page_count = {pages + 60}")
    events, idle, pinned = _offline_hours(outbox, ticks=400, event_every=25, frame_bytes=3000)
    queued = [i.event_id for i in outbox.pending(limit=10_000)]
    assert [q for q in queued if q.startswith("e")] == events  # no event lost to the full disk
    frames = [q for q in queued if q.startswith("f")]
    assert 0 < len(frames) < len(idle) + len(pinned)  # frames made the room ...
    assert frames[-1] == "f399"  # ... and the newest are still there
    kept_idle = [q for q in frames if q in set(idle)]
    assert kept_idle == idle[-len(kept_idle) :]
    assert "disk full: dropped" in caplog.text  # the full disk really was hit
    assert _deliver_all(outbox) == queued
