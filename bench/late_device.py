#!/usr/bin/env python3
"""A scenario with one device offline for a while: its lines produced from T0 to T1 (default:
all of them) reach the server DELAY seconds late (DESIGN.md `arrives`), as its agent's outbox
delivers them once it is back. Everything else is unchanged, so the replay of the copy can be
compared event by event with the original's (bench/event_outcomes.py). Stdlib only.

    python3 bench/late_device.py var/s.jsonl var/s-late-in.jsonl gate-in 30
    python3 bench/late_device.py var/s.jsonl var/s-late-shelf.jsonl shelf-2 20 --from 40 --to 90
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario")
    parser.add_argument("out")
    parser.add_argument("device", help="the device whose lines arrive late, e.g. gate-in")
    parser.add_argument("delay", type=float, help="seconds late")
    parser.add_argument("--from", dest="t0", type=float, default=float("-inf"))
    parser.add_argument("--to", dest="t1", type=float, default=float("inf"))
    opts = parser.parse_args()
    moved = 0
    with open(opts.scenario, encoding="utf-8") as src, open(opts.out, "w", encoding="utf-8") as out:
        for raw in src:
            line = json.loads(raw)
            if (
                line.get("device") == opts.device
                and "t" in line
                and opts.t0 <= line["t"] <= opts.t1
            ):
                line["arrives"] = max(float(line.get("arrives", line["t"])), line["t"] + opts.delay)
                moved += 1
            out.write(json.dumps(line) + "\n")
    print(f"{moved} lines of {opts.device} arrive {opts.delay:g} s late")


if __name__ == "__main__":
    main()
