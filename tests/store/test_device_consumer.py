"""The device endpoint in-process (WebsocketCommunicator)."""

from __future__ import annotations

import io
import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from PIL import Image

from edge_agent import protocol
from minigo.asgi import application
from store.models import Frame, ShelfEvent
from store.services.devices import device_revoke

pytestmark = pytest.mark.django_db(transaction=True)


def _connect(token: str | None) -> WebsocketCommunicator:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    return WebsocketCommunicator(application, "/ws/device/", headers=headers)


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(buf, "JPEG")
    return buf.getvalue()


async def test_a_device_gets_its_config_and_events_are_acked(store):
    comm = _connect(store.tokens["shelf-1"])
    connected, _ = await comm.connect(timeout=10)
    assert connected
    config = await comm.receive_json_from(timeout=10)
    assert config["type"] == "config" and [s["slot"] for s in config["slots"]] == ["A1", "A2"]
    event = {
        "type": "shelf_event",
        "v": 1,
        "event_id": "e1",
        "slot": "A1",
        "sensor": "load_cell",
        "before": 4200,
        "after": 3850,
        "ts": time.time(),
    }
    await comm.send_to(text_data=json.dumps(event))
    assert await comm.receive_json_from(timeout=10) == {
        "type": "ack",
        "v": protocol.VERSION,
        "event_id": "e1",
        "status": "stored",
    }
    await comm.send_to(text_data=json.dumps(event))
    assert (await comm.receive_json_from(timeout=10))["status"] == "duplicate"
    await comm.disconnect()
    assert await ShelfEvent.objects.acount() == 1


async def test_unknown_and_revoked_tokens_are_refused(store):
    # The server's close ends the socket, not the consumer: each one is disconnected here, as
    # a real server does after the close, so none is left waiting on the channel layer for
    # the event loop's teardown to cancel.
    comm = _connect("mgd_nope")
    await comm.connect(timeout=10)
    assert (await comm.receive_json_from(timeout=10))["code"] == "unknown_token"
    assert (await comm.receive_output(timeout=10))["code"] == protocol.CLOSE_UNKNOWN_TOKEN
    await comm.disconnect()

    await database_sync_to_async(device_revoke)(device=store.shelf_device)
    comm = _connect(store.tokens["shelf-1"])
    await comm.connect(timeout=10)
    assert (await comm.receive_json_from(timeout=10))["code"] == "revoked_token"
    assert (await comm.receive_output(timeout=10))["code"] == protocol.CLOSE_REVOKED_TOKEN
    await comm.disconnect()


async def test_bad_input_gets_a_code_and_the_connection_stays_up(store):
    comm = _connect(store.tokens["gate-in"])
    await comm.connect(timeout=10)
    await comm.receive_json_from(timeout=10)  # config
    await comm.send_to(text_data="{oops")
    assert (await comm.receive_json_from(timeout=10))["code"] == "bad_json"
    corrupt = protocol.encode_frame(event_id="f1", ts=time.time(), jpeg=b"\xff\xd8garbage")
    await comm.send_to(bytes_data=corrupt)
    assert (await comm.receive_json_from(timeout=10))["code"] == "frame_corrupt"
    good = protocol.encode_frame(event_id="f2", ts=time.time(), jpeg=_jpeg())
    await comm.send_to(bytes_data=good)
    assert (await comm.receive_json_from(timeout=10))["status"] == "stored"
    await comm.disconnect()
    assert [f.event_id async for f in Frame.objects.all()] == ["f2"]
