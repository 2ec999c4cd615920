"""What a replayed device sends for a shelf line: the same shelf_event message an agent sends,
for a load cell's grams and for another sensor's own reading."""

from __future__ import annotations

import json

from edge_agent import protocol
from store.replay.build import device_message


def _message(line):
    kind, body = device_message(line, scenario=None, ts=12.5, event_id="e7", shopper=lambda _: None)
    assert kind == "text"
    return json.loads(body)


def test_a_weight_line_becomes_a_load_cell_shelf_event_in_grams():
    msg = _message({"type": "weight", "slot": "A1", "before_g": 1000.0, "after_g": 650.0})
    assert msg == {
        "type": "shelf_event",
        "v": protocol.VERSION,
        "event_id": "e7",
        "slot": "A1",
        "sensor": "load_cell",
        "before": 1000.0,
        "after": 650.0,
        "ts": 12.5,
    }


def test_a_sensor_line_keeps_its_sensor_and_readings():
    msg = _message(
        {"type": "sensor", "slot": "B2", "sensor": "ultrasonic", "before": 12.0, "after": 18.5}
    )
    assert (msg["sensor"], msg["before"], msg["after"], msg["slot"]) == (
        "ultrasonic",
        12.0,
        18.5,
        "B2",
    )
    assert msg["type"] == "shelf_event" and msg["event_id"] == "e7"
