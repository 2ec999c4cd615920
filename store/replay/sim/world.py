"""The simulated store's state: its parameters, slots with their reach bands, who stands where
and when, and the scenario lines written so far."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

# Perturbations, each switched on by name (`all` switches on every one):
PERTURBATIONS = {
    "shuffled": "cameras see the slots in any order, reach bands of different widths",
    "edge": "faces anywhere in the reach band, now and then at its edge or just outside",
    "crowd": "shoppers join others at a shelf, often at the neighbouring slot",
    "missed": "faces missed more often, now and then for a whole pick (face turned away)",
    "strangers": "people nobody enrolled linger in front of shelves without taking anything",
    "gate_miss": "gate cameras miss some of the frames of a shopper walking through",
    "quick_exit": "shoppers walk out a second or two after their last pick",
    "confusion": "faces now and then matched to someone else, or doubtfully, at low confidence",
    "noise": "load cells read with more noise (within spec), jitter and bumps more often",
}


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
    frame_s: float = 0.5  # a shelf camera's frame interval (the agent's default: two a second)
    face_jitter: float = 0.01  # how far a face's measured position strays, per frame (sd)
    truth: bool = False  # write who did each weight change ("by"; replay ignores it)
    perturb: frozenset[str] = frozenset()
    no_consent: float = 0.0  # share of shoppers without face consent (they enter by QR)
    camera_slots: float = 0.0  # share of slots watched by the camera only (no load cell)

    def on(self, name: str) -> bool:
        return name in self.perturb


@dataclass
class SlotState:
    shelf: int
    code: str
    sku: str
    unit: float
    tol: float
    stock: int
    reach: tuple[float, float] = (0.0, 1.0)
    sensor: str = "load_cell"
    extra_g: float = 0.0  # misplaced items lying on it
    busy: list[tuple[float, float]] = field(default_factory=list)
    moves: list[tuple[float, int]] = field(default_factory=list)  # (t, items taken) on camera

    def free(self, start: float, end: float) -> bool:
        return all(end < b0 or start > b1 for b0, b1 in self.busy)

    @property
    def grams(self) -> float:
        return self.stock * self.unit + self.extra_g

    def seen_count(self, t: float, start: int) -> int:
        """Items a camera sees on the slot at `t` (camera-only slots)."""
        return start - sum(k for at, k in self.moves if at <= t)


@dataclass
class Stop:
    """Someone standing in front of a slot from `start` to `end`, face at `x` of the view.
    `hidden`: their face is turned away the whole time. `picks`: when they reached in."""

    shelf: int
    start: float
    end: float
    who: str
    x: float
    hidden: bool = False
    stranger: bool = False
    picks: list[float] = field(default_factory=list)


@dataclass
class World:
    p: Params
    rng: random.Random
    slots: list[SlotState]
    lines: list[dict[str, Any]] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)
    expects: list[dict[str, Any]] = field(default_factory=list)
    inside: list[tuple[str, float, float]] = field(default_factory=list)  # who, in, out
    no_consent: set[str] = field(default_factory=set)
    picks: int = 0

    def in_store(self, t: float) -> list[str]:
        return [who for who, t0, t1 in self.inside if t0 <= t <= t1]
