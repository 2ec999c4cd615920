"""Generating synthetic store scenarios with their expectations (`manage.py simulate`).

Written from how a store and its people behave, not from how the engine decides: `shoppers`
shoppers are in the store at once; each walks in through the entry gate, stops at a few
slots, takes items, sometimes puts one back in its slot or on the wrong slot, and walks out;
then someone else (now and then the same person again) comes in, until `picks` items have
been taken. Each shelf camera was calibrated by the store: every slot has its reach band (the
part of the view where the face of someone taking from it appears), written into the store
line as `reach`. Shelf cameras send a frame every half second while anybody stands in front
of them, naming whom their vision matches and where across the view; load cells read the
settled weight with noise. The perturbations in sim.world.PERTURBATIONS (switched on by name)
make it harder in the ways real stores are hard.

Plain Python: no Django, so it can run anywhere."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

from store.replay.sim import people, sensors
from store.replay.sim.world import PERTURBATIONS, Params, SlotState, World

__all__ = ["CATALOG", "PERTURBATIONS", "Params", "generate", "perturbations", "write"]

CATALOG = [
    ("COLA", "Cola 330ml", "1.50", 350, 12),
    ("JUICE", "Orange juice 250ml", "1.80", 280, 10),
    ("WATER", "Still water 500ml", "0.80", 520, 15),
    ("NOODLES", "Instant noodles", "0.90", 85, 4),
    ("CHOC", "Chocolate bar", "1.20", 50, 2),
    ("CHIPS", "Crisps 40g", "1.10", 45, 2),
    ("APPLE", "Apple", "0.60", 180, 8),
    ("YOGURT", "Yogurt 150g", "0.95", 160, 6),
    ("TEA", "Iced tea 500ml", "1.70", 540, 15),
    ("GUM", "Chewing gum", "0.70", 30, 1.5),
    ("SANDWICH", "Sandwich", "3.20", 230, 9),
    ("NUTS", "Salted nuts 100g", "1.90", 110, 4),
    ("COFFEE", "Cold coffee 250ml", "2.10", 300, 10),
    ("BISCUIT", "Biscuits 200g", "1.40", 215, 8),
    ("MINTS", "Mints", "0.90", 20, 1.0),
    ("SOUP", "Cup soup", "1.30", 70, 3),
]
SLOTS_PER_SHELF = 4
START_STOCK = 40


def perturbations(names: str) -> frozenset[str]:
    """ "all", "none", or comma-separated names from PERTURBATIONS; ValueError on an unknown
    one."""
    wanted = {n.strip() for n in names.split(",") if n.strip()} - {"none"}
    if "all" in wanted:
        return frozenset(PERTURBATIONS)
    unknown = wanted - set(PERTURBATIONS)
    if unknown:
        raise ValueError(f"unknown perturbation(s): {', '.join(sorted(unknown))}")
    return frozenset(wanted)


def generate(p: Params) -> list[dict[str, Any]]:
    rng = random.Random(p.seed)
    n_shelves = p.shelves or max(2, min(len(CATALOG) // SLOTS_PER_SHELF, math.ceil(p.shoppers / 2)))
    products = CATALOG[: n_shelves * SLOTS_PER_SHELF]
    slots = []
    for i, (sku, _name, _price, unit, tol) in enumerate(products):
        shelf, pos = divmod(i, SLOTS_PER_SHELF)
        code = f"{'ABCDEFGHIJKL'[shelf]}{pos + 1}"
        slots.append(SlotState(shelf, code, sku, unit, tol, START_STOCK))
    world = World(p, rng, slots)
    for shelf in range(n_shelves):
        _calibrate(world, [s for s in slots if s.shelf == shelf])
    for s in slots:
        if rng.random() < p.camera_slots:
            s.sensor = "camera"
    people_ids = [f"s{i:03d}" for i in range(1, 10_000)]
    next_person = 0
    left: list[tuple[str, float]] = []
    free_at = [rng.uniform(0, 5) for _ in range(p.shoppers)]
    started = 0
    # Everyone of the first crowd comes in (so `shoppers` really are inside at once), then
    # newcomers keep arriving until the picks are done.
    while world.picks < p.picks or started < p.shoppers:
        started += 1
        lane = min(range(p.shoppers), key=lambda i: free_at[i])
        start = free_at[lane]
        gone = [i for i, (_, out_t) in enumerate(left) if out_t < start - 5.0]
        if gone and rng.random() < p.reenter:
            who = left.pop(rng.choice(gone))[0]
        else:
            who, next_person = people_ids[next_person], next_person + 1
            if rng.random() < p.no_consent:
                world.no_consent.add(who)
        out_t = people.visit(world, who, start)
        free_at[lane] = out_t + rng.uniform(0.5, 3.0)
        left.append((who, out_t))
    if p.on("strangers"):
        people.strangers(world, until=max(t for _, _, t in world.inside))
    sensors.frames(world, {s.code: START_STOCK for s in slots})
    shoppers = sorted({line["who"] for line in world.lines if "who" in line})
    timed = sorted(world.lines, key=lambda line: line["t"])
    for line in timed:
        line.pop("who", None)
        line["t"] = round(line["t"], 2)
    head = [_store_line(slots, products, n_shelves)] + [
        {
            "type": "shopper",
            "id": s,
            "name": s.upper(),
            **({"face_consent": False} if s in world.no_consent else {}),
        }
        for s in shoppers
    ]
    return head + timed + world.expects


def _calibrate(w: World, shelf_slots: list[SlotState]) -> None:
    """Each slot's reach band, as the manager drew it: side by side across the view, in code
    order and of equal width, or (shuffled) in any order and of different widths."""
    rng = w.rng
    order = list(shelf_slots)
    if w.p.on("shuffled"):
        rng.shuffle(order)
        widths = [rng.uniform(0.6, 1.6) for _ in order]
    else:
        widths = [1.0] * len(order)
    left, span = 0.03, 0.94
    total = sum(widths)
    for slot, width in zip(order, widths):
        share = span * width / total
        slot.reach = (round(left, 3), round(left + share, 3))
        left += share


def _store_line(slots: list[SlotState], products: list, n_shelves: int) -> dict[str, Any]:
    return {
        "type": "store",
        "products": [
            {"sku": s, "name": n, "price": pr, "unit_weight_g": u, "weight_tolerance_g": t}
            for s, n, pr, u, t in products
        ],
        "shelves": [
            {
                "device": f"shelf-{k + 1}",
                "camera": True,
                "slots": [
                    {
                        "slot": s.code,
                        "sku": s.sku,
                        "stock": START_STOCK,
                        "capacity": 60,
                        "sensor": s.sensor,
                        "reach": list(s.reach),
                    }
                    for s in slots
                    if s.shelf == k
                ],
            }
            for k in range(n_shelves)
        ],
        "gates": [{"device": "gate-in", "kind": "entry"}, {"device": "gate-out", "kind": "exit"}],
    }


def write(lines: list[dict[str, Any]], path: str | Path) -> None:
    with Path(path).open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, separators=(", ", ": ")) + "\n")
