"""Attribution accuracy on generated stores, one table row per perturbation.

For each perturbation set (none, each one alone, all at once) and each seed, writes a scenario
with `manage.py simulate` (20 shoppers at once by default) and replays it with
`manage.py replay` (its own temporary database), then prints a Markdown table: exact receipts
(cAcc), item precision and recall, and the share of shelf events sent to review, summed over
the seeds. These figures describe our own simulator only, not real stores.

    .venv/bin/python bench/simulated_stores.py --seeds 1-5 --sets all
    .venv/bin/python bench/simulated_stores.py --seeds 1-3 --sets none,singles
    .venv/bin/python bench/simulated_stores.py --seeds 1-5 --sets all --frame-s 1.0
    .venv/bin/python bench/simulated_stores.py --seeds 1-5 --sets all --face-jitter 0.03
    .venv/bin/python bench/simulated_stores.py --seeds 1-5 --sets all --camera-slots 0.25 \
        --no-consent 0.1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from store.replay.simulate import PERTURBATIONS  # noqa: E402

LINE = re.compile(r"^cAcc=(\d+)/(\d+) items_p=([\d.]+) items_r=([\d.]+) review=(\d+)")
SHARE = re.compile(r"of (\d+) shelf events")


def seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def sets(text: str) -> list[str]:
    out = []
    for name in text.split(","):
        out += list(PERTURBATIONS) if name == "singles" else [name]
    return out


def run(
    perturb: str,
    seed: int,
    shoppers: int,
    picks: int,
    folder: Path,
    frame_s: float = 0.5,
    face_jitter: float = 0.01,
    camera_slots: float = 0.0,
    no_consent: float = 0.0,
) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    scenario = folder / f"{perturb}-{seed}.jsonl"
    args = [sys.executable, "manage.py", "simulate", str(scenario), "--shoppers", str(shoppers)]
    args += ["--seed", str(seed), "--picks", str(picks), "--truth"]
    args += ["--frame-s", str(frame_s), "--face-jitter", str(face_jitter)]
    args += ["--camera-slots", str(camera_slots), "--no-consent", str(no_consent)]
    if perturb != "none":
        args += ["--perturb", perturb]
    subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True)
    out = subprocess.run(
        [sys.executable, "manage.py", "replay", str(scenario), "--no-progress"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    unseen, picks_n = unseen_picks(scenario)
    m = LINE.match(out[-1])
    events = int(SHARE.search(out[-2]).group(1))
    exact, receipts, p, r, review = m.groups()
    return {
        "exact": int(exact),
        "receipts": int(receipts),
        "p": float(p),
        "r": float(r),
        "review": int(review),
        "events": events,
        "line": out[-1],
        "unseen": unseen,
        "picks": picks_n,
    }


def unseen_picks(path: Path, window_s: float = 3.0) -> tuple[int, int]:
    """(weight changes whose maker no frame of that shelf's camera names within the
    attribution window, all weight changes someone made): from the scenario's truth ("by",
    which the replay ignores). Nobody can tell who made those from the camera: they go to
    review, or, with someone else's face at the slot's border, to the wrong shopper."""
    lines = [json.loads(raw) for raw in path.read_text().splitlines() if raw.strip()]
    seen: dict[str, list[tuple[float, set[str]]]] = {}
    for line in lines:
        if line.get("type") == "frame" and line["device"].startswith("shelf"):
            names = {str(f["id"]) for f in line["sees"].get("shoppers", []) if isinstance(f, dict)}
            seen.setdefault(line["device"], []).append((line["t"], names))
    made = [line for line in lines if line.get("type") == "weight" and line.get("by")]
    unseen = sum(
        not any(
            abs(t - line["t"]) <= window_s and line["by"] in names
            for t, names in seen.get(line["device"], [])
        )
        for line in made
    )
    return unseen, len(made)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1-5")
    parser.add_argument("--sets", default="none,singles,all")
    parser.add_argument("--shoppers", type=int, default=20)
    parser.add_argument("--picks", type=int, default=200)
    parser.add_argument(
        "--frame-s", type=float, default=0.5, help="seconds between a shelf camera's frames"
    )
    parser.add_argument(
        "--face-jitter", type=float, default=0.01, help="sd of a face's measured position"
    )
    parser.add_argument(
        "--camera-slots", type=float, default=0.0, help="share of slots watched by camera only"
    )
    parser.add_argument(
        "--no-consent", type=float, default=0.0, help="share of shoppers without face consent"
    )
    opts = parser.parse_args()
    print(
        "| perturbations | seeds | cAcc | items_p (min) | items_r (min) | review / events "
        "| changes whose maker no frame shows |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in sets(opts.sets):
            rows = [
                run(
                    name,
                    s,
                    opts.shoppers,
                    opts.picks,
                    Path(tmp),
                    opts.frame_s,
                    opts.face_jitter,
                    opts.camera_slots,
                    opts.no_consent,
                )
                for s in seeds(opts.seeds)
            ]
            for s, row in zip(seeds(opts.seeds), rows):
                print(f"<!-- {name} seed {s}: {row['line']} -->", file=sys.stderr)
            exact = sum(r["exact"] for r in rows)
            receipts = sum(r["receipts"] for r in rows)
            review = sum(r["review"] for r in rows)
            events = sum(r["events"] for r in rows)
            print(
                f"| {name} | {opts.seeds} | {exact}/{receipts} = {exact / receipts:.3f} "
                f"| {min(r['p'] for r in rows):.4f} | {min(r['r'] for r in rows):.4f} "
                f"| {review}/{events} = {review / events:.1%} "
                f"| {sum(r['unseen'] for r in rows)}/{sum(r['picks'] for r in rows)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
