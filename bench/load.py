"""A bounded load run of the whole scaled-out store.

    .venv/bin/python bench/load.py [--minutes 10] [--agents 20] [--shoppers 50]

What it starts (all on loopback, all stopped by the script, also on Ctrl-C):
- a fresh PostgreSQL database (`--db`, default `minigo_load`, dropped and re-created),
- Redis db `--redis-db` (default 8; flushed first), channel prefix `load-<db>`,
- one daphne, two Celery workers (`celery -A minigo worker --concurrency 1`, two processes),
- `manage.py replay SCENARIO --server ws://… --setup` as the agents: one websocket per device.

The scenario comes from `manage.py simulate`: agents/4 independent "aisles" (2 shelves + an
entry and an exit gate each, so 20 agents = 5 aisles), shoppers/aisles shoppers in each aisle
at once (so 50 in the store at once), several simulate runs per aisle chained in time until
`--minutes` of scenario time; the timeline is cut there. It plays at real time (speed 1) and
stops by itself.

Figures (from the database afterwards, and /proc for memory):
- shelf events sent (weight lines played), stored (ShelfEvent rows), processed (no longer
  pending: applied / review / ignored), cart entries, duplicates (stored events with more
  than one cart entry; repeated (device, event id) cannot be stored at all);
- latency from shelf event to cart update: CartEntry.created_at − ShelfEvent.occurred_at.
  occurred_at is the agent's send time (the replay stamps each message with time.time() as it
  sends it; same clock, same machine), created_at is set inside the transaction that writes
  the entry and moves the stock (its live `cart` push fires on commit right after). Events
  that wait for the camera window (attribution doubt) include that wait by design;
- RSS of daphne and of each worker (parent + pool child) at start and end, and the peak.
- with the store's trace on (MINIGO_TRACE), where the slowest events and receipts spent
  their time (bench/loadrun/breakdown.py).
Results are appended to bench/RESULTS.md unless --no-append. The last line printed is
`load: sent=<n> stored=<n> processed=<n> duplicates=<n> cart_p95_ms=<x> receipt_p95_ms=<y>
cAcc=<a>/<b>`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadrun import breakdown, figures, harness  # noqa: E402
from bench.loadrun.harness import BIN, Procs, pct  # noqa: E402
from bench.loadrun.scenario import make_scenario  # noqa: E402


def queued(r) -> int:
    """Tasks waiting in the default queue, at every priority (kombu keeps one Redis list per
    priority step: `celery`, `celery\x06\x163`, …)."""
    return sum(r.llen(k) for k in r.scan_iter(match="celery*") if r.type(k) == b"list")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--agents", type=int, default=20, help="a multiple of 4 (2 shelves + 2 gates)")
    ap.add_argument("--shoppers", type=int, default=50, help="in the store at once")
    ap.add_argument("--picks", type=int, default=200, help="picks per simulate segment")
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--db", default="minigo_load")
    ap.add_argument("--redis-db", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="worker processes, concurrency 1 each")
    ap.add_argument("--drain", type=float, default=900.0, help="max seconds to wait for tasks")
    ap.add_argument("--no-append", action="store_true", help="do not write bench/RESULTS.md")
    ap.add_argument(
        "--shelf-images",
        default="",
        help="comma-separated JPEGs sent as the shelf cameras' frames (real vision) instead"
        " of the scenario's synthetic `sees`",
    )
    ap.add_argument(
        "--busy-core", action="store_true", help="run a CPU-bound process beside the store"
    )
    ap.add_argument(
        "--compare-local", action="store_true", help="also replay the scenario locally (slow)"
    )
    ap.add_argument(
        "--no-trace", action="store_true", help="without the store's trace lines (no breakdown)"
    )
    return ap.parse_args()


def start(args, folder: Path, env: dict, procs: Procs) -> tuple[int, list]:
    """daphne and the workers (the first with beat); returns daphne's port and the workers."""
    port = harness.free_port()
    procs.start(
        "daphne",
        [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "minigo.asgi:application"],
        env, folder / "daphne.log",
    )  # fmt: skip
    workers = []
    for i in range(1, args.workers + 1):
        # The periodic jobs (settling, recovery) run as in production, beside the first worker.
        beat = ["--beat", "-s", str(folder / "beat-schedule")] if i == 1 else []
        cmd = [str(BIN / "celery"), "-A", "minigo", "worker", "--concurrency", "1",
               "-n", f"load{i}@%h", "--loglevel", "INFO", "--without-gossip",
               "--without-mingle", *beat]  # fmt: skip
        workers.append(procs.start(f"worker{i}", cmd, env, folder / f"worker{i}.log"))
    harness.wait_for(lambda: harness.port_open(port), 60, "daphne")
    for i in range(1, args.workers + 1):
        log = folder / f"worker{i}.log"
        harness.wait_for(lambda log=log: "ready." in log.read_text(), 90, f"worker {i}")
    return port, workers


def main() -> None:
    args = parse_args()
    # Stopped from outside (or from a shell that started it in the background, where SIGINT
    # is ignored): stop the store's processes on the way out, as on Ctrl-C.
    # (KeyboardInterrupt, not SystemExit: a drain that times out raises SystemExit.)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import psycopg
    import redis

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    redis.Redis.from_url(redis_url).flushdb()
    dsn = f"{args.pg}/{args.db}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "minigo.settings",
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "MINIGO_CHANNEL_PREFIX": f"load-{args.db}",
        "MINIGO_ACCEPT_SEES": "true",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    if not args.no_trace:
        env["MINIGO_TRACE"] = "true"
    env.pop("MINIGO_TEST_DB_NAME", None)
    folder = Path(tempfile.mkdtemp(prefix="minigo-load-"))
    procs = Procs()
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
        scenario, n_timed, n_weights = make_scenario(args, folder, env)
        print(f"scenario {scenario}: {n_timed} messages, {n_weights} shelf events")
        port, workers = start(args, folder, env, procs)
        daphne = procs.procs["daphne"]
        db_start = figures.db_sizes(dsn)
        if args.busy_core:
            # Another program keeping one core fully busy for the whole run.
            busy = [sys.executable, "-c", "while True: pass"]
            procs.start("busy", busy, env, folder / "busy.log")
        watched = {"daphne": daphne, **{f"worker{i + 1}": w for i, w in enumerate(workers)}}
        mem_start = {k: harness.rss_kb(p.pid) for k, p in watched.items()}
        mem_peak = dict(mem_start)
        cpu_start = {name: harness.cpu_tree_s(p.pid) for name, p in procs.procs.items()}
        print("started; RSS kB", mem_start, flush=True)
        t0 = time.time()
        replay = procs.start(
            "replay",
            [sys.executable, "manage.py", "replay", str(scenario), "--server",
             f"ws://127.0.0.1:{port}", "--setup", "--no-progress"],
            env, folder / "replay.log",
        )  # fmt: skip
        hard_stop = time.monotonic() + args.minutes * 60 + 240
        while replay.poll() is None:
            if time.monotonic() > hard_stop:
                os.killpg(replay.pid, signal.SIGTERM)
                print("replay did not finish in time: stopped", flush=True)
                break
            time.sleep(5)
            for name, proc in watched.items():
                mem_peak[name] = max(mem_peak[name], harness.rss_kb(proc.pid))
        replay.wait()
        played = time.time() - t0
        replay_out = (folder / "replay.log").read_text()
        print(replay_out.strip().splitlines()[-3:] if replay_out.strip() else "(no replay output)")
        r = redis.Redis.from_url(redis_url)
        try:
            harness.wait_for(
                lambda: figures.pending(dsn) == 0 and queued(r) == 0, args.drain, "drain"
            )
            drain_s = time.time() - t0 - played
        except SystemExit:
            drain_s = float("nan")
        cpu_used = {
            name: harness.cpu_tree_s(p.pid) - cpu_start[name]
            for name, p in procs.procs.items()
            if name in cpu_start
        }
        mem_end = {k: harness.rss_kb(p.pid) for k, p in watched.items()}
        f = figures.collect(dsn, scenario)
        db_end = figures.db_sizes(dsn)
        traces = breakdown.read_traces(folder) if not args.no_trace else []
        slow = (
            breakdown.events(dsn, traces, f["cart_lat"])
            + breakdown.receipts(dsn, traces, f["receipt_lat"])
            if traces
            else []
        )
        local_line = figures.replay_locally(scenario, env) if args.compare_local else None
        sent_line = next(
            (x for x in replay_out.splitlines() if x.startswith("sent ")), "sent ? (no output)"
        )
    finally:
        procs.stop_all()
        log_dir = ROOT / "var" / "load-logs"
        shutil.rmtree(log_dir, ignore_errors=True)
        shutil.copytree(folder, log_dir, ignore=shutil.ignore_patterns("a*-*.jsonl"))
        shutil.rmtree(folder, ignore_errors=True)
        print(f"logs kept in {log_dir}")

    def ms(v: float) -> str:
        return f"{v * 1000:.0f} ms"

    lat, receipt_lat = list(f["cart_lat"].values()), list(f["receipt_lat"].values())
    frames, stored, by_status = f["frames"], f["stored"], f["by_status"]
    shelf_frames = f["shelf_frames"]
    rows = [
        f"- Played {played:.0f} s (scenario cut at {args.minutes:g} min), queue drained "
        f"{drain_s:.1f} s after the replay ended; replay said: `{sent_line}`",
        f"- Shelf events: **sent {n_weights}, stored {stored}, processed {f['processed']}** "
        f"({', '.join(f'{k} {v}' for k, v in sorted(by_status.items()))}); "
        f"frames stored {frames} of {n_timed - n_weights} sent",
        f"- Cart entries from shelf events {f['entries']}; **duplicates {f['dup_events']}** "
        f"(events with more than one entry), repeated (device, event id) {f['dup_ids']}; slots "
        f"below zero {f['negative']}; receipts {f['receipts']}",
        f"- Shelf event → cart entry (n={len(lat)}): p50 {ms(pct(lat, 50))}, "
        f"p95 {ms(pct(lat, 95))}, p99 {ms(pct(lat, 99))}, max {ms(max(lat) if lat else 0)}"
        + (f", mean {ms(statistics.fmean(lat))}" if lat else ""),
        "  (method: CartEntry.created_at − ShelfEvent.occurred_at; occurred_at is the agent's"
        " send time, created_at is written in the transaction that moves the stock; the live"
        " `cart` push follows on commit; waits for the camera window are included)",
        f"- Exit frame → receipt (n={len(receipt_lat)}): p50 {ms(pct(receipt_lat, 50))}, "
        f"p95 {ms(pct(receipt_lat, 95))}, max {ms(max(receipt_lat) if receipt_lat else 0)}"
        " (method: the final revision's time (Receipt.issued_at without one) − capture time of"
        " the exit frame that closed the visit; receipts are scored by their final items)",
        f"- Receipts scored against the scenario's expectations (visits that ended before the "
        f"cut): `{f['metrics'].line()}`"
        + (f"; the same scenario replayed locally: `{local_line}`" if local_line else ""),
        *slow,
        f"- PostgreSQL: database {db_start['db'] / 2**20:.1f} → {db_end['db'] / 2**20:.1f} MB; "
        f"frame table with its TOAST {db_start['frame'] / 2**20:.2f} → "
        f"{db_end['frame'] / 2**20:.2f} MB for {frames} frames "
        f"({(db_end['frame'] - db_start['frame']) / max(1, frames):.0f} B per frame: no pixels), "
        f"TOAST {db_start['toast'] / 2**10:.0f} → {db_end['toast'] / 2**10:.0f} kB; WAL written "
        f"by the whole server meanwhile {(db_end['wal'] - db_start['wal']) / 2**20:.0f} MB "
        "(other databases on this server included)",
        "- CPU seconds over the run: "
        + ", ".join(f"{k} {v:.0f}" for k, v in cpu_used.items())
        + f" ({sum(v for k, v in cpu_used.items() if k.startswith('worker')):.0f} in workers"
        f" for {frames} frames and {stored} shelf events)",
        f"- Shelf frames whose faces were computed: {shelf_frames.get(False, 0)} of "
        f"{shelf_frames.get(False, 0) + shelf_frames.get(True, 0)} (the rest deferred: no "
        "event needed them)"
        + (" — real footage" if args.shelf_images else " — synthetic `sees` frames, no vision"),
        f"- Agent send → event stored (received_at − occurred_at, n={len(f['hop'])}): "
        f"p50 {ms(pct(f['hop'], 50))}, p95 {ms(pct(f['hop'], 95))}, p99 {ms(pct(f['hop'], 99))}",
        "- RSS (MB) start → end (peak): "
        + ", ".join(
            f"{k} {mem_start[k] / 1024:.0f} → {mem_end[k] / 1024:.0f} ({mem_peak[k] / 1024:.0f})"
            for k in mem_start
        ),
    ]
    print("\n".join(rows))
    if not args.no_append:
        append_results(args, t0, rows)
    print(figures.load_line(sent=n_weights, f=f))


def append_results(args, t0: float, rows: list[str]) -> None:
    cpu = next(
        (
            x.split(":", 1)[1].strip()
            for x in Path("/proc/cpuinfo").read_text().splitlines()
            if x.startswith("model name")
        ),
        platform.processor(),
    )
    load = os.getloadavg()
    flags = (" --busy-core" if args.busy_core else "") + (
        " --compare-local" if args.compare_local else ""
    )
    head = [
        "",
        f"## Load run: {args.agents} agents, {args.shoppers} shoppers, "
        f"{args.minutes:g} min ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t0))})",
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores, everything of the run on it "
        f"(load average at the end {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}), "
        f"Python {platform.python_version()}. PostgreSQL (database `{args.db}`) and Redis "
        f"(db {args.redis_db}) on loopback, one daphne, {args.workers} Celery worker "
        "processes with `--concurrency 1` each, the agents = one `manage.py replay "
        "--server --setup` process (one websocket per device, real time)"
        + (", and one process keeping a core busy" if args.busy_core else "")
        + ".",
        f"Command: `.venv/bin/python bench/load.py --minutes {args.minutes:g} "
        f"--agents {args.agents} --shoppers {args.shoppers}{flags}`",
        "",
    ]
    with (ROOT / "bench" / "RESULTS.md").open("a") as fh:
        fh.write("\n".join(head + rows) + "\n")


if __name__ == "__main__":
    main()
