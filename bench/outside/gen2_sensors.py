"""The second generator's shelves and their delivery (bench/outside/gen2.py): load-cell
readings, shelf-camera frames, and a shelf that delivers its lines late. Written, like the
rest of it, from DESIGN.md's scenario format alone. Stdlib only."""

import math


def weight_events(picks, slot_info, stock, uw, rng, timed):
    """One weight line per pick, in time order per slot, appended to `timed`; misplaced
    goods stay on the host slot. Returns the weight log for the truth file."""
    extra = {k: 0.0 for k in slot_info}
    wlog = []
    for pk in sorted(picks, key=lambda p: p["t"]):
        key = (pk["dev"], pk["slot"])
        u = uw[slot_info[key]["sku"]]
        bg0 = stock[key] * u + extra[key]
        if pk.get("foreign"):
            extra[key] += uw[pk["foreign"]]
        else:
            stock[key] -= pk["take"]
        ag0 = stock[key] * u + extra[key]
        ev = {
            "t": round(pk["t"], 2),
            "type": "weight",
            "device": pk["dev"],
            "slot": pk["slot"],
            "before_g": round(bg0 + rng.gauss(0, 1.5), 1),
            "after_g": round(ag0 + rng.gauss(0, 1.5), 1),
            "by": pk["person"],
        }
        timed.append(ev)
        wl = dict(ev, person=pk["person"], take=pk["take"])
        if pk.get("foreign"):
            wl["foreign"] = pk["foreign"]
        wlog.append(wl)
    return wlog


def shelf_frames(shelves, presence, phase, fps, drop, sd, rng, timed):
    """Each shelf camera's frames while anyone stands in front, appended to `timed`
    (`drop`: 15 % of whole frames lost; `sd`: extra x noise). Returns how many were dropped."""
    dropped_frames = 0
    for sh in shelves:
        dev = sh["device"]
        pres = [p for p in presence if p["dev"] == dev]
        if not pres:
            continue
        lo = min(p["start"] for p in pres)
        hi = max(p["end"] for p in pres)
        ph = phase[dev]
        for n in range(math.floor((lo - ph) * fps), math.ceil((hi - ph) * fps) + 1):
            ft = n / fps + ph
            here = [p for p in pres if p["start"] <= ft <= p["end"]]
            if not here:
                continue
            if drop and rng.random() < 0.15:
                dropped_frames += 1
                for p in here:
                    p.setdefault("dropped_at", []).append(round(ft, 2))
                continue
            seen = []
            for p in here:
                x = p["center"] + rng.gauss(0, 0.008) + (rng.gauss(0, sd) if sd else 0)
                x = min(1.0, max(0.0, x))
                seen.append({"id": p["person"], "x": round(x, 3)})
                p.setdefault("seen_at", []).append(round(ft, 2))
            timed.append(
                {"t": round(ft, 2), "type": "frame", "device": dev, "sees": {"shoppers": seen}}
            )
    return dropped_frames


def deliver_late(timed, wlog, visits, delay):
    """The busiest shelf delivers all its lines `delay` s late ("arrives"). Returns that
    shelf and the shoppers who left before its last event of theirs arrived."""
    cnt = {}
    for w in wlog:
        cnt[w["device"]] = cnt.get(w["device"], 0) + 1
    late_dev = max(sorted(cnt), key=lambda d: cnt[d])
    for ev in timed:
        if ev.get("device") == late_dev:
            ev["arrives"] = round(ev["t"] + delay, 2)
    early_exits = []
    for pid, v in visits.items():
        mine = [w["t"] for w in wlog if w["device"] == late_dev and w["person"] == pid]
        if mine and v[1] < max(mine) + delay:
            early_exits.append(
                {
                    "person": pid,
                    "exit": round(v[1], 2),
                    "last_late_event_arrives": round(max(mine) + delay, 2),
                }
            )
    return late_dev, early_exits
