"""The agent's link against a small scripted websocket server (no Django): what it does with
each server → device message."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.server import serve

from edge_agent import protocol
from edge_agent.client import Link
from edge_agent.outbox import EVENT, Outbox


async def _run_link(tmp_path, handler, *, events=(), until, **kw):
    outbox = Outbox(tmp_path / "o.sqlite3")
    for event_id in events:
        outbox.add(event_id=event_id, kind=EVENT, payload=json.dumps({"event_id": event_id}))
    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        link = Link(
            url=f"ws://127.0.0.1:{port}/",
            token="t",
            device="gate-in",
            kind="entry",
            outbox=outbox,
            backoff_min_s=0.05,
            backoff_max_s=0.2,
            # These scripted servers send no config first; the link need not wait for one.
            **{"config_wait_s": 0.0, **kw},
        )
        stop = asyncio.Event()
        task = asyncio.create_task(link.run(stop))
        for _ in range(400):
            if until(link, outbox):
                break
            await asyncio.sleep(0.025)
        stop.set()
        await asyncio.wait_for(task, 10)
    return link, outbox


async def test_it_says_hello_with_its_token_and_greets_whom_the_server_names(tmp_path):
    seen = {}
    greeted: list[str] = []

    async def handler(ws):
        seen["auth"] = ws.request.headers["Authorization"]
        seen["hello"] = json.loads(await ws.recv())
        await ws.send(protocol.dumps(protocol.greet("Kit")))
        await ws.wait_closed()

    await _run_link(tmp_path, handler, on_greet=greeted.append, until=lambda *_: greeted)
    assert seen["auth"] == "Bearer t"
    assert seen["hello"]["type"] == "hello" and seen["hello"]["device"] == "gate-in"
    assert greeted == ["Kit"]


async def test_acks_empty_the_outbox_in_order_and_config_is_handed_on(tmp_path):
    received: list[str] = []
    configs: list[dict] = []

    async def handler(ws):
        await ws.recv()  # hello
        await ws.send(protocol.dumps({"type": "config", "v": 1, "slots": [{"slot": "A1"}]}))
        async for raw in ws:
            event_id = json.loads(raw)["event_id"]
            received.append(event_id)
            await ws.send(protocol.dumps(protocol.ack(event_id)))

    events = [f"e{i}" for i in range(50)]
    _, outbox = await _run_link(
        tmp_path,
        handler,
        events=events,
        on_config=configs.append,
        window=4,
        until=lambda link, box: len(box) == 0,
    )
    assert received == events and len(outbox) == 0
    assert configs[0]["slots"] == [{"slot": "A1"}]


async def test_a_permanent_error_parks_and_a_transient_one_resends(tmp_path):
    attempts: list[str] = []

    async def handler(ws):
        await ws.recv()
        async for raw in ws:
            event_id = json.loads(raw)["event_id"]
            attempts.append(event_id)
            if event_id == "bad":
                await ws.send(protocol.dumps(protocol.error("impossible_reading", "no", "bad")))
            elif event_id == "flaky" and attempts.count("flaky") == 1:
                await ws.send(protocol.dumps(protocol.error("server_error", "db", "flaky")))
            else:
                await ws.send(protocol.dumps(protocol.ack(event_id)))

    link, outbox = await _run_link(
        tmp_path,
        handler,
        events=["bad", "flaky", "good"],
        window=1,
        until=lambda link, box: len(box) == 0,
    )
    assert [p[0] for p in outbox.parked()] == ["bad"]
    assert attempts.count("flaky") == 2 and "good" in attempts
    assert link.connects >= 2  # the transient error meant reconnecting
