"""Property-based fuzzing of the device protocol: any input either parses into a clean message
or raises ProtocolError with a known code, never anything else."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent import protocol as p

CODES = {v for k, v in vars(p).items() if k.isupper() and isinstance(v, str)}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["hello", "heartbeat", "shelf_event", "frame", "x"]) | json_values,
        "v": st.sampled_from([1, 2, True, "1"]) | json_values,
        "event_id": st.text(max_size=80) | json_values,
        "slot": st.text(max_size=40) | json_values,
        "sensor": st.sampled_from(list(p.SENSORS)) | json_values,
        "before": st.floats(allow_nan=True, allow_infinity=True) | json_values,
        "after": st.floats(allow_nan=True, allow_infinity=True) | json_values,
        "ts": st.floats(allow_nan=True, allow_infinity=True) | json_values,
        "device": st.text(max_size=70) | json_values,
        "kind": st.sampled_from(list(p.DEVICE_KINDS)) | json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(fields)
def test_any_json_message_parses_or_gets_a_code(msg):
    try:
        clean = p.parse_text(json.dumps(msg))
    except p.ProtocolError as exc:
        assert exc.code in CODES
        return
    assert clean["type"] in {"hello", "heartbeat", "shelf_event"}
    if clean["type"] == "shelf_event":
        assert 0 <= clean["before"] <= 1_000_000 and 0 <= clean["after"] <= 1_000_000
        assert 1 <= len(clean["event_id"]) <= 64


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_as_text_parse_or_get_a_code(data):
    try:
        p.parse_text(data)
    except p.ProtocolError as exc:
        assert exc.code in CODES


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_binary_frame_decodes_or_gets_a_code(data):
    try:
        header, image = p.decode_frame(data, max_bytes=400)
    except p.ProtocolError as exc:
        assert exc.code in CODES
        return
    assert len(image) <= 400 and header["type"] == "frame"
