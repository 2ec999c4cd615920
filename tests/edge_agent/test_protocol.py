from __future__ import annotations

import json

import pytest

from edge_agent import protocol as p


def _event(**over):
    msg = {
        "type": "shelf_event",
        "v": 1,
        "event_id": "e-1",
        "slot": "A1",
        "sensor": "load_cell",
        "before": 4200,
        "after": 3850,
        "ts": 1_700_000_000.0,
    }
    msg.update(over)
    return json.dumps(msg)


def test_a_good_shelf_event_parses():
    msg = p.parse_text(_event())
    assert msg == {
        "type": "shelf_event",
        "event_id": "e-1",
        "slot": "A1",
        "sensor": "load_cell",
        "before": 4200.0,
        "after": 3850.0,
        "ts": 1_700_000_000.0,
    }


@pytest.mark.parametrize(
    "text,code",
    [
        ("{not json", p.BAD_JSON),
        ("[1, 2]", p.BAD_MESSAGE),
        (_event(before="4200"), p.BAD_MESSAGE),
        (_event(before=True), p.BAD_MESSAGE),
        (_event(after=-5), p.IMPOSSIBLE_READING),
        (_event(after=1e12), p.IMPOSSIBLE_READING),
        (_event(sensor="light", before=1, after=0.5), p.IMPOSSIBLE_READING),
        (_event(sensor="laser"), p.BAD_MESSAGE),
        (_event(event_id=""), p.BAD_MESSAGE),
        (_event(v=3), p.UNSUPPORTED_VERSION),
        (json.dumps({"type": "teleport", "v": 1}), p.UNKNOWN_TYPE),
        ("x" * (p.MAX_TEXT_BYTES + 1), p.MESSAGE_TOO_LARGE),
    ],
)
def test_bad_messages_get_their_code(text, code):
    with pytest.raises(p.ProtocolError) as err:
        p.parse_text(text)
    assert err.value.code == code


def test_nan_is_not_a_reading():
    with pytest.raises(p.ProtocolError) as err:
        p.parse_text(_event().replace("3850", "NaN"))
    assert err.value.code == p.IMPOSSIBLE_READING


def test_a_frame_round_trips():
    data = p.encode_frame(event_id="f-9", ts=1_700_000_000.5, jpeg=b"\xff\xd8jpeg", seq=3)
    header, jpeg = p.decode_frame(data, max_bytes=1000)
    assert header == {
        "type": "frame",
        "event_id": "f-9",
        "ts": 1_700_000_000.5,
        "camera": "0",
        "seq": 3,
    }
    assert jpeg == b"\xff\xd8jpeg"


@pytest.mark.parametrize(
    "data,code",
    [
        (b"\x00\x00", p.BAD_MESSAGE),
        (b"\x00\x00\x00\x05{bad}", p.BAD_JSON),
        (b"\xff\xff\xff\xff" + b"x" * 10, p.BAD_MESSAGE),
        (p.encode_frame(event_id="f", ts=1.0, jpeg=b"x" * 2000), p.FRAME_TOO_LARGE),
        (p.encode_frame(event_id="f", ts=1.0, jpeg=b"x", seq=-1), p.BAD_MESSAGE),
    ],
)
def test_bad_frames_get_their_code(data, code):
    with pytest.raises(p.ProtocolError) as err:
        p.decode_frame(data, max_bytes=1000)
    assert err.value.code == code


def test_the_protocol_module_imports_no_django():
    import subprocess
    import sys

    code = "import sys, edge_agent.protocol; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_server_refuses_times_no_clock_reads_and_clocks_far_ahead():
    now = 1_800_000_000.0
    ok = {"event_id": "e", "ts": now + 5}
    p.check_bounds(ok, now=now)
    for ts in (86400.0, 1e12, 253402300000.0, now + 3600):
        with pytest.raises(p.ProtocolError) as err:
            p.check_bounds({"event_id": "e", "ts": ts}, now=now)
        assert err.value.code == p.CLOCK_SKEW and err.value.event_id == "e"
        assert p.is_permanent(err.value.code)


def test_an_agent_with_an_unset_clock_still_builds_its_events():
    # Refused by the server (and parked), but never lost on the Pi.
    msg = p.shelf_event(event_id="e", slot="A1", sensor="load_cell", before=1, after=2, ts=5.0)
    assert msg["ts"] == 5.0


def test_hostile_json_is_bad_json_and_huge_numbers_impossible():
    with pytest.raises(p.ProtocolError) as err:
        p.parse_text("[" * 30000 + "]" * 30000)
    assert err.value.code == p.BAD_JSON
    text = (
        '{"type":"shelf_event","v":1,"event_id":"e","slot":"A1","sensor":"load_cell",'
        '"before":1,"after":' + "9" * 400 + ',"ts":1800000000}'
    )
    with pytest.raises(p.ProtocolError) as err:
        p.parse_text(text)
    assert (err.value.code, err.value.event_id) == (p.IMPOSSIBLE_READING, "e")


def test_frame_fits_measures_the_jpeg_against_the_servers_limit():
    data = p.encode_frame(event_id="f", ts=1_800_000_000.0, jpeg=b"x" * 1000)
    assert p.frame_fits(data, max_bytes=1000)
    assert not p.frame_fits(data, max_bytes=999)
