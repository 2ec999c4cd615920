"""The load run's scenario: `manage.py simulate` aisles chained in time and cut at the run's
length, with the expectations of the visits that end before the cut."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.loadrun.harness import ROOT


def make_scenario(args, folder: Path, env: dict) -> tuple[Path, int, int]:
    """simulate → aisles chained in time, devices and shoppers renamed per aisle, cut at
    --minutes. Returns (path, timed lines, weight lines)."""
    aisles = max(1, args.agents // 4)
    per_aisle = max(1, args.shoppers // aisles)
    horizon = args.minutes * 60.0
    store: dict = {"type": "store", "products": {}, "shelves": [], "gates": []}
    shoppers: set[str] = set()
    timed: list[dict] = []
    expects: list[dict] = []
    shelf_devices: set[str] = set()
    images = [Path(p).resolve() for p in args.shelf_images.split(",")] if args.shelf_images else []
    segments_max = 0
    for a in range(1, aisles + 1):
        offset, seg = 0.0, 0
        while offset < horizon:
            seg += 1
            out = folder / f"a{a}-{seg}.jsonl"
            subprocess.run(
                [sys.executable, "manage.py", "simulate", str(out), "--shoppers", str(per_aisle),
                 "--shelves", "2", "--picks", str(args.picks), "--seed", str(1000 * a + seg)],
                cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            lines = [json.loads(x) for x in out.read_text().splitlines() if x.strip()]
            expects += _expects_within(lines, offset, horizon, prefix=f"a{a}-")
            span = 0.0
            for line in lines:
                if line.get("type") == "store" and seg == 1:
                    for p in line["products"]:
                        store["products"][p["sku"]] = p
                    for s in line["shelves"]:
                        store["shelves"].append({**s, "device": f"a{a}-{s['device']}"})
                        shelf_devices.add(f"a{a}-{s['device']}")
                    for g in line["gates"]:
                        store["gates"].append({**g, "device": f"a{a}-{g['device']}"})
                elif line.get("type") == "shopper":
                    shoppers.add(f"a{a}-{line['id']}")
                elif "t" in line:
                    span = max(span, line["t"])
                    line["t"] = round(line["t"] + offset, 2)
                    if line["t"] > horizon:
                        continue
                    line["device"] = f"a{a}-{line['device']}"
                    if images and line["type"] == "frame" and line["device"] in shelf_devices:
                        # Real footage instead of the camera's synthetic output.
                        line.pop("sees", None)
                        line["image"] = str(images[len(timed) % len(images)])
                    for who in line.get("sees", {}).get("shoppers", []):
                        if isinstance(who, dict) and not who["id"].startswith("unknown-"):
                            who["id"] = f"a{a}-{who['id']}"
                    if "shoppers" in line.get("sees", {}):
                        line["sees"]["shoppers"] = [
                            f"a{a}-{w}" if isinstance(w, str) else w
                            for w in line["sees"]["shoppers"]
                        ]
                    timed.append(line)
            offset += span + 5.0
        segments_max = max(segments_max, seg)
    # Every segment takes from the same slots: enough stock for all of them.
    for s in store["shelves"]:
        for slot in s["slots"]:
            slot["stock"] = slot["stock"] * segments_max
            slot["capacity"] = slot["stock"] + 20
    store["products"] = list(store["products"].values())
    timed.sort(key=lambda line: line["t"])
    path = folder / "load.jsonl"
    with path.open("w") as fh:
        fh.write(json.dumps(store) + "\n")
        for s in sorted(shoppers):
            fh.write(json.dumps({"type": "shopper", "id": s, "name": s.upper()}) + "\n")
        for line in timed:
            fh.write(json.dumps(line) + "\n")
        for line in expects:
            fh.write(json.dumps(line) + "\n")
    weights = sum(1 for line in timed if line["type"] == "weight")
    return path, len(timed), weights


def _expects_within(lines: list[dict], offset: float, horizon: float, prefix: str) -> list[dict]:
    """The expect lines of one simulate segment whose visits end (exit frame) before the
    timeline is cut, renamed like the segment's shoppers. A shopper's n-th expect line is
    their n-th visit, so each shopper keeps as many as their exits before the cut."""
    store = next(line for line in lines if line.get("type") == "store")
    exits = {g["device"] for g in store["gates"] if g.get("kind") == "exit"}
    done: dict[str, int] = {}
    for line in lines:
        if line.get("device") in exits and line["t"] + offset <= horizon:
            for who in (line.get("sees") or {}).get("shoppers", []):
                name = who.get("id") if isinstance(who, dict) else who
                done[str(name)] = done.get(str(name), 0) + 1
    out, seen = [], {}
    for line in lines:
        if line.get("type") != "expect":
            continue
        who = str(line["shopper"])
        seen[who] = seen.get(who, 0) + 1
        if seen[who] <= done.get(who, 0):
            out.append({**line, "shopper": prefix + who})
    return out
