"""Reading a scenario file (JSON lines; the format is fixed in DESIGN.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TIMED = ("frame", "qr", "weight", "sensor")
# Timed lines that come from a shopper's phone rather than a device.
PHONE = ("group",)


class ScenarioError(ValueError):
    pass


@dataclass
class Scenario:
    base_dir: Path
    store: dict[str, Any]
    shoppers: list[dict[str, Any]] = field(default_factory=list)
    # (t, line number, line), sorted by time, file order kept for equal times.
    timeline: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    expects: list[dict[str, Any]] = field(default_factory=list)

    @property
    def devices(self) -> list[dict[str, Any]]:
        shelves = [{"device": s["device"], "kind": "shelf"} for s in self.store["shelves"]]
        return shelves + list(self.store.get("gates", []))

    @property
    def duration(self) -> float:
        return max((a for a, _, _ in self.deliveries()), default=0.0)

    def deliveries(self) -> list[tuple[float, int, dict[str, Any]]]:
        """(arrival time, line number, line) in the order the server receives them. A line
        arrives at its `arrives` (default: its `t`), but never before an earlier message of
        the same device: an agent's outbox sends in the order it produced."""
        last: dict[str, float] = {}
        out = []
        for t, number, line in self.timeline:
            source = line.get("device") or f"phone:{line.get('shopper')}"
            arrives = max(float(line.get("arrives", t)), last.get(source, 0.0))
            last[source] = arrives
            out.append((arrives, number, line))
        out.sort(key=lambda item: (item[0], item[1]))
        return out


def load(path: str | Path) -> Scenario:
    path = Path(path)
    store: dict[str, Any] | None = None
    shoppers, timeline, expects = [], [], []
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, 1):
            raw = raw.strip()
            if not raw or raw.startswith("#"):
                continue
            try:
                line = json.loads(raw)
            except ValueError as exc:
                raise ScenarioError(f"line {number}: not JSON ({exc})") from None
            kind = line.get("type") if isinstance(line, dict) else None
            if kind == "store":
                store = line
            elif kind == "shopper":
                if "id" not in line:
                    raise ScenarioError(f"line {number}: a shopper needs an id")
                shoppers.append(line)
            elif kind == "expect":
                expects.append(line)
            elif kind in PHONE:
                if not isinstance(line.get("t"), int | float) or "shopper" not in line:
                    raise ScenarioError(f"line {number}: a {kind} line needs t and shopper")
                timeline.append((float(line["t"]), number, line))
            elif kind in TIMED:
                if not isinstance(line.get("t"), int | float) or "device" not in line:
                    raise ScenarioError(f"line {number}: a {kind} line needs t and device")
                arrives = line.get("arrives", line["t"])
                if not isinstance(arrives, int | float) or arrives < line["t"]:
                    raise ScenarioError(f"line {number}: 'arrives' is a time at or after t")
                timeline.append((float(line["t"]), number, line))
            else:
                raise ScenarioError(f"line {number}: unknown line type {kind!r}")
    if store is None:
        raise ScenarioError("the scenario has no store line")
    timeline.sort(key=lambda item: (item[0], item[1]))
    return Scenario(path.parent, store, shoppers, timeline, expects)
