"""Devices that were offline and deliver late (`arrives`), through the replay's real device
path: a shelf that first saw a shopper no gate saw come in, an exit gate whose frames arrive
after the shopper came back in, an entry gate whose frames arrive after the shopper was seen
inside or had left."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from store.replay.local import replay_scenario
from store.replay.scenario import load

pytestmark = pytest.mark.django_db(transaction=True)

STORE = {
    "type": "store",
    "products": [
        {"sku": "COLA", "name": "Cola", "price": "1.50", "unit_weight_g": 350,
         "weight_tolerance_g": 15},
        {"sku": "SOUP", "name": "Soup", "price": "2.00", "unit_weight_g": 400,
         "weight_tolerance_g": 15},
    ],
    "shelves": [
        {"device": "shelf-1", "camera": True, "slots": [
            {"slot": "A1", "sku": "COLA", "stock": 10, "reach": [0.0, 0.4]},
            {"slot": "A2", "sku": "SOUP", "stock": 10, "reach": [0.6, 1.0]}]},
        {"device": "shelf-2", "camera": True, "slots": [
            {"slot": "B1", "sku": "SOUP", "stock": 10, "reach": [0.0, 1.0]}]},
    ],
    "gates": [{"device": "gate-in", "kind": "entry"}, {"device": "gate-out", "kind": "exit"}],
}  # fmt: skip


def _scenario() -> list[dict]:
    lines: list[dict] = [STORE]
    lines += [{"type": "shopper", "id": s, "name": s.title()} for s in ("ana", "sam")]
    lines.append({"t": 0.0, "type": "frame", "device": "gate-in", "sees": {"shoppers": ["ana"]}})
    # Sam walked in behind Ana, unseen by the entry camera. Shelf-1 was offline: all it
    # recorded from 3 s to 8 s reaches the server at 30 s.
    late = []
    for k in range(11):
        t = 3.0 + 0.5 * k
        seen = [{"id": "sam", "x": 0.2}, {"id": "ana", "x": 0.8}]
        late.append({"t": t, "type": "frame", "device": "shelf-1", "sees": {"shoppers": seen}})
    late.append({"t": 5.2, "type": "weight", "device": "shelf-1", "slot": "A1",
                 "before_g": 3500, "after_g": 3150})  # fmt: skip
    late.sort(key=lambda line: line["t"])
    for line in late:
        line["arrives"] = 30.0
    lines += late
    # Shelf-2, online, sees Sam clearly at 20 s (the first the server hears of Sam).
    for t in (20.0, 20.5, 21.0):
        lines.append({"t": t, "type": "frame", "device": "shelf-2", "sees": {"shoppers": ["sam"]}})
    for t, who in ((40.0, "ana"), (41.0, "sam")):
        lines.append({"t": t, "type": "frame", "device": "gate-out", "sees": {"shoppers": [who]}})
    lines.append({"type": "expect", "shopper": "ana", "items": {}})
    lines.append({"type": "expect", "shopper": "sam", "items": {"COLA": 1}})
    return lines


def _write(tmp_path, lines: list[dict]):
    path = tmp_path / "late.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return load(path)


def test_a_pick_seen_by_a_late_shelf_goes_to_the_shopper_no_gate_saw(replay_settings, tmp_path):
    from store.models import Visit

    outcome = replay_scenario(_write(tmp_path, _scenario()))
    assert outcome.by_shopper == {"ana": [{}], "sam": [{"COLA": 1}]}
    assert outcome.metrics.line().startswith("cAcc=2/2 items_p=1.0000 items_r=1.0000 review=0")
    sam = Visit.objects.get(shopper__user__username="sam")
    ana = Visit.objects.get(shopper__user__username="ana")
    # The visit opened at shelf-2's frame (20 s) starts at shelf-1's first frame of Sam (3 s).
    assert sam.entry_method == "shelf"
    assert sam.entered_at - ana.entered_at == timedelta(seconds=3)


def _pick(t: float, slot: str, grams: tuple[float, float], who: str, x: float) -> list[dict]:
    """Frames of `who` at shelf-1 around a pick at `t`, and the weight change."""
    lines = [
        {
            "t": t + dt,
            "type": "frame",
            "device": "shelf-1",
            "sees": {"shoppers": [{"id": who, "x": x}]},
        }
        for dt in (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5)
    ]
    before, after = grams
    lines.append({"t": t + 0.2, "type": "weight", "device": "shelf-1", "slot": slot,
                  "before_g": before, "after_g": after})  # fmt: skip
    return lines


def _gate(device: str, t: float, who: str, late: float = 0.0) -> list[dict]:
    lines = [{"t": t + dt, "type": "frame", "device": device, "sees": {"shoppers": [who]}}
             for dt in (0.0, 0.4)]  # fmt: skip
    for line in lines:
        if late:
            line["arrives"] = line["t"] + late
    return lines


def test_an_exit_frame_that_arrives_after_the_shopper_came_back_ends_only_the_first_visit(
    replay_settings, tmp_path
):
    # The exit gate was offline: Kit's first exit reaches the server just after Kit came back
    # in (23 s late); it must not end the second visit before its pick.
    lines = [STORE, {"type": "shopper", "id": "kit", "name": "Kit"}]
    lines += _gate("gate-in", 0.0, "kit")
    lines += _pick(5.0, "A1", (3500, 3150), "kit", 0.2)
    lines += _gate("gate-out", 10.0, "kit", late=23.0)
    lines += _gate("gate-in", 30.0, "kit")
    lines += _pick(35.0, "A2", (4000, 3600), "kit", 0.8)
    lines += _gate("gate-out", 45.0, "kit", late=23.0)
    lines += [{"type": "expect", "shopper": "kit", "items": items}
              for items in ({"COLA": 1}, {"SOUP": 1})]  # fmt: skip
    outcome = replay_scenario(_write(tmp_path, lines))
    assert outcome.by_shopper == {"kit": [{"COLA": 1}, {"SOUP": 1}]}
    assert outcome.metrics.line().startswith("cAcc=2/2 items_p=1.0000 items_r=1.0000 review=0")


def test_an_entry_frame_that_arrives_after_the_visit_opens_nothing_new(replay_settings, tmp_path):
    # The entry gate was offline: a shelf saw Kit inside first (a visit opens there), and the
    # entry frames reach the server after Kit left. Ana walked in on time.
    lines = [STORE] + [{"type": "shopper", "id": s, "name": s.title()} for s in ("kit", "ana")]
    lines += _gate("gate-in", 0.0, "kit", late=40.0)
    lines += _gate("gate-in", 1.0, "ana")
    lines += _pick(5.0, "A1", (3500, 3150), "kit", 0.2)
    lines += _gate("gate-out", 12.0, "kit")
    lines += _gate("gate-out", 50.0, "ana")
    lines += [{"type": "expect", "shopper": "kit", "items": {"COLA": 1}},
              {"type": "expect", "shopper": "ana", "items": {}}]  # fmt: skip
    outcome = replay_scenario(_write(tmp_path, lines))
    assert outcome.by_shopper == {"kit": [{"COLA": 1}], "ana": [{}]}
    assert outcome.metrics.line().startswith("cAcc=2/2 items_p=1.0000 items_r=1.0000 review=0")


def test_a_shelf_visit_moves_back_only_to_a_frame_after_the_last_exit(store, make_user):
    from store.models import Shopper
    from store.services.entry import entry_seen_inside
    from store.services.visits import visit_close, visit_open

    sam = make_user("sam").shopper
    Shopper.objects.filter(pk=sam.pk).update(face_consent=True)
    now = timezone.now()
    first = visit_open(shopper=sam, device=store.gate_in, at=now - timedelta(seconds=60))[0]
    visit_close(visit=first, device=store.gate_out, at=now - timedelta(seconds=40))
    visit = entry_seen_inside(shopper=sam, device=store.shelf_device, at=now)
    assert visit is not None and visit.entry_method == "shelf" and visit.entered_at == now
    # A late frame 5 s after the exit is them walking out, not inside: nothing moves.
    back = entry_seen_inside(shopper=sam, device=store.shelf_device, at=now - timedelta(seconds=35))
    assert back.pk == visit.pk and back.entered_at == now
    # One 20 s after the exit shows them inside by then; a later one moves nothing back.
    for seconds, expected in ((20, 20), (10, 20)):
        at = now - timedelta(seconds=seconds)
        again = entry_seen_inside(shopper=sam, device=store.shelf_device, at=at)
        assert again.pk == visit.pk
        assert again.entered_at == now - timedelta(seconds=expected)


def test_a_visit_a_gate_opened_keeps_its_entry_time(store, visit):
    from store.services.entry import entry_seen_inside

    earlier = visit.entered_at - timedelta(seconds=30)
    same = entry_seen_inside(shopper=visit.shopper, device=store.shelf_device, at=earlier)
    assert same.pk == visit.pk
    visit.refresh_from_db()
    assert same.entered_at == visit.entered_at != earlier
