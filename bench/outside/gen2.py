#!/usr/bin/env python3
"""The second generator's further behaviours (bench/outside/gen.py), written the same way: from
DESIGN.md's scenario format alone, without reading the engine. Stdlib only.

Usage: python3 bench/outside/gen2.py OUTDIR [variants] -> <variant>_s<seed>.jsonl, .by.jsonl
(with "by" on weight lines) and .truth.json. Figures from it describe its stores only.

Base model from gen.py (calibrated reach bands in shuffled view order,
20 shoppers arriving over 150 s, 2-4 stops of 4-8 s at one slot, shelf `sees` frames while
anyone stands in front, takes and same-slot put-backs, x jitter sd 0.008).

New behaviours (each a variant, seeds 1-3):
  h  wrong-slot returns: a shopper puts an item they hold on another product's slot,
     either by side-stepping to a neighbouring slot (same shelf) right after taking it,
     or at a later stop (any shelf).  Weight on that slot rises by the held product's
     unit weight; the expectation no longer has it.  Only products whose unit weight is
     unambiguous (not within tolerances of another product nor of k x the host product).
  i  two shoppers at one slot at once, side by side (x ~0.05 apart, both inside the band),
     each taking one item 1-2 s apart.
  j  shelf cameras at 1 fps, 15% of frames dropped (whole frames).
  k  one shelf device (the busiest) delivers all its lines 20 s late ("arrives": t+20);
     file lines are in arrival order.
  l  20% of shoppers tailgate: no entry-gate frame, but seen at shelves and the exit.
  m  quick shoppers (25%): one stop, take one item 0.3-1.0 s after arriving at the slot,
     leave at once (window holds 1-3 frame instants), exit 3-8 s later.
  n  h..m together plus x noise sd 0.03.
  o  (extra) h without the weight-ambiguity filters (returned product may weigh like another).
  p  (extra) k with a 300 s delay instead of 20 s.
"""

import json
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import make_store  # noqa: E402
from gen2_sensors import deliver_late, shelf_frames, weight_events  # noqa: E402


def gen(variant, seed, n_shoppers=20):
    F = set("hijklm") if variant == "n" else set(variant)
    if variant == "o":  # extra: h without the weight-ambiguity filters
        F = {"h", "o"}
    if variant == "p":  # extra: k with a 300 s delay
        F = {"k", "p"}
    delay = 300 if "p" in F else 20
    rng = random.Random(f"o2-{variant}-{seed}")
    fps = 1.0 if "j" in F else 2.0
    products, shelves = make_store(rng)
    uw = {p["sku"]: p["unit_weight_g"] for p in products}
    tol = {p["sku"]: p["weight_tolerance_g"] for p in products}
    shelf_by_dev = {sh["device"]: sh for sh in shelves}
    slot_info = {(sh["device"], sl["slot"]): sl for sh in shelves for sl in sh["slots"]}
    stock = {k: v["stock"] for k, v in slot_info.items()}
    phase = {sh["device"]: rng.uniform(0, 1 / fps) for sh in shelves}

    # products whose weight is unambiguous among all products
    def unique_w(s):
        if "o" in F:
            return True
        return all(abs(uw[s] - k * uw[o]) > tol[s] + tol[o] + 5 for o in uw for k in (1,) if o != s)

    def fits_host(s, host):  # return of s onto host slot not mistakable as k x host
        if "o" in F:
            return s != host
        return s != host and all(
            abs(uw[s] - k * uw[host]) > tol[s] + tol[host] + 5 for k in range(1, 8)
        )

    occupancy = {}
    presence = []
    picks = []
    shoppers, timed = [], []
    arrivals = sorted(rng.uniform(0, 150) for _ in range(n_shoppers))
    ids = [f"p{i + 1:02d}" for i in range(n_shoppers)]
    tailgaters = set(rng.sample(ids, n_shoppers // 5)) if "l" in F else set()
    quick = set(rng.sample(ids, n_shoppers // 4)) if "m" in F else set()
    joints, wrongs, quicks = [], [], []

    def free(dev, slot, a, b, allow=None):
        for s, e, who in occupancy.get((dev, slot), []):
            if who == allow:
                continue
            if s < b + 0.5 and a < e + 0.5:
                return False
        return True

    def at_shelf(dev, a, b, exclude):
        return [
            p
            for p in presence
            if p["dev"] == dev and p["person"] != exclude and p["start"] < b and a < p["end"]
        ]

    def center_in(band):
        w = band[1] - band[0]
        return rng.uniform(band[0] + 0.25 * w, band[1] - 0.25 * w)

    def add_presence(pid, dev, slot, a, b, center, kind="shopper", **kw):
        occupancy.setdefault((dev, slot), []).append((a, b, pid))
        p = {
            "person": pid,
            "dev": dev,
            "slot": slot,
            "start": a,
            "end": b,
            "center": center,
            "kind": kind,
        }
        p.update(kw)
        presence.append(p)
        return p

    visits = {}
    for pid, t0 in zip(ids, arrivals):
        t = t0
        truth = {}
        held = []  # skus physically in hand (multiset)
        seq = []
        if pid in quick:
            # walk in, one slot, grab within 1 s, gone
            t += rng.uniform(3, 9)
            for _try in range(40):
                dev = rng.choice(list(shelf_by_dev))
                ph = phase[dev]
                f0 = math.ceil((t - ph) * fps) / fps + ph
                a = f0 - rng.uniform(0.05, 0.4)
                tp = a + rng.uniform(0.3, 1.0)
                k = rng.choice([1, 2, 3])
                b = max(tp + rng.uniform(0.1, 0.3), f0 + (k - 1) / fps + rng.uniform(0, 0.3))
                cands = [
                    sl["slot"]
                    for sl in shelf_by_dev[dev]["slots"]
                    if free(dev, sl["slot"], a, b) and stock[(dev, sl["slot"])] > 0
                ]
                if cands:
                    break
                t += rng.uniform(1, 3)
            slot = rng.choice(cands)
            band = slot_info[(dev, slot)]["reach"]
            add_presence(pid, dev, slot, a, b, center_in(band), quick=True)
            picks.append({"t": tp, "dev": dev, "slot": slot, "person": pid, "take": 1})
            sku = slot_info[(dev, slot)]["sku"]
            truth[sku] = 1
            nfr = sum(
                1
                for n in range(
                    math.floor((a - phase[dev]) * fps), math.ceil((b - phase[dev]) * fps) + 1
                )
                if a <= n / fps + phase[dev] <= b
            )
            quicks.append(
                {
                    "person": pid,
                    "dev": dev,
                    "slot": slot,
                    "start": round(a, 2),
                    "end": round(b, 2),
                    "take_t": round(tp, 2),
                    "frame_instants": nfr,
                }
            )
            seq.append((dev, slot, a, b))
            t_exit = b + rng.uniform(3, 8)
        else:
            nvis = rng.randint(2, 4)
            for _ in range(nvis):
                t += rng.uniform(4, 14)
                # (i) join someone at their slot, side by side
                if "i" in F and rng.random() < 0.35:
                    cand = [
                        p
                        for p in presence
                        if p["kind"] == "shopper"
                        and p.get("take_t")
                        and p.get("qty") == 1
                        and not p.get("putback")
                        and not p.get("joint")
                        and p["person"] != pid
                        and t + 2.5 <= p["take_t"] <= t + 30
                    ]
                    cand.sort(key=lambda p: p["take_t"])
                    done = False
                    for P in cand[:4]:
                        dev, slot = P["dev"], P["slot"]
                        band = slot_info[(dev, slot)]["reach"]
                        sgn = rng.choice([-1, 1])
                        xs = [P["center"] + s * 0.05 for s in (sgn, -sgn)]
                        xs = [x for x in xs if band[0] + 0.008 <= x <= band[1] - 0.008]
                        if not xs:
                            continue
                        tpb = P["take_t"] + rng.choice([-1, 1]) * rng.uniform(1.0, 2.0)
                        a = max(tpb - rng.uniform(1.0, 2.0), t)
                        if tpb - a < 0.6:
                            continue
                        b = max(a + rng.uniform(4, 7), tpb + 1.0)
                        if not free(dev, slot, a, b, allow=P["person"]):
                            continue
                        if stock[(dev, slot)] < 3:
                            continue
                        add_presence(pid, dev, slot, a, b, xs[0], take_t=tpb, qty=1, joint=True)
                        P["joint"] = True
                        picks.append({"t": tpb, "dev": dev, "slot": slot, "person": pid, "take": 1})
                        sku = slot_info[(dev, slot)]["sku"]
                        truth[sku] = truth.get(sku, 0) + 1
                        held.append(sku)
                        joints.append(
                            {
                                "slot": [dev, slot],
                                "A": P["person"],
                                "A_x": round(P["center"], 3),
                                "A_take": round(P["take_t"], 2),
                                "B": pid,
                                "B_x": round(xs[0], 3),
                                "B_take": round(tpb, 2),
                                "band": band,
                            }
                        )
                        seq.append((dev, slot, a, b))
                        t = b
                        done = True
                        break
                    if done:
                        continue
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
                                if o["slot"] is None:
                                    continue
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
                sku = slot_info[(dev, slot)]["sku"]
                P = add_presence(pid, dev, slot, a, b, center_in(band))
                busy = []
                if not browse:
                    tp = a + rng.uniform(1.2, 2.8)
                    q = min(qty, stock[(dev, slot)] - 1)
                    picks.append({"t": tp, "dev": dev, "slot": slot, "person": pid, "take": q})
                    P.update(take_t=tp, qty=q, putback=putback)
                    truth[sku] = truth.get(sku, 0) + q
                    held += [sku] * q
                    busy.append(tp)
                    if putback:
                        tr = tp + rng.uniform(1.5, dwell - (tp - a) - 1.0)
                        picks.append({"t": tr, "dev": dev, "slot": slot, "person": pid, "take": -1})
                        truth[sku] -= 1
                        held.remove(sku)
                        busy.append(tr)
                # (h) wrong-slot return at this stop of something taken at an earlier stop
                if "h" in F and rng.random() < 0.45:
                    opts = [
                        s
                        for s in set(held)
                        if s != sku
                        and unique_w(s)
                        and fits_host(s, sku)
                        and s not in [x for x in truth if False]
                    ]
                    opts = [s for s in opts if held.count(s) > (1 if s == sku else 0)]
                    # only items from earlier stops (not this slot's product)
                    if opts:
                        s1 = rng.choice(sorted(opts))
                        for _t in range(10):
                            tw = a + rng.uniform(1.0, dwell - 0.8)
                            if all(abs(tw - x) > 1.0 for x in busy):
                                break
                        else:
                            tw = None
                        if tw is not None:
                            picks.append(
                                {
                                    "t": tw,
                                    "dev": dev,
                                    "slot": slot,
                                    "person": pid,
                                    "take": 0,
                                    "foreign": s1,
                                }
                            )
                            truth[s1] -= 1
                            held.remove(s1)
                            wrongs.append(
                                {
                                    "person": pid,
                                    "mode": "later-stop",
                                    "t": round(tw, 2),
                                    "dev": dev,
                                    "slot": slot,
                                    "host_sku": sku,
                                    "returned": s1,
                                    "x": round(P["center"], 3),
                                    "band": band,
                                }
                            )
                seq.append((dev, slot, a, b))
                t = b
                # (h) side-step: take it, change mind, leave it on the neighbouring slot
                if (
                    "h" in F
                    and not browse
                    and rng.random() < 0.3
                    and held.count(sku) > 0
                    and unique_w(sku)
                ):
                    i = vo.index(slot)
                    nbs = [vo[j] for j in (i - 1, i + 1) if 0 <= j < len(vo)]
                    a2 = b + rng.uniform(0.3, 1.0)
                    b2 = a2 + rng.uniform(3, 5)
                    nbs = [
                        c
                        for c in nbs
                        if free(dev, c, a2, b2) and fits_host(sku, slot_info[(dev, c)]["sku"])
                    ]
                    if nbs:
                        s2 = rng.choice(nbs)
                        band2 = slot_info[(dev, s2)]["reach"]
                        c2 = center_in(band2)
                        add_presence(pid, dev, s2, a2, b2, c2, sidestep=True)
                        tw = a2 + rng.uniform(1.2, 2.2)
                        picks.append(
                            {
                                "t": tw,
                                "dev": dev,
                                "slot": s2,
                                "person": pid,
                                "take": 0,
                                "foreign": sku,
                            }
                        )
                        truth[sku] -= 1
                        held.remove(sku)
                        wrongs.append(
                            {
                                "person": pid,
                                "mode": "side-step",
                                "t": round(tw, 2),
                                "dev": dev,
                                "slot": s2,
                                "host_sku": slot_info[(dev, s2)]["sku"],
                                "returned": sku,
                                "x": round(c2, 3),
                                "band": band2,
                                "from_slot": slot,
                            }
                        )
                        seq.append((dev, s2, a2, b2))
                        t = b2
            t_exit = t + rng.uniform(5, 15)
        truth = {k: v for k, v in truth.items() if v > 0}
        visits[pid] = (t0, t_exit, truth, seq)
        shoppers.append({"type": "shopper", "id": pid, "name": f"Shopper {pid[1:]}"})
        if pid not in tailgaters:
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

    wlog = weight_events(picks, slot_info, stock, uw, rng, timed)
    sd = 0.03 if variant == "n" else 0.0
    dropped_frames = shelf_frames(shelves, presence, phase, fps, "j" in F, sd, rng, timed)
    late_dev, early_exits = None, []
    if "k" in F:
        late_dev, early_exits = deliver_late(timed, wlog, visits, delay)

    order = {"frame": 0, "qr": 0, "weight": 1}
    timed.sort(key=lambda e: (e.get("arrives", e["t"]), e["t"], order[e["type"]]))
    for sh in shelves:
        sh.pop("_view_order")
    store = {
        "type": "store",
        "products": products,
        "shelves": shelves,
        "gates": [{"device": "gate-in", "kind": "entry"}, {"device": "gate-out", "kind": "exit"}],
    }
    by_lines = (
        [store]
        + shoppers
        + timed
        + [{"type": "expect", "shopper": pid, "items": visits[pid][2]} for pid in ids]
    )
    plain = [{k: v for k, v in ln.items() if k != "by"} for ln in by_lines]
    rnd = lambda v: round(v, 3) if isinstance(v, float) else v  # noqa: E731
    truth = {
        "variant": variant,
        "features": sorted(F),
        "fps": fps,
        "x_sd": sd,
        "visits": {
            pid: {
                "in": round(v[0], 2),
                "out": round(v[1], 2),
                "items": v[2],
                "entry_frame": pid not in tailgaters,
                "stops": [[d, s, round(a, 2), round(b, 2)] for d, s, a, b in v[3]],
            }
            for pid, v in visits.items()
        },
        "presence": [{k: rnd(v) for k, v in p.items()} for p in presence],
        "weights": wlog,
        "tailgaters": sorted(tailgaters),
        "quick": quicks,
        "joints": joints,
        "wrong_slot": wrongs,
        "late_device": late_dev,
        "exit_before_late_arrival": early_exits,
        "dropped_frames": dropped_frames,
    }
    return plain, by_lines, truth


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: gen2.py OUTDIR [variants]")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    variants = sys.argv[2:] or list("hijklmn")
    for variant in variants:
        for seed in (1, 2, 3):
            plain, by_lines, truth = gen(variant, seed)
            name = f"{variant}_s{seed}"
            with open(os.path.join(out, name + ".jsonl"), "w") as f:
                for ln in plain:
                    f.write(json.dumps(ln) + "\n")
            with open(os.path.join(out, name + ".by.jsonl"), "w") as f:
                for ln in by_lines:
                    f.write(json.dumps(ln) + "\n")
            with open(os.path.join(out, name + ".truth.json"), "w") as f:
                json.dump(truth, f, indent=1)
            print(
                name,
                len(plain),
                "lines; weights",
                len(truth["weights"]),
                "joints",
                len(truth["joints"]),
                "wrong",
                len(truth["wrong_slot"]),
                "quick",
                len(truth["quick"]),
                "tailgate",
                len(truth["tailgaters"]),
                "late",
                truth["late_device"],
                len(truth["exit_before_late_arrival"]),
                "dropped",
                truth["dropped_frames"],
            )


if __name__ == "__main__":
    main()
