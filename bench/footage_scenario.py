"""The real-footage bench's store and scenario (bench/real_footage.py runs it): the shoppers'
real photos pasted in front of real empty-shelf frames, and the scenario that walks them from
shelf to shelf."""

from __future__ import annotations

import json
import random
import shutil
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FACES = ROOT / "tests" / "fixtures" / "faces"
SHELF_FRAMES = ROOT / "tests" / "fixtures" / "shelf-frames"

# Where each shopper's face is in the photos the cameras show: (file, (top, right, bottom,
# left)) as face_recognition's face_locations finds it (HOG, no upsampling).
SOURCES = {
    "obama": [
        ("obama-480p.jpg", (68, 497, 175, 390)),
        ("obama3.jpg", (277, 954, 598, 633)),
        ("two_people.jpg", (47, 408, 202, 253)),
    ],
    "biden": [("two_people.jpg", (57, 964, 242, 778))],
}
ENROL = {"obama": ["obama.jpg", "obama2.jpg"], "biden": ["biden.jpg"]}
WIDTH, HEIGHT = 640, 480
STOP_S = 8.0  # how long a shopper stands at one shelf
WALK_S = 2.0  # between two shelves
EDGE_S = 1.5  # no pick this close to arriving at or leaving a shelf
STOCK = 1000  # per slot: 350 kg of the heavier item, below a reading's 1,000 kg bound


def make_images(folder: Path, rng: random.Random, variants: int) -> dict[str, list[str]]:
    """640×480 frames: empty shelves, and each shopper's head and shoulders pasted onto one."""
    import cv2

    backgrounds = sorted(SHELF_FRAMES.glob("*.jpg"))
    rng.shuffle(backgrounds)
    out: dict[str, list[str]] = {"empty": []}
    (folder / "img").mkdir()
    for i, path in enumerate(backgrounds[:variants]):
        name = f"img/empty{i}.jpg"
        shutil.copy(path, folder / name)
        out["empty"].append(name)
    for who, sources in SOURCES.items():
        out[who] = []
        for i in range(variants):
            file, (top, right, bottom, left) = sources[i % len(sources)]
            photo = cv2.imread(str(FACES / file))
            fw, fh = right - left, bottom - top
            y1, y2 = max(0, int(top - 0.5 * fh)), min(photo.shape[0], int(bottom + 1.2 * fh))
            x1, x2 = max(0, int(left - 0.5 * fw)), min(photo.shape[1], int(right + 0.5 * fw))
            crop = photo[y1:y2, x1:x2]
            scale = rng.uniform(100, 140) / fw  # a face 100–140 px wide, a shopper at arm's length
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            crop = crop[: HEIGHT - 10, : WIDTH - 10]
            frame = cv2.imread(str(backgrounds[(i + variants) % len(backgrounds)]))
            frame = cv2.resize(frame, (WIDTH, HEIGHT))
            h, w = crop.shape[:2]
            x = rng.randint(0, WIDTH - w)
            y = rng.randint(0, max(0, HEIGHT - h - 1))
            frame[y : y + h, x : x + w] = crop
            name = f"img/{who}{i}.jpg"
            cv2.imwrite(str(folder / name), frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
            out[who].append(name)
    return out


def make_scenario(args, folder: Path) -> tuple[Path, dict]:
    """The scenario file, and what it holds: per shelf device its picks' shoppers in time
    order, frames per step, expectations."""
    rng = random.Random(args.seed)
    images = make_images(folder, rng, args.variants)
    steps = [int(x) for x in args.cameras.split(",")]
    shelves = max(steps)
    horizon = len(steps) * args.step_s
    products, shelf_lines = [], []
    for s in range(1, shelves + 1):
        slots = []
        for code, grams in (("A1", 350.0), ("A2", 180.0)):
            sku = f"S{s}{code}"
            products.append({"sku": sku, "name": f"Item {sku}", "price": "1.00",
                             "unit_weight_g": grams, "weight_tolerance_g": 12})  # fmt: skip
            slots.append({"slot": code, "sku": sku, "stock": STOCK, "capacity": STOCK,
                          "sensor": "load_cell"})  # fmt: skip
        shelf_lines.append({"device": f"shelf-{s}", "camera": True, "slots": slots})
    store = {"type": "store", "products": products, "shelves": shelf_lines,
             "gates": [{"device": "gate-in", "kind": "entry"},
                       {"device": "gate-out", "kind": "exit"}]}  # fmt: skip
    weight = {(f"shelf-{s}", c): STOCK * g for s in range(1, shelves + 1)
              for c, g in (("A1", 350.0), ("A2", 180.0))}  # fmt: skip

    def active(t: float) -> int:
        return steps[min(len(steps) - 1, int(t // args.step_s))]

    timed: list[dict] = []
    expects: list[dict] = []
    picks: dict[str, list[tuple[float, str]]] = defaultdict(list)
    at_shelf: dict[int, list[tuple[float, float, str]]] = defaultdict(list)
    t0 = 1.0
    who_all = list(SOURCES)
    while t0 + args.visit_s <= horizon:
        end = t0 + args.visit_s
        for i, who in enumerate(who_all):
            for k in range(2):  # two frames each as they pass the gate
                timed.append({"t": round(t0 + i + 0.5 * k, 2), "type": "frame",
                              "device": "gate-in", "image": rng.choice(images[who])})  # fmt: skip
                timed.append({"t": round(end + i + 0.5 * k, 2), "type": "frame",
                              "device": "gate-out", "image": rng.choice(images[who])})  # fmt: skip
        # Stops: the shoppers move from shelf to shelf, never both at one.
        busy: dict[str, tuple[int, float]] = {}
        items: dict[str, dict[str, int]] = {w: {} for w in who_all}
        clock = {w: t0 + 3.0 + i for i, w in enumerate(who_all)}
        next_pick = {w: clock[w] + rng.uniform(0, 2) for w in who_all}
        while min(clock.values()) + STOP_S < end - 2:
            who = min(clock, key=clock.get)
            start = clock[who]
            if start + STOP_S >= end - 2:
                clock[who] = end
                continue
            n = active(start)
            other = {s: until for w, (s, until) in busy.items() if w != who and until > start}
            free = [s for s in range(1, n + 1) if s not in other]
            if not free:
                # Every camera's shelf is taken (one camera, two shoppers): wait for the
                # other to walk on rather than stand in front of it, where the camera, showing
                # one face, would not see the picker.
                clock[who] = min(other.values()) + WALK_S
                continue
            shelf = rng.choice(free)
            stop_end = start + STOP_S
            busy[who] = (shelf, stop_end)
            at_shelf[shelf].append((start, stop_end, who))
            # Each shopper picks at the rate that gives every active shelf one pick per
            # --pick-every seconds on average.
            # A shopper picks only inside a stop, away from its edges: the share of the
            # time that is, over the picks' spacing, gives the rate asked for.
            inside = (STOP_S - 2 * EDGE_S) / (STOP_S + WALK_S)
            gap = args.pick_every * len(who_all) / max(1, n) * inside
            while next_pick[who] < stop_end - EDGE_S:
                tp = next_pick[who]
                if tp >= start + EDGE_S:
                    code = rng.choice(["A1", "A2"])
                    dev = f"shelf-{shelf}"
                    grams = 350.0 if code == "A1" else 180.0
                    before = weight[(dev, code)]
                    weight[(dev, code)] = before - grams
                    timed.append({"t": round(tp, 2), "type": "weight", "device": dev,
                                  "slot": code, "before_g": before,
                                  "after_g": before - grams})  # fmt: skip
                    picks[dev].append((round(tp, 2), who))
                    items[who][f"S{shelf}{code}"] = items[who].get(f"S{shelf}{code}", 0) + 1
                next_pick[who] = tp + gap * rng.uniform(0.5, 1.5)
            clock[who] = stop_end + WALK_S
        for who in who_all:
            expects.append({"type": "expect", "shopper": who, "items": items[who]})
        t0 = end + 6.0
    # The cameras: every active shelf at --fps, showing whoever stands there.
    frames_per_step = [0] * len(steps)
    step_frames = 1.0 / args.fps
    for s in range(1, shelves + 1):
        t = rng.uniform(0, step_frames)
        while t < horizon:
            if s <= active(t):
                here = [w for a, b, w in at_shelf[s] if a <= t < b]
                image = rng.choice(images[here[0]] if here else images["empty"])
                timed.append({"t": round(t, 3), "type": "frame", "device": f"shelf-{s}",
                              "image": image})  # fmt: skip
                frames_per_step[min(len(steps) - 1, int(t // args.step_s))] += 1
            t += step_frames
    timed.sort(key=lambda x: x["t"])
    path = folder / "footage.jsonl"
    with path.open("w") as fh:
        fh.write(json.dumps(store) + "\n")
        for who in who_all:
            photos = [str(FACES / p) for p in ENROL[who]]
            line = {"type": "shopper", "id": who, "name": who.title(), "photos": photos}
            fh.write(json.dumps(line) + "\n")
        for line in timed:
            fh.write(json.dumps(line) + "\n")
        for line in expects:
            fh.write(json.dumps(line) + "\n")
    info = {
        "steps": steps,
        "frames_per_step": frames_per_step,
        "picks": {d: sorted(p) for d, p in picks.items()},
        "visits": len(expects),
        "weights": sum(len(p) for p in picks.values()),
        "gate_frames": sum(1 for x in timed if x["type"] == "frame" and "gate" in x["device"]),
    }
    return path, info
