"""The agent's SQLite outbox: order, acks, parking, and the disk policy."""

from __future__ import annotations

from edge_agent.outbox import EVENT, FRAME, Outbox


def _ids(outbox: Outbox) -> list[str]:
    return [item.event_id for item in outbox.pending(limit=1000)]


def test_items_leave_in_order_and_only_when_acked(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    for i in range(5):
        outbox.add(event_id=f"e{i}", kind=EVENT, payload="{}")
    assert _ids(outbox) == ["e0", "e1", "e2", "e3", "e4"]
    first = outbox.pending(limit=2)
    assert [i.event_id for i in outbox.pending(after_seq=first[-1].seq)] == ["e2", "e3", "e4"]
    assert outbox.ack("e1") and not outbox.ack("e1")
    assert _ids(outbox) == ["e0", "e2", "e3", "e4"]


def test_it_survives_a_restart(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    outbox.add(event_id="e1", kind=EVENT, payload='{"a": 1}')
    outbox.close()
    again = Outbox(tmp_path / "o.sqlite3")
    assert [(i.event_id, i.payload) for i in again.pending()] == [("e1", b'{"a": 1}')]


def test_an_event_id_is_queued_once(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    assert outbox.add(event_id="e1", kind=EVENT, payload="{}")
    assert not outbox.add(event_id="e1", kind=EVENT, payload="{}")
    assert len(outbox) == 1


def test_idle_frames_go_first_then_event_frames_and_events_never(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3", max_bytes=1000)
    outbox.add(event_id="e1", kind=EVENT, payload="x" * 100)
    outbox.add(event_id="idle1", kind=FRAME, payload=b"x" * 300)
    outbox.add(event_id="near1", kind=FRAME, payload=b"x" * 300, pinned=True)
    outbox.add(event_id="idle2", kind=FRAME, payload=b"x" * 300)
    assert _ids(outbox) == ["e1", "idle1", "near1", "idle2"]  # 1000 bytes: at the budget
    outbox.add(event_id="idle3", kind=FRAME, payload=b"x" * 300)
    assert _ids(outbox) == ["e1", "near1", "idle2", "idle3"]  # the oldest idle frame went
    outbox.add(event_id="near2", kind=FRAME, payload=b"x" * 900, pinned=True)
    # Every idle frame went, then the older event frame; the event stays.
    assert _ids(outbox) == ["e1", "near2"]
    for i in range(20):
        outbox.add(event_id=f"e-more-{i}", kind=EVENT, payload="x" * 100)
    ids = _ids(outbox)
    assert "near2" not in ids and len([i for i in ids if i.startswith("e")]) == 21
    assert outbox.stats()["bytes"] > 1000  # over budget, and still no event dropped


def test_frames_around_an_event_are_pinned(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3", max_bytes=700)
    outbox.add(event_id="old", kind=FRAME, payload=b"x" * 300)
    recent = outbox.pending()[0].created + 1e-6
    outbox.add(event_id="near", kind=FRAME, payload=b"x" * 300)
    assert outbox.pin_frames_since(recent) == 1
    outbox.add(event_id="next", kind=FRAME, payload=b"x" * 300)
    assert _ids(outbox) == ["near", "next"]


def test_a_parked_item_leaves_the_queue_but_not_the_disk(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    outbox.add(event_id="bad", kind=EVENT, payload="{}")
    outbox.add(event_id="good", kind=EVENT, payload="{}")
    assert outbox.park("bad", code="unknown_slot", message="no slot Z9")
    assert _ids(outbox) == ["good"]
    assert outbox.parked() == [("bad", EVENT, "unknown_slot", "no slot Z9")]
    assert outbox.stats() == {"events": 1, "frames": 0, "parked": 1, "bytes": 4}
    assert outbox.requeue_parked() == 1
    assert _ids(outbox) == ["bad", "good"]
