"""Stable-reading detection: one pick is one event.

A load cell under a hand reads anything: the shelf bounces, the hand rests on it, the HX711
throws an occasional spike. A change counts only once the reading has settled:

1. a running median over the last `window` raw readings removes single spikes;
2. the filtered value must stay within `noise` of where it settled for `settle_s` seconds;
3. a settled value that differs from the last settled value by at least `min_change` is one
   change (before = last settled, after = new settled); a smaller difference is drift and
   just moves the baseline.

The same detector serves ultrasonic lanes (mm) and light sensors (0/1) with other numbers.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    before: float
    after: float
    ts: float  # when the new value settled


@dataclass(frozen=True)
class StableSettings:
    window: int = 5
    noise: float = 4.0
    settle_s: float = 0.8
    min_change: float = 10.0

    def __post_init__(self) -> None:
        if self.window < 1 or self.noise < 0 or self.settle_s < 0 or self.min_change <= 0:
            raise ValueError(f"bad stable-reading settings: {self}")


class StableDetector:
    def __init__(self, settings: StableSettings | None = None):
        self.settings = settings or StableSettings()
        self._raw: deque[float] = deque(maxlen=self.settings.window)
        self._anchor: float | None = None
        self._anchor_since = 0.0
        self._plateau: deque[float] = deque(maxlen=256)
        self.baseline: float | None = None  # the last settled value

    @property
    def settling(self) -> bool:
        """True while the reading moves away from the last settled value (a hand is at the
        shelf): the camera sends frames around this moment."""
        return (
            self.baseline is not None
            and self._anchor is not None
            and abs(self._anchor - self.baseline) > self.settings.noise
        )

    def feed(self, ts: float, value: float) -> Change | None:
        s = self.settings
        self._raw.append(value)
        filtered = statistics.median(self._raw)
        if self._anchor is None or abs(filtered - self._anchor) > s.noise:
            self._anchor, self._anchor_since = filtered, ts
            self._plateau.clear()
        self._plateau.append(filtered)
        if ts - self._anchor_since < s.settle_s:
            return None
        settled = statistics.median(self._plateau)
        if self.baseline is None:
            self.baseline = settled
            return None
        if abs(settled - self.baseline) >= s.min_change:
            change = Change(before=self.baseline, after=settled, ts=ts)
            self.baseline = settled
            # Start a fresh plateau so the same settled value is not reported again.
            self._anchor, self._anchor_since = settled, ts
            self._plateau.clear()
            self._plateau.append(settled)
            return change
        self.baseline = settled
        return None


def items_in_lane(distance_mm: float, *, lane_depth_mm: float, item_depth_mm: float) -> int:
    """Items standing in an ultrasonic lane: the sensor at the front looks down the lane and
    sees the first item, so the empty part of the lane is `distance_mm` long."""
    if item_depth_mm <= 0:
        raise ValueError("item depth must be positive")
    return max(0, round((lane_depth_mm - distance_mm) / item_depth_mm))
