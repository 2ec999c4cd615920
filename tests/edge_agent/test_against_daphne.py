"""The agent's link and the device endpoint over a real socket: a daphne server in its own
process on a free loopback port, sharing the test database (a file for SQLite)."""

from __future__ import annotations

import asyncio
import io
import json
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from PIL import Image
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from edge_agent import protocol
from edge_agent.client import Link
from edge_agent.outbox import EVENT, Outbox
from store.models import Device, Frame, ShelfEvent
from store.services.devices import device_revoke
from tests.edge_agent.daphne_server import DaphneServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FRAME_LIMIT = 100_000


@pytest.fixture(scope="module")
def _daphne(django_db_setup, tmp_path_factory):
    # One server for the module (starting Django takes seconds); each test's store rows are
    # in the shared test database, which the server reads like any client.
    srv = DaphneServer(
        db_name=connection.settings_dict["NAME"],
        log_path=tmp_path_factory.mktemp("daphne") / "daphne.log",
        env={"MINIGO_TEST_FRAME_MAX_BYTES": str(FRAME_LIMIT)},
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def server(_daphne, store):
    if _daphne.proc is None:  # a test stopped it
        _daphne.start()
    return _daphne


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _event(event_id: str, *, before: float = 4200, after: float = 3850, slot: str = "A1") -> dict:
    return protocol.shelf_event(
        event_id=event_id, slot=slot, sensor="load_cell", before=before, after=after, ts=time.time()
    )


def _jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buf, "JPEG")
    return buf.getvalue()


def _queue(outbox: Outbox, event_id: str, **kw) -> None:
    outbox.add(event_id=event_id, kind=EVENT, payload=protocol.dumps(_event(event_id, **kw)))


def _link(server: DaphneServer, store, outbox: Outbox, **kw) -> Link:
    return Link(
        url=server.url,
        token=store.tokens["shelf-1"],
        device="shelf-1",
        kind="shelf",
        outbox=outbox,
        backoff_min_s=0.1,
        backoff_max_s=0.5,
        window=4,
        **kw,
    )


async def _until(check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _text(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), 20))


async def test_events_sent_across_a_server_restart_all_arrive_exactly_once(server, store, tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    first = [f"e-{i}" for i in range(12)]
    for i, event_id in enumerate(first):
        _queue(outbox, event_id, after=3850 - i)
    acks: list[str] = []

    def on_ack(event_id: str, status: str) -> None:
        acks.append(event_id)
        if len(acks) == 5:
            server.kill()  # mid-stream: more events are in flight, some stored but not acked

    link = _link(server, store, outbox, on_ack=on_ack)
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    await _until(lambda: server.proc is None)
    # While the server is down the shelf goes on producing events.
    later = [f"e-late-{i}" for i in range(6)]
    for i, event_id in enumerate(later):
        _queue(outbox, event_id, slot="A2", before=500, after=455 - i)
        link.wake()
    await asyncio.sleep(0.5)
    assert len(outbox) >= len(later)
    server.start()
    await _until(lambda: len(outbox) == 0)
    stop.set()
    await task
    stored = [e.event_id async for e in ShelfEvent.objects.order_by("id")]
    assert sorted(stored) == sorted(first + later)
    assert link.connects >= 2
    # Drained in order: the late events were stored after every earlier one.
    assert stored[-len(later) :] == later


async def test_a_repeated_delivery_is_ignored(server, store):
    event = _event("e-dup")
    async with connect(server.url, additional_headers=_headers(store.tokens["shelf-1"])) as ws:
        assert (await _text(ws))["type"] == "config"
        await ws.send(protocol.dumps(event))
        assert (await _text(ws))["status"] == "stored"
        await ws.send(protocol.dumps(event))
        assert (await _text(ws)) == protocol.ack("e-dup", "duplicate")
    # Again on a new connection, as after an agent restart.
    async with connect(server.url, additional_headers=_headers(store.tokens["shelf-1"])) as ws:
        await _text(ws)
        await ws.send(protocol.dumps(event))
        assert (await _text(ws))["status"] == "duplicate"
    assert await ShelfEvent.objects.filter(event_id="e-dup").acount() == 1


async def test_unknown_and_revoked_tokens_are_refused(server, store):
    async with connect(server.url, additional_headers=_headers("mgd_not-a-token")) as ws:
        assert (await _text(ws))["code"] == "unknown_token"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 20)
    assert ws.close_code == protocol.CLOSE_UNKNOWN_TOKEN

    await sync_to_async(device_revoke)(device=store.shelf_device)
    async with connect(server.url, additional_headers=_headers(store.tokens["shelf-1"])) as ws:
        assert (await _text(ws))["code"] == "revoked_token"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 20)
    assert ws.close_code == protocol.CLOSE_REVOKED_TOKEN


async def test_the_agent_keeps_its_events_while_its_token_is_refused(server, store, tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    _queue(outbox, "e-kept")
    await sync_to_async(device_revoke)(device=store.shelf_device)
    link = _link(server, store, outbox)
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    await _until(lambda: link.auth_refused is not None)
    stop.set()
    await task
    assert link.auth_refused == protocol.CLOSE_REVOKED_TOKEN
    assert [i.event_id for i in outbox.pending()] == ["e-kept"]


BAD_INPUT = [
    ("malformed_json", "text", '{"type": "shelf_event", ', protocol.BAD_JSON),
    ("wrong_type", "text", json.dumps({**_event("e-w"), "before": "4200"}), protocol.BAD_MESSAGE),
    ("bool_for_number", "text", json.dumps({**_event("e-b"), "after": True}), "bad_message"),
    ("unknown_type", "text", json.dumps({"type": "teleport", "v": 1}), protocol.UNKNOWN_TYPE),
    ("text_too_large", "text", "x" * (protocol.MAX_TEXT_BYTES + 10), protocol.MESSAGE_TOO_LARGE),
    (
        "oversized_frame",
        "bytes",
        protocol.encode_frame(
            event_id="f-big", ts=time.time(), jpeg=b"\xff\xd8" + b"\0" * FRAME_LIMIT
        ),
        protocol.FRAME_TOO_LARGE,
    ),
    (
        "corrupt_frame",
        "bytes",
        protocol.encode_frame(event_id="f-bad", ts=time.time(), jpeg=b"\xff\xd8\xff\xe0garbage"),
        protocol.FRAME_CORRUPT,
    ),
    (
        "png_frame",
        "bytes",
        b"",  # filled in below: a PNG is a readable image, but not the JPEG frames must be
        protocol.FRAME_BAD_TYPE,
    ),
    ("short_binary", "bytes", b"\x00\x01", protocol.BAD_MESSAGE),
]


def _png_frame() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48)).save(buf, "PNG")
    return protocol.encode_frame(event_id="f-png", ts=time.time(), jpeg=buf.getvalue())


async def test_bad_input_gets_its_code_and_the_connection_stays_usable(server, store):
    async with connect(
        server.url, additional_headers=_headers(store.tokens["shelf-1"]), max_size=None
    ) as ws:
        assert (await _text(ws))["type"] == "config"
        for n, (name, _kind, data, code) in enumerate(BAD_INPUT):
            if name == "png_frame":
                data = _png_frame()
            await ws.send(data)
            reply = await _text(ws)
            assert (name, reply["type"], reply["code"]) == (name, "error", code)
            # ... and the same socket still stores a good event and a good frame.
            await ws.send(protocol.dumps(_event(f"e-ok-{n}")))
            assert (await _text(ws))["status"] == "stored", name
        await ws.send(protocol.encode_frame(event_id="f-ok", ts=time.time(), jpeg=_jpeg()))
        assert (await _text(ws)) == protocol.ack("f-ok", "stored")
    assert await ShelfEvent.objects.acount() == len(BAD_INPUT)


async def test_a_permanently_refused_event_is_parked_and_the_outbox_moves_on(
    server, store, tmp_path
):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    _queue(outbox, "e-ghost", slot="Z9")  # a slot this shelf does not have
    _queue(outbox, "e-real")
    link = _link(server, store, outbox)
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    await _until(lambda: len(outbox) == 0)
    stop.set()
    await task
    assert [(p[0], p[2]) for p in outbox.parked()] == [("e-ghost", protocol.UNKNOWN_SLOT)]
    assert [e.event_id async for e in ShelfEvent.objects.all()] == ["e-real"]


async def test_device_status_follows_the_connection(server, store, tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    configs: list[dict] = []
    link = _link(server, store, outbox, on_config=configs.append, heartbeat_s=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    await link.connected.wait()
    await _until(lambda: len(configs) >= 2)  # one on connect, one answering hello
    device = await Device.objects.aget(device_id="shelf-1")
    assert device.online and device.software_version.startswith("minigo-agent ")
    seen = device.last_seen
    await asyncio.sleep(0.6)  # heartbeats
    assert (await Device.objects.aget(device_id="shelf-1")).last_seen > seen
    stop.set()
    await task

    async def offline() -> bool:
        return not (await Device.objects.aget(device_id="shelf-1")).online

    deadline = time.monotonic() + 20
    while not await offline():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert [s["slot"] for s in configs[-1]["slots"]] == ["A1", "A2"]


async def test_the_whole_agent_turns_a_noisy_recorded_pick_into_one_stored_event(
    server, store, tmp_path
):
    import cv2
    import numpy as np

    from edge_agent.agent import Agent
    from edge_agent.config import parse
    from tests.conftest import FIXTURES

    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        img = np.full((96, 128, 3), 30 + 100 * i, np.uint8)
        cv2.imwrite(str(images / f"{i}.jpg"), img)
    config = parse(
        {
            "server": {
                "url": server.url,
                "token": store.tokens["shelf-1"],
                "device": "shelf-1",
                "kind": "shelf",
                "backoff_min_s": 0.1,
                "backoff_max_s": 0.5,
            },
            "outbox": {"path": str(tmp_path / "outbox.sqlite3")},
            "sensors": [
                {
                    "slot": "A1",
                    "type": "replay",
                    "sensor": "load_cell",
                    "file": f"{FIXTURES}/sensors/noisy_pick.csv",
                    "realtime": False,
                }
            ],
            "cameras": [{"name": "0", "type": "folder", "path": str(images), "fps": 20}],
        }
    )
    agent = Agent(config)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))

    async def stored() -> int:
        return await ShelfEvent.objects.acount()

    deadline = time.monotonic() + 60
    while await stored() < 1 or len(agent.outbox) or agent.camera_workers[0].sent < 3:
        assert time.monotonic() < deadline, agent.outbox.stats()
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # nothing more may follow
    stop.set()
    await task
    events = [e async for e in ShelfEvent.objects.all()]
    assert len(events) == 1
    assert events[0].slot_code == "A1"
    assert events[0].before == pytest.approx(4200, abs=5)
    assert events[0].after == pytest.approx(3850, abs=5)
    assert await Frame.objects.filter(device__device_id="shelf-1").acount() == 3
