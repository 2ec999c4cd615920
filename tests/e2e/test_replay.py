"""Scenario replay through the device endpoint: real face photos and shelf frames, generated
stores with 1, 5 and 20 shoppers at once, and the `replay` / `simulate` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from store.replay.local import replay_scenario
from store.replay.scenario import load
from store.replay.simulate import Params, generate, write
from tests.conftest import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.slow
def test_real_face_photos_at_the_shelf_attribute_every_pick(replay_settings):
    """Obama (obama.jpg) and Biden (biden.jpg) enrolled; the shelf camera sends real photos:
    obama2.jpg after Obama's pick (the frame races the weight event), then two_people.jpg
    with both at the shelf, Obama in front of the left slot and Biden of the right one, and
    real shelf frames with no face. Obama puts a cola back on the crisps' slot."""
    from store.models import CartEntry, Sighting

    outcome = replay_scenario(load(SCENARIOS / "real-faces.jsonl"))
    assert outcome.metrics.line() == ("cAcc=2/2 items_p=1.0000 items_r=1.0000 review=0 amended=0")
    assert outcome.by_shopper == {"obama": [{"COLA": 1}], "biden": [{"CHIPS": 1}]}
    seen = Sighting.objects.filter(shopper__isnull=False)
    assert {s.shopper.user.username for s in seen} == {"obama", "biden"}
    misplaced = CartEntry.objects.get(evidence__misplaced=True)
    assert (misplaced.product.sku, misplaced.slot.code, misplaced.quantity) == ("COLA", "A2", -1)


@pytest.mark.slow
def test_real_face_photos_and_a_qr_code_at_the_gates(replay_settings):
    outcome = replay_scenario(load(SCENARIOS / "real-gates.jsonl"))
    assert outcome.metrics.exact == 2 and outcome.metrics.review == 0


@pytest.mark.parametrize(
    "shoppers,picks,min_cacc,max_review",
    [(1, 12, 1.0, 0.0), (5, 25, 0.9, 0.05), (20, 40, 0.85, 0.06)],
)
def test_generated_stores_with_many_shoppers_at_once(
    replay_settings, tmp_path, shoppers, picks, min_cacc, max_review
):
    path = tmp_path / "scenario.jsonl"
    write(generate(Params(shoppers=shoppers, seed=7, picks=picks)), path)
    scenario = load(path)
    outcome = replay_scenario(scenario, faces=False)
    m = outcome.metrics
    assert m.receipts == len(scenario.expects) >= shoppers
    assert sum(len(r) for r in outcome.by_shopper.values()) == m.receipts
    assert m.cacc >= min_cacc, list(outcome.mismatches(scenario.expects))
    assert m.review / m.events <= max_review
    assert m.precision >= 0.95 and m.recall >= 0.9
    assert not outcome.errors


def test_a_device_cannot_claim_identities_outside_replay(store, settings):
    import time

    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from edge_agent import protocol
    from minigo.asgi import application
    from store.models import Frame
    from store.replay.frames import sees_jpeg

    assert settings.MINIGO["ACCEPT_SEES"] is False  # the default

    async def send() -> dict:
        comm = WebsocketCommunicator(
            application,
            "/ws/device/",
            headers=[(b"authorization", f"Bearer {store.tokens['shelf-1']}".encode())],
        )
        await comm.connect()
        await comm.receive_json_from()
        frame = protocol.encode_frame(
            event_id="f1", ts=time.time(), jpeg=sees_jpeg(), sees={"shoppers": ["kit"]}
        )
        await comm.send_to(bytes_data=frame)
        reply = await comm.receive_json_from()
        await comm.disconnect()
        return reply

    reply = async_to_sync(send)()
    assert reply["type"] == "error" and reply["code"] == "sees_not_accepted"
    assert not Frame.objects.exists()


def test_simulate_writes_the_same_scenario_for_the_same_seed(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write(generate(Params(shoppers=5, seed=3, picks=60)), a)
    write(generate(Params(shoppers=5, seed=3, picks=60)), b)
    assert a.read_bytes() == b.read_bytes()
    lines = [json.loads(x) for x in a.read_text().splitlines()]
    kinds = {x["type"] for x in lines}
    assert {"store", "shopper", "frame", "weight", "expect"} <= kinds
    # Several shoppers at one shelf at once (frames naming two or more), unknown faces,
    # put-backs (weight gains) and wrong-slot returns (a gain on a slot of another product).
    shelf_frames = [x for x in lines if x["type"] == "frame" and x["device"].startswith("shelf")]
    assert any(len(x["sees"]["shoppers"]) >= 2 for x in shelf_frames)
    assert any(s["id"].startswith("unknown") for x in shelf_frames for s in x["sees"]["shoppers"])
    assert any(x["type"] == "weight" and x["after_g"] > x["before_g"] for x in lines)


def test_the_replay_command_uses_its_own_database_and_prints_the_metrics(tmp_path):
    scenario = tmp_path / "s.jsonl"
    write(generate(Params(shoppers=2, seed=1, picks=4)), scenario)
    var = tmp_path / "var"
    env = {**os.environ, "MINIGO_VAR_DIR": str(var), "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, "manage.py", "replay", str(scenario), "--no-progress"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("cAcc=") and " items_p=" in last and " review=" in last
    assert "MiniGo receipt" in out.stdout
    # The configured database (SQLite in MINIGO_VAR_DIR) was never created or touched.
    assert not (var / "minigo.sqlite3").exists()


def test_late_evidence_waits_or_amends_and_the_line_counts_amended_receipts(replay_settings):
    """late-evidence.jsonl: a camera frame that reaches the server after its shopper left,
    and a shelf offline for 90 s while two shoppers pick there and leave (`arrives`)."""
    from store.models import Receipt

    outcome = replay_scenario(load(SCENARIOS / "late-evidence.jsonl"))
    assert outcome.metrics.line() == ("cAcc=3/3 items_p=1.0000 items_r=1.0000 review=0 amended=2")
    kit, ana, bo = Receipt.objects.order_by("visit__entered_at")
    # Kit's receipt waited for the frame: issued once, right. The others went out
    # provisional past the deadline, were amended by the late picks, then made final.
    assert (kit.revision, kit.provisional) == (1, False)
    for receipt in (ana, bo):
        reasons = list(receipt.revisions.values_list("reason", "provisional"))
        assert reasons == [("issued", True), ("late_event", True), ("settled", False)]


def test_a_scenario_line_cannot_arrive_before_it_was_produced(tmp_path):
    from store.replay.scenario import ScenarioError

    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"type": "store", "products": [], "shelves": [], "gates": []}\n'
        '{"t": 5.0, "type": "frame", "device": "gate-in", "sees": {}, "arrives": 4.0}\n'
    )
    with pytest.raises(ScenarioError, match="arrives"):
        load(path)


def test_two_exit_frames_racing_with_a_pending_pick_give_one_receipt_with_it(replay_settings):
    from store.models import Receipt

    outcome = replay_scenario(load(SCENARIOS / "exit-race.jsonl"))
    assert outcome.metrics.line() == ("cAcc=2/2 items_p=1.0000 items_r=1.0000 review=0 amended=0")
    kit = Receipt.objects.get(shopper__user__username="kit")
    assert kit.revision == 1 and Receipt.objects.count() == 2


def test_the_embedded_beat_does_not_run_beside_a_replay(replay_settings):
    """Its wall-clock ticks would decide waiting picks mid-scenario at moments that depend on
    the machine's speed; the replay runs those jobs on the scenario's clock itself."""
    import threading

    replay_settings.MINIGO["EMBEDDED_BEAT"] = True
    outcome = replay_scenario(load(SCENARIOS / "late-evidence.jsonl"))
    assert outcome.metrics.exact == 3
    assert "minigo-embedded-beat" not in {t.name for t in threading.enumerate()}
    assert replay_settings.MINIGO["EMBEDDED_BEAT"] is True  # the store's setting is kept
