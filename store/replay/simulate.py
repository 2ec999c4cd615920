"""Generating synthetic store scenarios with their expectations (`manage.py simulate`).

`shoppers` shoppers are in the store at once: each of them walks in (a gate frame that
"sees" them), stops at a few shelves, takes items, sometimes puts one back in its slot or in
the wrong slot, and walks out; then someone else (now and then the same person again) comes
in, until `picks` items have been taken. Shelf cameras send a frame every half second while
anybody stands in front of them, naming whom they see and where across the view (a face is
missed now and then; passers-by show up as unknown faces). Load cells read with noise,
occasionally jitter (a change below any item) and are sometimes bumped (a change nothing
explains). Two shoppers at one shelf at once stand at different slots, as people do.

Plain Python: no Django, so it can run anywhere."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
FRAME_EVERY_S = 0.5


@dataclass
class Params:
    shoppers: int = 5
    seed: int = 0
    picks: int = 50
    shelves: int = 0  # 0: enough for the crowd
    putback: float = 0.08
    wrong_slot: float = 0.05
    multi: float = 0.1
    miss_face: float = 0.08
    unknown_face: float = 0.02
    jitter: float = 0.03
    bump: float = 0.01
    reenter: float = 0.1
    noise_sd: float = 0.2  # of the product's tolerance, per reading (within spec)
    truth: bool = False  # write who did each weight change ("by"; replay ignores it)


@dataclass
class SlotState:
    shelf: int
    code: str
    sku: str
    unit: float
    tol: float
    stock: int
    extra_g: float = 0.0  # misplaced items lying on it
    busy: list[tuple[float, float]] = field(default_factory=list)

    def free(self, start: float, end: float) -> bool:
        return all(end < b0 or start > b1 for b0, b1 in self.busy)

    @property
    def grams(self) -> float:
        return self.stock * self.unit + self.extra_g


@dataclass
class Stop:
    shelf: int
    start: float
    end: float
    shopper: str
    x: float


@dataclass
class World:
    p: Params
    rng: random.Random
    slots: list[SlotState]
    lines: list[dict[str, Any]] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)
    expects: list[dict[str, Any]] = field(default_factory=list)
    picks: int = 0


def generate(p: Params) -> list[dict[str, Any]]:
    rng = random.Random(p.seed)
    n_shelves = p.shelves or max(2, min(len(CATALOG) // SLOTS_PER_SHELF, math.ceil(p.shoppers / 2)))
    products = CATALOG[: n_shelves * SLOTS_PER_SHELF]
    slots = []
    for i, (sku, _name, _price, unit, tol) in enumerate(products):
        shelf, pos = divmod(i, SLOTS_PER_SHELF)
        slots.append(SlotState(shelf, f"{'ABCDEFGHIJKL'[shelf]}{pos + 1}", sku, unit, tol, 40))
    world = World(p, rng, slots)
    people = [f"s{i:03d}" for i in range(1, 10_000)]
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
            who, next_person = people[next_person], next_person + 1
        out_t = _visit(world, who, start)
        free_at[lane] = out_t + rng.uniform(0.5, 3.0)
        left.append((who, out_t))
    _frames(world)
    shoppers = sorted({line["who"] for line in world.lines if "who" in line})
    store = {
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
                        "stock": 40,
                        "capacity": 60,
                        "sensor": "load_cell",
                    }
                    for s in slots
                    if s.shelf == k
                ],
            }
            for k in range(n_shelves)
        ],
        "gates": [{"device": "gate-in", "kind": "entry"}, {"device": "gate-out", "kind": "exit"}],
    }
    timed = sorted(world.lines, key=lambda line: line["t"])
    for line in timed:
        line.pop("who", None)
        line["t"] = round(line["t"], 2)
    head = [store] + [{"type": "shopper", "id": s, "name": s.upper()} for s in shoppers]
    return head + timed + world.expects


def _visit(w: World, who: str, t: float) -> float:
    rng, p = w.rng, w.p
    w.lines.append(
        {"t": t, "type": "frame", "device": "gate-in", "sees": {"shoppers": [who]}, "who": who}
    )
    cart: dict[str, int] = {}
    held: list[SlotState] = []  # where each held item came from, one entry per item
    t += rng.uniform(2.0, 6.0)
    few = p.picks < 3 * p.shoppers
    for _ in range(rng.randint(1, 2) if few else rng.randint(2, 4)):
        if w.picks >= p.picks:
            break
        dwell = rng.uniform(3.0, 5.0)
        slot = _free_slot(w, t, t + dwell)
        if slot is None:
            t += 2.0
            continue
        x = _slot_x(slot) + rng.gauss(0, 0.03)
        w.stops.append(Stop(slot.shelf, t, t + dwell, who, x))
        # People do not stand in one another's place: nobody else at this slot meanwhile.
        slot.busy.append((t - 0.5, t + dwell + 0.5))
        at = t + rng.uniform(0.8, 1.6)
        k = 2 if rng.random() < p.multi and slot.stock >= 2 else 1
        _weigh(w, slot, at, -k * slot.unit, who)
        slot.stock -= k
        cart[slot.sku] = cart.get(slot.sku, 0) + k
        held += [slot] * k
        w.picks += 1
        at2 = rng.uniform(at + 0.8, max(at + 0.9, t + dwell - 0.4))  # while still there
        roll = rng.random()
        if roll < p.putback:
            # Changed their mind: the item goes back where it came from.
            _weigh(w, slot, at2, slot.unit, who)
            slot.stock += 1
            cart[slot.sku] -= 1
            held.remove(slot)
        elif roll < p.putback + p.wrong_slot:
            others = [h for h in held if h is not slot]
            if others:
                item = rng.choice(others)
                # Put back here, on the wrong slot: it now lies on this slot's scale.
                _weigh(w, slot, at2, item.unit, who)
                slot.extra_g += item.unit
                cart[item.sku] -= 1
                held.remove(item)
        if rng.random() < p.jitter:
            _weigh(w, slot, t + dwell - 0.2, rng.uniform(-0.3, 0.3) * slot.tol)
        if rng.random() < p.bump:
            _weigh(
                w, slot, t + dwell - 0.1, rng.choice((-1, 1)) * rng.uniform(0.35, 0.6) * slot.unit
            )
        t += dwell + rng.uniform(2.0, 6.0)
    w.lines.append(
        {"t": t, "type": "frame", "device": "gate-out", "sees": {"shoppers": [who]}, "who": who}
    )
    w.expects.append(
        {"type": "expect", "shopper": who, "items": {k: v for k, v in sorted(cart.items()) if v}}
    )
    return t


def _slot_x(slot: SlotState) -> float:
    return (int(slot.code[1:]) - 0.5) / SLOTS_PER_SHELF


def _free_slot(w: World, start: float, end: float) -> SlotState | None:
    free = [s for s in w.slots if s.free(start, end) and s.stock >= 3]
    return w.rng.choice(free) if free else None


def _weigh(w: World, slot: SlotState, t: float, change_g: float, who: str = "") -> None:
    """A load-cell event: the slot's settled weight before and after, each read with noise."""
    sd = slot.tol * w.p.noise_sd
    before = slot.grams + w.rng.gauss(0, sd)
    after = slot.grams + change_g + w.rng.gauss(0, sd)
    w.lines.append(
        {
            "t": t,
            "type": "weight",
            "device": f"shelf-{slot.shelf + 1}",
            "slot": slot.code,
            "before_g": round(max(before, 0.0), 1),
            "after_g": round(max(after, 0.0), 1),
            **({"by": who} if w.p.truth and who else {}),
        }
    )


def _frames(w: World) -> None:
    """Shelf-camera frames every FRAME_EVERY_S while anybody is at the shelf."""
    rng, p = w.rng, w.p
    by_shelf: dict[int, list[Stop]] = {}
    for stop in w.stops:
        by_shelf.setdefault(stop.shelf, []).append(stop)
    for shelf, stops in by_shelf.items():
        ticks = sorted(
            {
                round(math.floor(s.start / FRAME_EVERY_S) * FRAME_EVERY_S + i * FRAME_EVERY_S, 2)
                for s in stops
                for i in range(int((s.end - s.start) / FRAME_EVERY_S) + 2)
            }
        )
        for t in ticks:
            here = [s for s in stops if s.start <= t <= s.end]
            seen: list[Any] = [
                {"id": s.shopper, "x": round(min(1, max(0, s.x + rng.gauss(0, 0.02))), 3)}
                for s in here
                if rng.random() >= p.miss_face
            ]
            if rng.random() < p.unknown_face:
                seen.append({"id": f"unknown-{rng.randrange(10**6)}", "x": round(rng.random(), 3)})
            if here or seen:
                w.lines.append(
                    {
                        "t": t,
                        "type": "frame",
                        "device": f"shelf-{shelf + 1}",
                        "sees": {"shoppers": seen},
                    }
                )


def write(lines: list[dict[str, Any]], path: str | Path) -> None:
    with Path(path).open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, separators=(", ", ": ")) + "\n")
