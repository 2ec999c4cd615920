"""What the simulated store's devices report: load cells read the settled weight with noise;
shelf cameras send a frame every `frame_s` seconds while anybody stands in front of them, naming
the faces their vision would match (and where across the view), and, for camera-only slots,
the products seen and whether a hand is reaching in."""

from __future__ import annotations

import math
from typing import Any

from store.replay.sim.world import Stop, World

# A load cell within its spec reads each settled weight at most this far off (a share of the
# product's weight tolerance), so the change between two readings stays within tolerance
# (rounding to 0.1 g included). Readings further off are a sensor out of spec, not noise.
SPEC_READ = 0.4


def weigh(w: World, slot, t: float, change_g: float, who: str = "") -> None:
    """A load-cell event: the slot's settled weight before and after, each read with noise."""
    sd = slot.tol * (max(w.p.noise_sd, 0.25) if w.p.on("noise") else w.p.noise_sd)
    before = slot.grams + _read_error(w, sd, slot.tol)
    after = slot.grams + change_g + _read_error(w, sd, slot.tol)
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


def _read_error(w: World, sd: float, tol: float) -> float:
    """One reading's error: Gaussian, held to the spec (one draw either way, so a scenario's
    other randomness does not shift with it)."""
    bound = SPEC_READ * tol
    return min(bound, max(-bound, w.rng.gauss(0, sd)))


def frames(w: World, stock: dict[str, int]) -> None:
    """Shelf-camera frames every `frame_s` while anybody is at the shelf. `stock`: each
    camera-only slot's count at the start."""
    rng, p = w.rng, w.p
    every = p.frame_s
    by_shelf: dict[int, list[Stop]] = {}
    for stop in w.stops:
        by_shelf.setdefault(stop.shelf, []).append(stop)
    miss = max(p.miss_face, 0.2) if p.on("missed") else p.miss_face
    for shelf, stops in sorted(by_shelf.items()):
        camera_slots = [s for s in w.slots if s.shelf == shelf and s.sensor == "camera"]
        ticks = sorted(
            {
                round(math.floor(s.start / every) * every + i * every, 2)
                for s in stops
                for i in range(int((s.end - s.start) / every) + 2)
            }
        )
        for t in ticks:
            here = [s for s in stops if s.start <= t <= s.end]
            seen: list[Any] = []
            for s in here:
                if s.hidden or rng.random() < miss:
                    continue
                seen.append(_face(w, s, t))
            if rng.random() < p.unknown_face:
                seen.append({"id": f"unknown-{rng.randrange(10**6)}", "x": round(rng.random(), 3)})
            if not (here or seen):
                continue
            sees: dict[str, Any] = {"shoppers": seen}
            if camera_slots:
                sees["products"] = {
                    s.sku: s.seen_count(t, stock[s.code]) for s in sorted(camera_slots, key=_code)
                }
                # A hand in the frame: someone reaching into a camera-only slot right now.
                reaches = [at for c in camera_slots for at, _ in c.moves]
                if any(abs(t - at) <= every / 2 + 1e-6 for at in reaches):
                    sees["hand"] = True
            w.lines.append({"t": t, "type": "frame", "device": f"shelf-{shelf + 1}", "sees": sees})


def _code(slot) -> str:
    return slot.code


def _face(w: World, stop: Stop, t: float) -> dict[str, Any]:
    rng = w.rng
    x = round(min(1.0, max(0.0, stop.x + rng.gauss(0, w.p.face_jitter))), 3)
    face: dict[str, Any] = {"id": stop.who, "x": x}
    if stop.stranger or not w.p.on("confusion"):
        return face
    roll = rng.random()
    if roll < 0.03:
        # Matched to someone else in the store, just inside the tolerance.
        others = [o for o in w.in_store(t) if o != stop.who and o not in w.no_consent]
        if others:
            face["id"] = rng.choice(others)
            face["confidence"] = round(rng.uniform(0.5, 0.62), 3)
    elif roll < 0.08:
        # The right person, but a second enrolled face is nearly as close: doubtful.
        face["confidence"] = round(rng.uniform(0.3, 0.49), 3)
    return face
