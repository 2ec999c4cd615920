"""Who took it, event by event: replay scenarios written with `manage.py simulate --truth` and
compare each shelf event's outcome with the truth's "by" (who made that weight change; the
replay never reads it).

For each scenario it prints one line per shelf event charged to the wrong shopper (WRONG), sent
to review (REVIEW, with the ranked candidates) or left without a decision although someone
made it (NOTHING), then a count: charged to the right shopper, wrong, in review. A WRONG line
whose truth is "-" is a change nobody made (a knock, sensor noise) read as somebody's item.
A line marked "unseen" is a pick whose picker no frame of that shelf's camera showed within
the attribution window (a face turned away for the whole stop): no camera evidence can name
them, so each shopper with such a pick has a wrong receipt unless they were alone in the store,
and the count's "at most" is the cAcc that leaves.
These figures describe our own simulator only, not real stores.

    .venv/bin/python manage.py simulate var/s.jsonl --shoppers 20 --seed 2 --picks 200 \\
        --perturb all --truth --face-jitter 0.1
    .venv/bin/python bench/event_outcomes.py var/s.jsonl [more.jsonl ...]

Each scenario is replayed in a fresh temporary database of its own (as `manage.py replay`).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minigo.settings")
for name in ("DATABASE_URL", "REDIS_URL"):  # never the configured store's own data
    os.environ.pop(name, None)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connections  # noqa: E402

from store.management.commands.replay import use_temporary_database  # noqa: E402
from store.models import Frame, ReviewItem, ShelfEvent, Shopper, Visit  # noqa: E402
from store.replay.local import REPLAY_EPOCH, replay_scenario, scenario_start  # noqa: E402
from store.replay.scenario import load  # noqa: E402
from store.services.ondemand import DEFERRED  # noqa: E402
from store.services.sees import sees_name  # noqa: E402


def outcomes(path: Path) -> tuple[str, dict[str, int], list[str]]:
    """(the metrics line, counts, one line per event worth reading) for one scenario."""
    sc = load(str(path))
    # The truth: each slot's weight lines (with "by"), as the scenario holds them.
    weights: dict[tuple[str, str], list[dict]] = {}
    faces: dict[str, list[tuple[float, set[str]]]] = {}  # each camera's frames: who it showed
    for _t, _n, line in sc.timeline:
        if line.get("type") == "weight":
            weights.setdefault((line["device"], line["slot"]), []).append(line)
        elif line.get("type") == "frame":
            shown = (line.get("sees") or {}).get("shoppers") or []
            ids = {sees_name(f) for f in shown}
            faces.setdefault(line["device"], []).append((float(line["t"]), ids))
    window_s = settings.MINIGO["ATTRIBUTION_WINDOW_S"]

    def unseen(line: dict) -> bool:
        """A pick whose picker no frame of that camera showed within the window."""
        by = line.get("by")
        return bool(by) and not any(
            by in ids
            for at, ids in faces.get(line["device"], ())
            if abs(at - float(line["t"])) <= window_s
        )

    blind = {
        line["by"] for lines in weights.values() for line in lines if unseen(line)
    }  # shoppers with a pick no camera evidence can name
    folder = Path(tempfile.mkdtemp(prefix="minigo-outcomes-"))
    try:
        use_temporary_database(folder)
        outcome = replay_scenario(sc)
        start = scenario_start(sc) or REPLAY_EPOCH
        # Each shopper's scenario id (their username, see store/replay/build.py).
        key = dict(Shopper.objects.values_list("pk", "user__username"))
        visit_key = {pk: key[shopper] for pk, shopper in Visit.objects.values_list("pk", "shopper")}
        counts = {"right": 0, "wrong": 0, "review": 0, "camera_only": 0, "blind": len(blind)}
        lines: list[str] = []
        events = ShelfEvent.objects.select_related("device").order_by("occurred_at", "pk")
        for event in events:
            t = (event.occurred_at - start).total_seconds()
            truth = next(
                (
                    w
                    for w in weights.get((event.device.device_id, event.slot_code), [])
                    if abs(w["t"] - t) < 0.05
                ),
                {},
            )
            if not truth and event.sensor != "load_cell":
                # A camera-only slot's count (the scenario's `sees.products`): no weight line,
                # so no truth to compare with; its receipts still count in the metrics line.
                counts["camera_only"] += 1
                continue
            by = truth.get("by")
            what = (
                f"t={t:.2f} {event.device.device_id}/{event.slot_code} "
                f"{event.after - event.before:+.1f} g by={by or '-'}"
                + (" unseen" if truth and unseen(truth) else "")
            )
            result = event.result or {}
            if "entry" in result:
                charged = visit_key[result["visit"]]
                if charged == by:
                    counts["right"] += 1
                    continue
                counts["wrong"] += 1
                lines.append(
                    f"WRONG {what} charged={charged} "
                    f"confidence={result.get('confidence')} evidence={result.get('who')}"
                )
                continue
            item = ReviewItem.objects.filter(shelf_event=event).first()
            if item is not None:
                counts["review"] += 1
                ranked = [
                    (key.get(c.get("shopper")), c.get("confidence"), c.get("evidence"))
                    for c in (item.candidates or [])[:3]
                ]
                lines.append(f"REVIEW {what} reason={item.reason} candidates={ranked}")
            elif by and "put_back_of" not in result:
                # (A put-back that cancels a pick in review is decided: nobody is charged.)
                lines.append(f"NOTHING {what} status={event.status}")
        if outcome.metrics:
            counts["receipts"] = outcome.metrics.receipts
        # The face pass's work (150-250 ms of CPU a frame with real vision): shelf frames whose
        # faces were computed, of those received.
        deferred = Frame.objects.filter(device__kind="shelf").values_list(
            f"result__{DEFERRED}", flat=True
        )
        counts["frames"] = len(deferred)
        counts["faced"] = sum(1 for d in deferred if d is not True)
        return outcome.metrics.line() if outcome.metrics else "", counts, lines
    finally:
        connections.close_all()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="+", type=Path)
    opts = parser.parse_args()
    for name in ("celery", "kombu", "store"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for n, path in enumerate(opts.scenarios, 1):
        print(f"[{n}/{len(opts.scenarios)}] {path.name}", file=sys.stderr, flush=True)
        metrics, counts, lines = outcomes(path)
        print(f"## {path.name}: {metrics}")
        for line in lines:
            print(line)
        print(
            f"charged right {counts['right']}, wrong {counts['wrong']}, "
            f"in review {counts['review']}; camera-only counts {counts['camera_only']}; "
            f"shelf frames whose faces were computed {counts['faced']} of {counts['frames']}",
            flush=True,
        )
        receipts = counts.get("receipts", 0)
        if receipts:
            print(
                f"shoppers with a pick no frame of its camera showed them at: {counts['blind']}; "
                f"cAcc at most {receipts - counts['blind']}/{receipts} unless they were alone",
                flush=True,
            )


if __name__ == "__main__":
    main()
