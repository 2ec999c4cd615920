#!/usr/bin/env python3
"""A second scenario generator, written from DESIGN.md's scenario format alone, by someone who
had not read the engine (store/) or our own simulator (store/replay/sim): a check that the
engine's receipts do not depend on how our simulator models people. Stdlib only.

Model: a store of 5 camera shelves, each with 4-5 load-cell slots whose calibrated
reach bands have random widths and are laid out across the camera view in a random
(not slot-code) order.  ~20 shoppers arrive spread over ~150 s, each visits 2-4
shelves, at each stands in front of one slot (face x inside that slot's band) for a
few seconds, usually lifts 1 (sometimes 2) items, sometimes puts one back on the same
slot, walks on, finally exits.  Shelf cameras emit `sees` frames at 2 Hz while anyone
stands in front.  When another person already stands at a shelf, a newcomer often
takes the neighbouring slot in the view.

Variants: a clean | b x noise sd 0.05 | c 10% sightings dropped + strangers |
          d some shoppers without face consent (QR at gates) | e 3% id confusion |
          f (extra stress) b+c+e together plus a per-stop face offset (sd 0.03) |
          g (extra) clean + passers-by: shoppers walking between stops cross other
            shelves' views (x sweeps 0->1 or 1->0 in 2-3 s).

Usage: python3 bench/outside/gen.py OUTDIR -> <variant>_s<seed>.jsonl, the same with "by" (who
made each weight change, for bench/event_outcomes.py) as .by.jsonl, and .truth.json. Figures
from it describe this generator's stores only, not real ones.
"""

import json
import math
import os
import random
import sys

PRODUCTS = [
    ("COLA", "Cola 330ml", "1.50", 350, 12),
    ("WATR", "Water 500ml", "0.90", 520, 15),
    ("CHIP", "Crisps 150g", "2.20", 165, 8),
    ("CHOC", "Chocolate bar", "1.10", 52, 4),
    ("SOUP", "Tomato soup can", "1.80", 415, 12),
    ("RICE", "Rice 1kg", "3.40", 1010, 25),
    ("TEAB", "Tea 80 bags", "2.90", 260, 10),
    ("GUM", "Gum pack", "0.80", 28, 3),
    ("JUIC", "Orange juice 1l", "2.50", 1080, 25),
    ("BEAN", "Baked beans", "1.20", 445, 12),
    ("COOK", "Cookies 300g", "2.10", 318, 10),
    ("NUTS", "Peanuts 200g", "2.40", 215, 8),
    ("SOAP", "Hand soap", "1.90", 290, 10),
    ("PAST", "Pasta 500g", "1.30", 505, 12),
    ("CERE", "Cereal 375g", "3.10", 402, 12),
    ("MILK", "Milk 1l", "1.20", 1045, 20),
    ("YOGH", "Yoghurt 4x", "2.60", 500, 14),
    ("BARS", "Granola bar", "0.70", 38, 3),
    ("SALT", "Salt 500g", "0.60", 508, 12),
    ("OILV", "Olive oil 0.5l", "5.90", 740, 18),
    ("CAND", "Candles", "3.50", 180, 8),
    ("TUNA", "Tuna can", "1.60", 185, 6),
    ("FLOU", "Flour 1kg", "1.10", 1020, 25),
    ("HONY", "Honey jar", "4.20", 470, 12),
    ("SPNG", "Sponges 3x", "1.40", 64, 4),
]

N_SHELVES = 5
FPS = 2.0


def make_store(rng):
    prods = list(PRODUCTS)
    rng.shuffle(prods)
    shelves = []
    pi = 0
    for s in range(N_SHELVES):
        n = rng.choice([4, 4, 5])
        codes = [f"{'ABCDE'[s]}{i + 1}" for i in range(n)]
        # random widths, random gaps, then random slot order across the view
        widths = [rng.uniform(0.6, 2.2) for _ in range(n)]
        gaps = [rng.uniform(0.15, 0.5) for _ in range(n + 1)]
        tot = sum(widths) + sum(gaps)
        widths = [w / tot for w in widths]
        gaps = [g / tot for g in gaps]
        order = codes[:]
        while order == codes or order == codes[::-1]:
            rng.shuffle(order)
        x = gaps[0]
        bands = {}
        view_order = []
        for i, code in enumerate(order):
            bands[code] = (round(x, 3), round(x + widths[i], 3))
            view_order.append(code)
            x += widths[i] + gaps[i + 1]
        slots = []
        for code in codes:
            sku, name, price, uw, tol = prods[pi]
            pi += 1
            slots.append(
                {
                    "slot": code,
                    "sku": sku,
                    "stock": rng.randint(25, 40),
                    "sensor": "load_cell",
                    "reach": list(bands[code]),
                }
            )
        shelves.append(
            {"device": f"shelf-{s + 1}", "camera": True, "slots": slots, "_view_order": view_order}
        )
    used = {sl["sku"] for sh in shelves for sl in sh["slots"]}
    products = [
        {
            "sku": p[0],
            "name": p[1],
            "price": p[2],
            "unit_weight_g": p[3],
            "weight_tolerance_g": max(p[4], 8),
        }
        for p in PRODUCTS
        if p[0] in used
    ]
    return products, shelves


def gen(variant, seed, n_shoppers=20):
    rng = random.Random(f"{variant}-{seed}")
    products, shelves = make_store(rng)
    uw = {p["sku"]: p["unit_weight_g"] for p in products}
    shelf_by_dev = {sh["device"]: sh for sh in shelves}
    slot_info = {(sh["device"], sl["slot"]): sl for sh in shelves for sl in sh["slots"]}
    stock = {k: v["stock"] for k, v in slot_info.items()}

    occupancy = {}  # (dev, slot) -> list of (start, end, person)
    presence = []  # dicts: person, dev, slot, start, end, center
    picks = []  # dicts: t, dev, slot, person, delta(+take count)
    shoppers = []
    timed = []

    arrivals = sorted(rng.uniform(0, 150) for _ in range(n_shoppers))
    no_consent = set()
    ids = [f"p{i + 1:02d}" for i in range(n_shoppers)]
    if variant == "d":
        no_consent = set(rng.sample(ids, max(3, n_shoppers // 4)))

    def free(dev, slot, a, b):
        for s, e, _ in occupancy.get((dev, slot), []):
            if s < b + 0.5 and a < e + 0.5:
                return False
        return True

    def at_shelf(dev, a, b, exclude):
        return [
            p
            for p in presence
            if p["dev"] == dev and p["person"] != exclude and p["start"] < b and a < p["end"]
        ]

    visits = {}
    walks = []
    for pid, t0 in zip(ids, arrivals):
        t = t0
        truth = {}
        nvis = rng.randint(2, 4)
        seq = []
        for _ in range(nvis):
            t_walk0 = t
            t += rng.uniform(4, 14)  # walking
            dev = rng.choice(list(shelf_by_dev))
            sh = shelf_by_dev[dev]
            vo = sh["_view_order"]
            browse = rng.random() < 0.12
            qty = 2 if rng.random() < 0.2 else 1
            putback = (not browse) and rng.random() < 0.22
            dwell = rng.uniform(4, 8) + (rng.uniform(2, 4) if putback else 0)
            for _try in range(40):
                a, b = t, t + dwell
                others = at_shelf(dev, a, b, pid)
                cands = [c for c in vo if free(dev, c, a, b)]
                if cands:
                    if others and rng.random() < 0.6:
                        nb = set()
                        for o in others:
                            i = vo.index(o["slot"])
                            nb.update(vo[j] for j in (i - 1, i + 1) if 0 <= j < len(vo))
                        nbc = [c for c in cands if c in nb]
                        if nbc:
                            cands = nbc
                    slot = rng.choice(cands)
                    break
                t += rng.uniform(1, 3)
            else:
                continue
            band = slot_info[(dev, slot)]["reach"]
            w = band[1] - band[0]
            center = rng.uniform(band[0] + 0.25 * w, band[1] - 0.25 * w)
            occupancy.setdefault((dev, slot), []).append((a, b, pid))
            presence.append(
                {
                    "person": pid,
                    "dev": dev,
                    "slot": slot,
                    "start": a,
                    "end": b,
                    "center": center,
                    "kind": "shopper",
                }
            )
            if not browse:
                tp = a + rng.uniform(1.2, 2.8)
                q = min(qty, stock[(dev, slot)])
                picks.append({"t": tp, "dev": dev, "slot": slot, "person": pid, "take": q})
                sku = slot_info[(dev, slot)]["sku"]
                truth[sku] = truth.get(sku, 0) + q
                if putback:
                    tr = tp + rng.uniform(1.5, dwell - (tp - a) - 1.0)
                    picks.append({"t": tr, "dev": dev, "slot": slot, "person": pid, "take": -1})
                    truth[sku] -= 1
            seq.append((dev, slot, a, b))
            walks.append((pid, t_walk0, a))
            t = b
        t_exit = t + rng.uniform(5, 15)
        truth = {k: v for k, v in truth.items() if v > 0}
        visits[pid] = (t0, t_exit, truth, seq)
        line = {"type": "shopper", "id": pid, "name": f"Shopper {pid[1:]}"}
        if pid in no_consent:
            line["face_consent"] = False
        shoppers.append(line)
        if pid in no_consent:
            timed.append({"t": round(t0, 2), "type": "qr", "device": "gate-in", "shopper": pid})
            timed.append(
                {"t": round(t_exit, 2), "type": "qr", "device": "gate-out", "shopper": pid}
            )
        else:
            timed.append(
                {
                    "t": round(t0, 2),
                    "type": "frame",
                    "device": "gate-in",
                    "sees": {"shoppers": [pid]},
                }
            )
            timed.append(
                {
                    "t": round(t_exit, 2),
                    "type": "frame",
                    "device": "gate-out",
                    "sees": {"shoppers": [pid]},
                }
            )

    # strangers (variant c): stand at a slot next to a shopper, take nothing
    if variant in "cf":
        k = 0
        cand = [p for p in presence]
        rng.shuffle(cand)
        for p in cand[:6]:
            dev = p["dev"]
            vo = shelf_by_dev[dev]["_view_order"]
            a = p["start"] + rng.uniform(-1, 1.5)
            b = a + rng.uniform(4, 8)
            i = vo.index(p["slot"])
            nbs = [vo[j] for j in (i - 1, i + 1) if 0 <= j < len(vo)]
            nbs = [c for c in nbs if free(dev, c, a, b)]
            if not nbs:
                continue
            slot = rng.choice(nbs)
            band = slot_info[(dev, slot)]["reach"]
            w = band[1] - band[0]
            k += 1
            sid = f"stranger-{k}"
            occupancy.setdefault((dev, slot), []).append((a, b, sid))
            presence.append(
                {
                    "person": sid,
                    "dev": dev,
                    "slot": slot,
                    "start": a,
                    "end": b,
                    "center": rng.uniform(band[0] + 0.25 * w, band[1] - 0.25 * w),
                    "kind": "stranger",
                }
            )

    # passers-by (variant g): a shopper walking between stops crosses another shelf's view
    if variant == "g":
        for pid, w0, w1 in walks:
            if rng.random() < 0.7 and w1 - w0 > 3.5:
                dev = rng.choice(list(shelf_by_dev))
                dur = rng.uniform(2.0, 3.0)
                a = rng.uniform(w0 + 0.3, w1 - dur - 0.2)
                x0, x1 = (0.02, 0.98) if rng.random() < 0.5 else (0.98, 0.02)
                presence.append(
                    {
                        "person": pid,
                        "dev": dev,
                        "slot": None,
                        "start": a,
                        "end": a + dur,
                        "center": x0,
                        "sweep": [x0, x1],
                        "kind": "passer",
                    }
                )

    # weight events, in time order per slot, stock-consistent
    wlog = []
    for pk in sorted(picks, key=lambda p: p["t"]):
        key = (pk["dev"], pk["slot"])
        u = uw[slot_info[key]["sku"]]
        before = stock[key]
        stock[key] = before - pk["take"]
        bg = before * u + rng.gauss(0, 1.5)
        ag = stock[key] * u + rng.gauss(0, 1.5)
        ev = {
            "t": round(pk["t"], 2),
            "type": "weight",
            "device": pk["dev"],
            "slot": pk["slot"],
            "before_g": round(bg, 1),
            "after_g": round(ag, 1),
        }
        timed.append(ev)
        wlog.append(dict(ev, person=pk["person"], take=pk["take"]))

    # shelf camera frames
    in_store = {pid: (v[0], v[1]) for pid, v in visits.items()}
    sd = 0.05 if variant in "bf" else 0.0
    for p in presence:  # f: a person's face sits a bit off the band centre for the whole stop
        p["bias"] = rng.gauss(0, 0.03) if variant == "f" else 0.0
    sightings = []
    for sh in shelves:
        dev = sh["device"]
        phase = rng.uniform(0, 1 / FPS)
        pres = [p for p in presence if p["dev"] == dev]
        if not pres:
            continue
        lo = min(p["start"] for p in pres)
        hi = max(p["end"] for p in pres)
        n0 = math.floor((lo - phase) * FPS)
        n1 = math.ceil((hi - phase) * FPS)
        for n in range(n0, n1 + 1):
            ft = n / FPS + phase
            here = [p for p in pres if p["start"] <= ft <= p["end"]]
            if not here:
                continue
            seen = []
            for p in here:
                c = p["center"]
                if p.get("sweep"):
                    x0, x1 = p["sweep"]
                    c = x0 + (x1 - x0) * (ft - p["start"]) / (p["end"] - p["start"])
                x = c + p["bias"] + rng.gauss(0, 0.008) + (rng.gauss(0, sd) if sd else 0)
                x = min(1.0, max(0.0, x))
                pid = p["person"]
                if variant in "cf" and rng.random() < 0.10:
                    sightings.append((ft, dev, pid, None, "dropped"))
                    continue
                shown = pid
                if variant in "ef" and p["kind"] == "shopper" and rng.random() < 0.03:
                    others = [o for o, (a, b) in in_store.items() if o != pid and a <= ft <= b]
                    if others:
                        shown = rng.choice(others)
                seen.append({"id": shown, "x": round(x, 3)})
                sightings.append((ft, dev, pid, shown, round(x, 3)))
            timed.append(
                {"t": round(ft, 2), "type": "frame", "device": dev, "sees": {"shoppers": seen}}
            )

    order = {"frame": 0, "qr": 0, "weight": 1}
    timed.sort(key=lambda e: (e["t"], order[e["type"]]))
    for sh in shelves:
        sh.pop("_view_order")
    store = {
        "type": "store",
        "products": products,
        "shelves": shelves,
        "gates": [{"device": "gate-in", "kind": "entry"}, {"device": "gate-out", "kind": "exit"}],
    }
    lines = (
        [store]
        + shoppers
        + timed
        + [{"type": "expect", "shopper": pid, "items": visits[pid][2]} for pid in ids]
    )
    truth = {
        "visits": {
            pid: {
                "in": round(v[0], 2),
                "out": round(v[1], 2),
                "items": v[2],
                "stops": [[d, s, round(a, 2), round(b, 2)] for d, s, a, b in v[3]],
            }
            for pid, v in visits.items()
        },
        "presence": [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in p.items()}
            for p in presence
        ],
        "weights": wlog,
        "no_consent": sorted(no_consent),
        "confusions": [s for s in sightings if s[3] is not None and s[2] != s[3]],
    }
    return lines, truth


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for variant in "abcdefg":
        for seed in (1, 2, 3):
            lines, truth = gen(variant, seed)
            name = f"{variant}_s{seed}"
            with open(os.path.join(out, name + ".jsonl"), "w") as f:
                for ln in lines:
                    f.write(json.dumps(ln) + "\n")
            by = {(w["device"], w["slot"], w["t"]): w["person"] for w in truth["weights"]}
            with open(os.path.join(out, name + ".by.jsonl"), "w") as f:
                for ln in lines:
                    if ln.get("type") == "weight":
                        ln = {**ln, "by": by.get((ln["device"], ln["slot"], ln["t"]))}
                    f.write(json.dumps(ln) + "\n")
            with open(os.path.join(out, name + ".truth.json"), "w") as f:
                json.dump(truth, f, indent=1)
            # concurrency summary
            vs = truth["visits"]
            ts = [x / 2 for x in range(0, 800)]
            conc = max(sum(1 for v in vs.values() if v["in"] <= t <= v["out"]) for t in ts)
            print(
                name,
                len(lines),
                "lines; max in store",
                conc,
                "; weight events",
                len(truth["weights"]),
            )


if __name__ == "__main__":
    main()
