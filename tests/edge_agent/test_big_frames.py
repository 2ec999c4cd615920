"""A frame over the server's limits never holds back a shelf's events.

The attack: a 1.36 MB frame (1280×960, quality 95) over daphne's 1 MiB websocket message
limit was dropped with the connection; the agent reconnected and sent it first again, and
none of the shelf's events behind it were stored. Now the server's config says its frame
limit, the agent encodes frames to fit it, a queued frame over it is parked unsent, and a
connection cut over a message's size (close 1009) parks that frame too."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from django.db import connection

from edge_agent import protocol
from edge_agent.cameras import encode_jpeg, encode_jpeg_within
from edge_agent.client import Link
from edge_agent.outbox import EVENT, FRAME, Outbox
from store.models import ShelfEvent
from tests.edge_agent.daphne_server import DaphneServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _big_photo() -> np.ndarray:
    """1280×960 of noise: at quality 95 its JPEG is well over 1 MiB, like a busy shelf."""
    return np.random.default_rng(7).integers(0, 255, (960, 1280, 3), dtype=np.uint8)


@pytest.fixture(params=["aligned", "misconfigured"])
def server(request, tmp_path, store):
    """daphne with its stock limits (1 MiB messages) and MiniGo's default frame limit; or a
    server whose frame limit was raised without daphne's (its config says 8 MiB), where only
    the agent's drop detection can keep the frame from blocking the shelf."""
    env = {"MINIGO_TEST_FRAME_MAX_BYTES": str(8 * 1024 * 1024)}
    srv = DaphneServer(
        db_name=connection.settings_dict["NAME"],
        log_path=tmp_path / "d.log",
        env=env if request.param == "misconfigured" else {},
    )
    srv.start()
    yield srv
    srv.stop()


def test_the_agent_encodes_a_frame_to_fit_the_servers_limit():
    photo = _big_photo()
    assert len(encode_jpeg(photo, quality=95)) > protocol.DEFAULT_WS_MAX_MESSAGE_BYTES
    jpeg = encode_jpeg_within(photo, max_bytes=protocol.DEFAULT_FRAME_MAX_BYTES, quality=95)
    assert jpeg is not None and len(jpeg) <= protocol.DEFAULT_FRAME_MAX_BYTES
    tiny = encode_jpeg_within(photo, max_bytes=2000, quality=95)
    assert tiny is None  # not even 160 px fits: skipped, never queued to be refused


@pytest.mark.parametrize("agent_limit", [None, 8 * 1024 * 1024], ids=["from-config", "stale"])
async def test_shelf_events_behind_an_oversized_frame_are_stored(
    server, store, tmp_path, agent_limit
):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    big = encode_jpeg(_big_photo(), quality=95)
    assert len(big) > protocol.DEFAULT_WS_MAX_MESSAGE_BYTES
    frame = protocol.encode_frame(event_id="f-big", ts=time.time(), jpeg=big, camera="0")
    outbox.add(event_id="f-big", kind=FRAME, payload=frame, pinned=True)
    events = [f"e-{i}" for i in range(5)]
    for i, event_id in enumerate(events):
        msg = protocol.shelf_event(
            event_id=event_id, slot="A1", sensor="load_cell", before=4200 - i,
            after=3850 - i, ts=time.time(),
        )  # fmt: skip
        outbox.add(event_id=event_id, kind=EVENT, payload=protocol.dumps(msg))
    kw = {} if agent_limit is None else {"frame_max_bytes": agent_limit}
    link = Link(
        url=server.url, token=store.tokens["shelf-1"], device="shelf-1", kind="shelf",
        outbox=outbox, backoff_min_s=0.1, backoff_max_s=0.5, window=4, **kw,
    )  # fmt: skip
    # "stale": an agent that believes the server takes 8 MiB (a saved config from before a
    # change) sends the frame before the server's config arrives; daphne cuts the connection.
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    deadline = time.monotonic() + 60
    while await ShelfEvent.objects.acount() < len(events):
        assert time.monotonic() < deadline, "the shelf events never arrived"
        await asyncio.sleep(0.1)
    stop.set()
    await task
    stored = sorted([e.event_id async for e in ShelfEvent.objects.all()])
    assert stored == events
    parked = outbox.parked()
    assert [(p[0], p[2]) for p in parked] in (
        [("f-big", protocol.FRAME_TOO_LARGE)],
        [("f-big", protocol.MESSAGE_TOO_LARGE)],
    )
    assert link.frame_max_bytes < len(frame)  # the next such frame is parked unsent
