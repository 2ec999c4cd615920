"""`replay --server --setup` against a real daphne server: the scenario's own store under its
own names (never the store's planogram), `arrives` honoured, shelves reporting watermarks, and
the metrics line read from the server's receipts once it has settled."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management.base import OutputWrapper
from django.db import connection

from store.models import Device, Receipt
from store.replay.remote import play
from store.replay.scenario import load
from tests.edge_agent.daphne_server import DaphneServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
SCENARIOS = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios"


@pytest.fixture
def server(store, tmp_path, settings):
    settings.MINIGO = {**settings.MINIGO, "ACCEPT_SEES": True}
    srv = DaphneServer(
        db_name=connection.settings_dict["NAME"],
        log_path=tmp_path / "daphne.log",
        env={"MINIGO_ACCEPT_SEES": "true"},
    )
    srv.start()
    yield srv
    srv.stop()


def test_a_late_shelf_replayed_against_a_server_is_scored_from_its_final_receipts(server, store):
    stock = store.a1.stock
    buffer = io.StringIO()
    out = OutputWrapper(buffer)  # as the command's stdout
    base = server.url.removesuffix("/ws/device/")
    counts = play(
        load(SCENARIOS / "late-shelf.jsonl"), server=base, speed=1.0, tokens_file=None,
        setup=True, out=out, progress=False, settle_timeout_s=30,
    )  # fmt: skip
    assert counts["error"] == 0 and counts["ack"] == counts["sent"] == 6
    lines = buffer.getvalue().strip().splitlines()
    assert lines[-1] == "cAcc=2/2 items_p=1.0000 items_r=1.0000 review=0 amended=0"
    # The scenario's shelf is its own: the store's shelf-1 and its colas were not touched.
    scenario_shelves = Device.objects.filter(device_id__endswith="-shelf-1")
    assert scenario_shelves.count() == 1 and scenario_shelves.get().watermark is not None
    store.a1.refresh_from_db()
    assert store.a1.stock == stock
    kit = Receipt.objects.get(shopper__user__username__endswith="-kit")
    assert [line.sku.split("-", 1)[1] for line in kit.lines.all()] == ["CHIPS"]
    assert kit.revision == 1 and not kit.provisional  # it waited for the late shelf
