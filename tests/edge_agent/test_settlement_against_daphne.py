"""An agent restarted in the middle of an outage, against a real daphne server: the receipt of
a shopper who left meanwhile waits for the agent's outbox, and is issued with the pick once
the agent has reconnected, delivered it and reported its watermark (protocol v2)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone

from edge_agent import protocol
from edge_agent.client import Link
from edge_agent.outbox import EVENT, Outbox
from store.models import Device, Receipt, Visit
from store.services.visits import visit_close
from tests.edge_agent.daphne_server import DaphneServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def server(store, tmp_path):
    srv = DaphneServer(db_name=connection.settings_dict["NAME"], log_path=tmp_path / "d.log")
    srv.start()
    yield srv
    srv.stop()


async def test_an_agent_restarted_mid_outage_completes_the_receipt(server, store, visit, tmp_path):
    went_silent = timezone.now() - timedelta(seconds=60)
    await Visit.objects.filter(pk=visit.pk).aupdate(entered_at=went_silent)
    await Device.objects.filter(pk=store.shelf_device.pk).aupdate(
        last_seen=went_silent, watermark=went_silent
    )
    # While the shelf is cut off, Kit takes a cola and walks out.
    path = tmp_path / "outbox.sqlite3"
    before_restart = Outbox(path)
    pick = protocol.shelf_event(
        event_id="offline-1", slot="A1", sensor="load_cell", before=4200, after=3850,
        ts=time.time() - 30,
    )  # fmt: skip
    before_restart.add(event_id="offline-1", kind=EVENT, payload=protocol.dumps(pick))
    before_restart.close()  # the agent restarts, still offline
    left = await sync_to_async(visit_close)(
        visit=visit, device=store.gate_out, at=timezone.now() - timedelta(seconds=20)
    )
    assert left is None  # the shelf has not reported past the exit: the receipt waits
    # The agent is back: its outbox (kept on disk across the restart) drains.
    outbox = Outbox(path)
    link = Link(
        url=server.url, token=store.tokens["shelf-1"], device="shelf-1", kind="shelf",
        outbox=outbox, heartbeat_s=60.0, backoff_min_s=0.1, backoff_max_s=0.5,
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    try:
        receipt = None
        deadline = time.monotonic() + 30
        while receipt is None and time.monotonic() < deadline:
            receipt = await Receipt.objects.filter(visit=visit).afirst()
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert receipt is not None, "no receipt after the agent reconnected"
    lines = [(x.sku, x.quantity) async for x in receipt.lines.all()]
    assert lines == [("COLA", 1)] and receipt.revision == 1 and not receipt.provisional
    assert len(outbox) == 0

    slot = await type(store.a1).objects.aget(pk=store.a1.pk)
    assert slot.stock == store.a1.stock - 1
