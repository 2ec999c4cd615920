#!/usr/bin/env python3
"""A third scenario generator, written from DESIGN.md's scenario replay format alone (not from
the engine, our simulator or the other outside generators): a check that receipts do not hinge
on one way of modelling people.  Stdlib only.  Figures from it describe its own stores only,
not real stores and not the other generators' stores.

Model (every variant):
  Store: 4 camera shelves (shelf-1..4), each 5-7 load-cell slots with one product each.
  Every slot is calibrated with a reach band; bands have uneven widths (at least one narrow
  ~0.08 and one wide ~0.25 per shelf, the rest in between), lie across the view in a random
  order (not slot-code order), some touching, some separated by small uncalibrated gaps
  (0.01-0.03), with uncalibrated margins at the view's edges.  Slot weight = stock x unit.
  People: ~20 shoppers arrive over ~150 s through gate-in (one gate frame per passage),
  visit 2-4 different shelves, and leave through gate-out a few seconds after their last
  stop.  At a shelf a shopper walks into the camera's view from one edge (profile face:
  detected in only ~70% of frames), stops in front of the product they want (face somewhere
  inside that slot's band, not at its centre), browses 1-3.5 s, lifts an item (sometimes a
  second one later, sometimes puts one back on the same slot a few seconds later, sometimes
  takes nothing at all), lingers, then walks out of view to either edge.  Strangers keep
  personal space: a shopper whose spot is taken (another face within 0.14) picks another
  product or waits visibly beside the occupant and steps in when they leave.  Two weight
  changes on one slot are never closer than 0.5 s (one load cell, one reading at a time).
  Shelf cameras give `sees` frames at 2 Hz while anyone is in view (plus one empty frame
  after the view empties); face x carries a small detector wobble (sd 0.003).

Variants (letters q-v, so they do not clash with the other generators):
  q  base, clean: the model above, exact readings.
  r  faces drift during a stop (random walk, sd 0.01 per frame step) and ~35% of stops take
     a second item from the slot next to the first in the view, stepping sideways between
     the picks (the face moves across into the neighbour's band).
  s  camera trouble: frames at 3 fps, timestamps jittered +-0.08 s, 10% of frames dropped,
     5% of (otherwise detected) faces missed per frame.
  t  couples: ~30% of shoppers come in pairs; they enter within 1 s of each other (half of the
     close pairs in one gate frame), walk together, stand side by side at the same shelf
     (faces 0.08-0.12 apart), each taking (or not) from the slot whose band is in front of
     them (the nearest band when in a gap), 40% of the time within 1 s of each other, and
     leave together.
  u  multi-item grabs (25% of lifts take 2-3 of the product in one weight change), knocks
     (15% of stops bump a nearby slot: it loses 0.3-0.6 of a unit and comes back within
     0.4-2 s; no "by"), and sensor noise on every reading (within +-1/3 of the product's
     tolerance, so each change is within tolerance of k units).
  v  r+s+t+u together.

Usage: python3 bench/outside/gen3.py OUTDIR [variants...]   (default: all of q r s t u v)
writes per variant and seed 1-3 OUTDIR/<variant>_s<seed>.jsonl, the same with "by" (who made
each weight change; absent on knocks) as .by.jsonl for bench/event_outcomes.py, and
.truth.json ({shopper id: {sku: quantity carried out}}).
"""

import json
import os
import random
import sys

VARIANTS = {
    "q": set(),
    "r": {"drift", "sidestep"},
    "s": {"camera"},
    "t": {"couples"},
    "u": {"multi", "knocks", "noise"},
}
VARIANTS["v"] = set().union(*VARIANTS.values())
SEEDS = (1, 2, 3)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen3_world import (  # noqa: E402
    World,
    make_people,
    make_store,
)


def settle_weights(rng, world, shelves):
    """Apply every action in time order: clamp to stock, compute readings. Returns weight
    lines (with "by") and each shopper's carried-out items."""
    slots = {(sh["device"], sl["slot"]): sl for sh in shelves for sl in sh["slots"]}
    noise = "noise" in world.flags
    count = {k: sl["stock"] for k, sl in slots.items()}

    def reading(key, grams):
        if not noise:
            return int(round(grams))
        tol = slots[key]["tol"]
        return round(grams + rng.uniform(-tol / 3.0, tol / 3.0), 1)

    last = {k: reading(k, count[k] * sl["unit"]) for k, sl in slots.items()}
    done = {}
    lines = []
    carried = {}
    for a in sorted(world.actions, key=lambda a: (a["t"], a["id"])):
        key = (a["device"], a["slot"])
        sl = slots[key]
        unit = sl["unit"]
        if a["kind"] == "take":
            qty = min(a["qty"], count[key])
            if qty <= 0:
                done[a["id"]] = 0
                continue
            count[key] -= qty
            after = reading(key, count[key] * unit)
        elif a["kind"] == "return":
            qty = min(a["qty"], done.get(a["link"], 0))
            if qty <= 0:
                continue
            done[a["link"]] -= qty
            count[key] += qty
            after = reading(key, count[key] * unit)
        elif a["kind"] == "knock":
            qty = 0
            if count[key] == 0:  # nothing on the cell to tip
                done[a["id"]] = -1
                continue
            after = reading(key, count[key] * unit - a["qty"] * unit)
        else:  # unknock: settles back on the real stock
            qty = 0
            if done.get(a["link"]) == -1:
                continue
            after = reading(key, count[key] * unit)
        if a["kind"] == "take":
            done[a["id"]] = qty
        line = {
            "t": round(a["t"], 2),
            "type": "weight",
            "device": a["device"],
            "slot": a["slot"],
            "before_g": last[key],
            "after_g": after,
        }
        last[key] = after
        if a["by"]:
            line["by"] = a["by"]
            sign = 1 if a["kind"] == "take" else -1
            items = carried.setdefault(a["by"], {})
            items[sl["sku"]] = items.get(sl["sku"], 0) + sign * qty
        lines.append(line)
    for items in carried.values():
        for sku in [s for s, q in items.items() if q == 0]:
            del items[sku]
    return lines, carried


# ----------------------------------------------------------------------------- frames


def shelf_frames(rng, world):
    flags = world.flags
    fps = world.fps
    lines = []
    by_dev = {}
    for tr in world.tracks:
        by_dev.setdefault(tr.device, []).append(tr)
    for dev in sorted(by_dev):
        trs = by_dev[dev]
        t_end = max(tr.end for tr in trs) + 2.0
        phase = rng.uniform(0.0, 1.0 / fps)
        k = 0
        was_busy = False
        prev_t = -1.0
        while True:
            t = phase + k / fps
            k += 1
            if t > t_end:
                break
            inview = [tr for tr in trs if tr.start <= t <= tr.end]
            if not inview and not was_busy:
                continue
            was_busy = bool(inview)
            if "camera" in flags:
                if rng.random() < 0.10:
                    continue
                t = t + rng.uniform(-0.08, 0.08)
            t = round(t, 2)
            if t <= prev_t:
                t = round(prev_t + 0.01, 2)
            prev_t = t
            seen = []
            for tr in inview:
                p = 1.0 if tr.is_frontal(t) else 0.7
                if "camera" in flags:
                    p *= 0.95
                if rng.random() >= p:
                    continue
                x = tr.at(t) + tr.drift_at(t) + rng.gauss(0, 0.003)
                seen.append({"id": tr.sid, "x": round(min(1.0, max(0.0, x)), 3)})
            rng.shuffle(seen)
            lines.append({"t": t, "type": "frame", "device": dev, "sees": {"shoppers": seen}})
    return lines


# ----------------------------------------------------------------------------- scenario


def scenario(variant, seed):
    flags = VARIANTS[variant]
    shelves = make_store(random.Random(f"gen3-store-{seed}"))
    rng = random.Random(f"gen3-people-{variant}-{seed}")
    world = World(rng, flags, shelves)
    ids = make_people(rng, world)
    weights, carried = settle_weights(rng, world, shelves)
    frames = shelf_frames(rng, world)
    gates = [
        {"t": round(t, 2), "type": "frame", "device": dev, "sees": {"shoppers": who}}
        for t, dev, who in world.gates
    ]

    store = {
        "type": "store",
        "products": [
            {
                "sku": sl["sku"],
                "name": sl["name"],
                "price": sl["price"],
                "unit_weight_g": sl["unit"],
                "weight_tolerance_g": sl["tol"],
            }
            for sh in shelves
            for sl in sh["slots"]
        ],
        "shelves": [
            {
                "device": sh["device"],
                "camera": True,
                "slots": [
                    {
                        "slot": sl["slot"],
                        "sku": sl["sku"],
                        "stock": sl["stock"],
                        "sensor": "load_cell",
                        "reach": list(sl["reach"]),
                    }
                    for sl in sh["slots"]
                ],
            }
            for sh in shelves
        ],
        "gates": [{"device": "gate-in", "kind": "entry"}, {"device": "gate-out", "kind": "exit"}],
    }
    head = [store] + [{"type": "shopper", "id": sid, "name": f"Shopper {sid[1:]}"} for sid in ids]
    timed = gates + frames + weights
    order = {"frame": 0, "weight": 1}
    timed.sort(key=lambda ln: (ln["t"], order[ln["type"]]))  # stable: slot lines keep order
    truth = {sid: carried.get(sid, {}) for sid in ids}
    tail = [{"type": "expect", "shopper": sid, "items": truth[sid]} for sid in ids]
    return head, timed, tail, truth


def check(head, timed):
    """Physical consistency: each slot's before_g is its previous after_g, stock >= 0,
    lines in time order."""
    store = head[0]
    units = {p["sku"]: p["unit_weight_g"] for p in store["products"]}
    state = {}
    for sh in store["shelves"]:
        for sl in sh["slots"]:
            state[(sh["device"], sl["slot"])] = None
    prev = -1.0
    for line in timed:
        assert line["t"] >= prev, line
        prev = line["t"]
        if line["type"] == "weight":
            key = (line["device"], line["slot"])
            if state[key] is not None:
                assert state[key] == line["before_g"], line
            assert line["after_g"] >= -5, line
            state[key] = line["after_g"]
    return units


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    out = argv[1]
    variants = argv[2:] or sorted(VARIANTS)
    os.makedirs(out, exist_ok=True)
    for v in variants:
        if v not in VARIANTS:
            print(f"unknown variant {v!r} (have {' '.join(sorted(VARIANTS))})")
            return 2
        for seed in SEEDS:
            head, timed, tail, truth = scenario(v, seed)
            check(head, timed)
            name = os.path.join(out, f"{v}_s{seed}")
            with open(name + ".by.jsonl", "w") as f:
                for line in head + timed + tail:
                    f.write(json.dumps(line) + "\n")
            with open(name + ".jsonl", "w") as f:
                for line in head + timed + tail:
                    if "by" in line:
                        line = {k: val for k, val in line.items() if k != "by"}
                    f.write(json.dumps(line) + "\n")
            with open(name + ".truth.json", "w") as f:
                json.dump(truth, f, indent=1, sort_keys=True)
            n_w = sum(1 for ln in timed if ln["type"] == "weight")
            n_f = sum(1 for ln in timed if ln["type"] == "frame")
            print(f"{name}.jsonl: {len(truth)} shoppers, {n_w} weight lines, {n_f} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
