"""The device watermark ("all I produced up to T is sent"): reported in heartbeats, recorded
per device, only ever moving forward; a version 1 agent's heartbeat time stands in for it."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from edge_agent import protocol
from minigo.asgi import application
from store.models import Device

pytestmark = pytest.mark.django_db(transaction=True)


async def _connected(token: str) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(
        application, "/ws/device/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    connected, _ = await comm.connect(timeout=10)
    assert connected
    await comm.receive_json_from(timeout=10)  # config
    return comm


async def _beat(comm, msg) -> dict:
    await comm.send_to(text_data=json.dumps(msg))
    return await comm.receive_json_from(timeout=10)


async def _watermark(device_id: str) -> datetime | None:
    return (await sync_to_async(Device.objects.get)(device_id=device_id)).watermark


async def test_a_version_2_heartbeat_records_the_watermark_and_it_never_moves_back(store):
    comm = await _connected(store.tokens["shelf-1"])
    try:
        mark = time.time() - 5
        reply = await _beat(comm, protocol.heartbeat(ts=time.time(), watermark=mark))
        assert reply["type"] == "heartbeat_ack" and reply["watermark"] == pytest.approx(mark)
        reply = await _beat(comm, protocol.heartbeat(ts=time.time(), watermark=mark - 60))
        assert reply["watermark"] == pytest.approx(mark)
        assert (await _watermark("shelf-1")).timestamp() == pytest.approx(mark, abs=1e-3)
        # A watermark from a clock running ahead is held at the server's now.
        reply = await _beat(comm, protocol.heartbeat(ts=time.time(), watermark=time.time() + 3600))
        assert reply["watermark"] <= time.time()
    finally:
        await comm.disconnect()


async def test_a_version_1_agent_keeps_working_its_heartbeat_time_is_its_watermark(store):
    comm = await _connected(store.tokens["shelf-1"])
    try:
        ts = time.time() - 2
        reply = await _beat(comm, {"type": "heartbeat", "v": 1, "ts": ts})
        assert reply["type"] == "heartbeat_ack" and reply["watermark"] == pytest.approx(ts)
        event = {
            "type": "shelf_event", "v": 1, "event_id": "old-1", "slot": "A1",
            "sensor": "load_cell", "before": 4200, "after": 4200, "ts": ts,
        }  # fmt: skip
        ack = await _beat(comm, event)
        assert ack["type"] == "ack" and ack["status"] == "stored"
    finally:
        await comm.disconnect()


async def test_a_bad_watermark_gets_a_code_and_stores_nothing(store):
    comm = await _connected(store.tokens["shelf-1"])
    try:
        reply = await _beat(comm, {"type": "heartbeat", "v": 2, "ts": time.time(), "watermark": -1})
        assert reply["type"] == "error" and reply["code"] == protocol.BAD_MESSAGE
        reply = await _beat(comm, {"type": "heartbeat", "v": 3, "ts": time.time()})
        assert reply["code"] == protocol.UNSUPPORTED_VERSION
        assert await _watermark("shelf-1") is None
    finally:
        await comm.disconnect()


async def test_a_gate_reports_no_watermark(store):
    comm = await _connected(store.tokens["gate-out"])
    try:
        reply = await _beat(comm, protocol.heartbeat(ts=time.time(), watermark=time.time()))
        assert reply["type"] == "heartbeat_ack" and "watermark" not in reply
        assert await _watermark("gate-out") is None
    finally:
        await comm.disconnect()
