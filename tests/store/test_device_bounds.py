"""Hostile device input beyond sane bounds: each is refused with a permanent code that names
the event (so the agent parks it), never `server_error`, and nothing stored changes.

These are the attacks as an outside tester sent them: a 400-digit number, ts=1e12, JSON
nested 30,000 deep, seq=2**70, a time in the year 9999, a clock far ahead; and repeats of an
event id with another time or a frame id with other pixels."""

from __future__ import annotations

import io
import json
import time

import pytest
from channels.testing import WebsocketCommunicator
from PIL import Image

from edge_agent import protocol
from minigo.asgi import application
from store.models import Frame, ShelfEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _jpeg(colour=(1, 2, 3)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "JPEG")
    return buf.getvalue()


def _event(event_id: str, **over) -> str:
    msg = {
        "type": "shelf_event",
        "v": 1,
        "event_id": event_id,
        "slot": "A1",
        "sensor": "load_cell",
        "before": 4200,
        "after": 3850,
        "ts": time.time(),
        **over,
    }
    return json.dumps(msg)


async def _device(token: str) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(
        application, "/ws/device/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    connected, _ = await comm.connect(timeout=10)
    assert connected
    assert (await comm.receive_json_from(timeout=10))["type"] == "config"
    return comm


def _raw_event(event_id: str, field: str, literal: str) -> str:
    """An event whose `field` is the JSON literal given (a number json.dumps cannot write)."""
    text = _event(event_id, **{field: 0})
    return text.replace(f'"{field}": 0', f'"{field}": {literal}')


@pytest.mark.parametrize(
    ("name", "message", "code"),
    [
        ("400 digits", lambda: _raw_event("big", "after", "9" * 400), "impossible_reading"),
        ("ts=1e12", lambda: _raw_event("far", "ts", "1e12"), "clock_skew"),
        ("year 9999", lambda: _event("y9999", ts=253402300000.0), "clock_skew"),
        ("clock not set", lambda: _event("y1970", ts=86400.0), "clock_skew"),
        ("an hour ahead", lambda: _event("ahead", ts=time.time() + 3600), "clock_skew"),
        (
            "huge ts integer",
            lambda: _raw_event("bigts", "ts", "1" + "0" * 300),
            "impossible_reading",
        ),
    ],
)
async def test_out_of_bounds_shelf_events_are_refused_with_a_permanent_code(
    store, name, message, code
):
    comm = await _device(store.tokens["shelf-1"])
    text = message()
    event_id = json.loads(text)["event_id"]
    await comm.send_to(text_data=text)
    reply = await comm.receive_json_from(timeout=10)
    assert reply["type"] == "error", name
    assert reply["code"] == code, (name, reply)
    assert reply["event_id"] == event_id  # so the agent knows which event to park
    assert protocol.is_permanent(reply["code"])
    # The socket still works and nothing was stored.
    await comm.send_to(text_data=_event("after-" + event_id))
    assert (await comm.receive_json_from(timeout=10))["status"] == "stored"
    await comm.disconnect()
    assert [e.event_id async for e in ShelfEvent.objects.all()] == ["after-" + event_id]


async def test_json_nested_30000_deep_is_bad_json_not_a_server_error(store):
    comm = await _device(store.tokens["shelf-1"])
    await comm.send_to(text_data="[" * 30000 + "]" * 30000)
    reply = await comm.receive_json_from(timeout=10)
    assert reply["code"] == "bad_json" and protocol.is_permanent(reply["code"])
    deep = '{"type":"frame","v":1,"event_id":"deep","ts":1,"x":' + "[" * 2000 + "]" * 2000 + "}"
    header = deep.encode()
    await comm.send_to(bytes_data=len(header).to_bytes(4, "big") + header + _jpeg())
    assert (await comm.receive_json_from(timeout=10))["code"] == "bad_json"
    await comm.disconnect()


async def test_a_frame_with_seq_2_to_the_70_is_refused_and_nothing_stored(store):
    comm = await _device(store.tokens["gate-in"])
    data = protocol.encode_frame(event_id="f-seq", ts=time.time(), jpeg=_jpeg(), seq=2**70)
    await comm.send_to(bytes_data=data)
    reply = await comm.receive_json_from(timeout=10)
    assert (reply["code"], reply["event_id"]) == ("bad_message", "f-seq")
    future = protocol.encode_frame(event_id="f-9999", ts=253402300000.0, jpeg=_jpeg())
    await comm.send_to(bytes_data=future)
    reply = await comm.receive_json_from(timeout=10)
    assert (reply["code"], reply["event_id"]) == ("clock_skew", "f-9999")
    await comm.disconnect()
    assert await Frame.objects.acount() == 0


async def test_sees_not_accepted_names_the_frame_and_is_permanent(store, settings):
    settings.MINIGO = {**settings.MINIGO, "ACCEPT_SEES": False}
    comm = await _device(store.tokens["gate-in"])
    data = protocol.encode_frame(
        event_id="f-sees", ts=time.time(), jpeg=_jpeg(), sees={"shoppers": ["kit"]}
    )
    await comm.send_to(bytes_data=data)
    reply = await comm.receive_json_from(timeout=10)
    assert (reply["code"], reply["event_id"]) == ("sees_not_accepted", "f-sees")
    assert protocol.is_permanent(reply["code"])
    await comm.disconnect()


async def test_a_repeated_event_id_with_another_time_is_a_conflict_not_a_duplicate(store):
    comm = await _device(store.tokens["shelf-1"])
    ts = time.time()
    await comm.send_to(text_data=_event("e-same", ts=ts))
    assert (await comm.receive_json_from(timeout=10))["status"] == "stored"
    await comm.send_to(text_data=_event("e-same", ts=ts))
    assert (await comm.receive_json_from(timeout=10))["status"] == "duplicate"
    await comm.send_to(text_data=_event("e-same", ts=ts - 30))
    reply = await comm.receive_json_from(timeout=10)
    assert (reply["type"], reply["code"], reply["event_id"]) == (
        "error",
        "event_conflict",
        "e-same",
    )
    await comm.disconnect()
    stored = await ShelfEvent.objects.aget(event_id="e-same")
    assert abs(stored.occurred_at.timestamp() - ts) < 0.001  # the first one stays


async def test_a_repeated_frame_id_with_other_pixels_is_a_conflict(store):
    comm = await _device(store.tokens["gate-in"])
    ts = time.time()
    first = protocol.encode_frame(event_id="f-1", ts=ts, jpeg=_jpeg((1, 2, 3)))
    await comm.send_to(bytes_data=first)
    assert (await comm.receive_json_from(timeout=10))["status"] == "stored"
    await comm.send_to(bytes_data=first)
    assert (await comm.receive_json_from(timeout=10))["status"] == "duplicate"
    other = protocol.encode_frame(event_id="f-1", ts=ts, jpeg=_jpeg((200, 10, 10)))
    await comm.send_to(bytes_data=other)
    reply = await comm.receive_json_from(timeout=10)
    assert (reply["code"], reply["event_id"]) == ("frame_conflict", "f-1")
    assert protocol.is_permanent(reply["code"])
    later = protocol.encode_frame(event_id="f-1", ts=ts + 5, jpeg=_jpeg((1, 2, 3)))
    await comm.send_to(bytes_data=later)
    assert (await comm.receive_json_from(timeout=10))["code"] == "frame_conflict"
    await comm.disconnect()
    assert await Frame.objects.acount() == 1


async def test_nul_bytes_from_a_device_are_refused_or_dropped_never_a_server_error(store):
    # PostgreSQL cannot store NUL in text: unchecked, each of these was a server_error.
    comm = await _device(store.tokens["shelf-1"])
    await comm.send_to(text_data=_event("e-nul", slot="A\u00001"))
    reply = await comm.receive_json_from(timeout=10)
    assert (reply["code"], reply["event_id"]) == ("bad_message", "e-nul")
    hello = protocol.hello(device="shelf-1", kind="shelf", software="agent\u0000 1.0")
    await comm.send_to(text_data=json.dumps(hello))
    assert (await comm.receive_json_from(timeout=10))["type"] == "config"
    frame = protocol.encode_frame(event_id="f-nul", ts=time.time(), jpeg=_jpeg(), camera="c\u00000")
    await comm.send_to(bytes_data=frame)
    assert (await comm.receive_json_from(timeout=10))["status"] == "stored"
    await comm.disconnect()
    assert (await Frame.objects.aget(event_id="f-nul")).camera == "c0"


async def test_a_watermark_no_clock_reads_is_clock_skew_and_the_device_stays_online(store):
    from store.models import Device

    comm = await _device(store.tokens["shelf-1"])
    await comm.send_to(text_data=json.dumps(protocol.heartbeat(ts=time.time(), watermark=1e12)))
    reply = await comm.receive_json_from(timeout=10)
    assert (reply["type"], reply["code"]) == ("error", "clock_skew")
    device = await Device.objects.aget(device_id="shelf-1")
    assert device.online and device.watermark is None
    await comm.send_to(
        text_data=json.dumps(protocol.heartbeat(ts=time.time(), watermark=time.time()))
    )
    assert (await comm.receive_json_from(timeout=10))["type"] == "heartbeat_ack"
    await comm.disconnect()
