"""The agent's watermark: everything it produced before the oldest item still in its outbox
has been acked. It survives a restart mid-outage (the outbox is on disk), is reported as soon
as the outbox drains, and when the server asks (sync) once it has reached the asked time."""

from __future__ import annotations

import asyncio
import json
import time

from websockets.asyncio.server import serve

from edge_agent import protocol
from edge_agent.client import READING_LAG_S, Link, outbox_watermark
from edge_agent.outbox import EVENT, Outbox


def _add(outbox: Outbox, event_id: str) -> None:
    outbox.add(event_id=event_id, kind=EVENT, payload=json.dumps({"event_id": event_id}))


def test_an_empty_outbox_claims_everything_up_to_now_less_the_reading_lag(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    assert outbox_watermark(outbox, now=1000.0) == 1000.0 - READING_LAG_S


def test_the_watermark_stays_below_the_oldest_unsent_item_and_ignores_parked_ones(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    _add(outbox, "bad")
    outbox.park("bad", code="impossible_reading", message="no")
    before = time.time()
    _add(outbox, "e1")
    _add(outbox, "e2")
    mark = outbox_watermark(outbox, now=before + 100)
    assert before - 1 < mark < before + 1  # e1's queue time, not "bad"'s, not now
    outbox.ack("e1")
    outbox.ack("e2")
    assert outbox_watermark(outbox, now=before + 100) == before + 100 - READING_LAG_S


async def _serve_link(outbox: Outbox, handler, until, **kw) -> Link:
    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        link = Link(
            url=f"ws://127.0.0.1:{port}/", token="t", device="shelf-1", kind="shelf",
            outbox=outbox, backoff_min_s=0.05, backoff_max_s=0.2, heartbeat_s=60.0, **kw,
        )  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(link.run(stop))
        for _ in range(400):
            if until():
                break
            await asyncio.sleep(0.025)
        stop.set()
        await asyncio.wait_for(task, 10)
    return link


async def test_an_agent_restarted_mid_outage_reports_its_watermark_once_it_has_caught_up(
    tmp_path,
):
    path = tmp_path / "o.sqlite3"
    first = Outbox(path)
    _add(first, "e1")
    queued = time.time()
    _add(first, "e2")
    first.close()  # the agent stops while the server is unreachable ...
    outbox = Outbox(path)  # ... and starts again: its outbox still holds both events
    stale = outbox_watermark(outbox)
    assert stale < queued
    drained = {}
    beats: list[tuple[float, int]] = []  # (watermark, events received before it)
    received: list[str] = []

    async def handler(ws):
        await ws.recv()  # hello
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("type") == "heartbeat":
                beats.append((msg["watermark"], len(received)))
                continue
            received.append(msg["event_id"])
            drained["at"] = time.time()
            await ws.send(protocol.dumps(protocol.ack(msg["event_id"])))

    await _serve_link(outbox, handler, until=lambda: beats)
    assert received == ["e1", "e2"]
    # Reported right after the drain (not a heartbeat period later): up to the drain.
    assert beats and beats[0][1] == 2
    assert drained["at"] - READING_LAG_S - 0.01 <= beats[0][0] <= time.time()
    assert beats[0][0] > stale


async def test_a_sync_is_answered_once_the_watermark_reaches_the_asked_time(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    beats: list[float] = []
    asked = {}

    async def handler(ws):
        await ws.recv()  # hello
        asked["until"] = time.time() + 0.5  # a shopper leaves "now" by a clock a bit ahead
        await ws.send(protocol.dumps({"type": "sync", "v": 2, "until": asked["until"]}))
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("type") == "heartbeat":
                beats.append(msg["watermark"])

    await _serve_link(outbox, handler, until=lambda: beats)
    assert beats and beats[0] >= asked["until"]
