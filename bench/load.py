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
Results are appended to bench/RESULTS.md unless --no-append.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from store.replay.metrics import score  # noqa: E402  (plain Python, no Django)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    """RSS of a process and its children (a prefork worker is parent + pool child)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_tree_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children (a worker's pool child)."""
    total = 0.0
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))
    return values[k]


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


RECEIPT_LATENCY_SQL = """
SELECT EXTRACT(EPOCH FROM GREATEST(r.issued_at,
    (SELECT max(rv.created_at) FROM store_receiptrevision rv WHERE rv.receipt_id = r.id))
  - COALESCE(
    (SELECT min(f.captured_at) FROM store_frame f
      WHERE f.device_id = v.exit_device_id AND f.result->'receipts' @> to_jsonb(v.id)),
    v.exited_at))
FROM store_receipt r JOIN store_visit v ON v.id = r.visit_id
"""
# A receipt's items are its visit's ledger (amendments are further entries), per shopper in
# the order of their visits.
RECEIPT_ITEMS_SQL = """
SELECT u.username, v.id, (
    SELECT jsonb_object_agg(sku, q) FROM (
        SELECT p.sku, SUM(e.quantity) AS q FROM store_cartentry e
        JOIN store_product p ON p.id = e.product_id
        WHERE e.visit_id = v.id GROUP BY p.sku HAVING SUM(e.quantity) <> 0) items)
FROM store_receipt r JOIN store_visit v ON v.id = r.visit_id
JOIN store_shopper s ON s.id = v.shopper_id JOIN auth_user u ON u.id = s.user_id
ORDER BY u.username, v.entered_at
"""


def _unspaced(name: str) -> str:
    return re.sub(r"^r\d{6}-", "", name)


def db_sizes(dsn: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(dsn) as c:
        row = c.execute(
            "SELECT pg_database_size(current_database()),"
            " pg_total_relation_size('store_frame'),"
            " COALESCE(pg_total_relation_size(NULLIF(reltoastrelid, 0)), 0),"
            " pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"
            " FROM pg_class WHERE relname = 'store_frame'"
        ).fetchone()
    return {"db": row[0], "frame": row[1], "toast": row[2], "wal": int(row[3])}


def replay_locally(scenario: Path, env: dict) -> str:
    """The same scenario through `manage.py replay` (embedded, its own temporary store)."""
    local = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    out = subprocess.run(
        [sys.executable, "manage.py", "replay", str(scenario), "--no-progress"],
        cwd=ROOT, env=local, capture_output=True, text=True,
    )  # fmt: skip
    lines = [x for x in out.stdout.splitlines() if x.startswith("cAcc=")]
    return lines[-1] if lines else f"(local replay failed: {out.stderr.strip()[-200:]})"


class Procs:
    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
        fh = log.open("w")
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_for(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.3)
    raise SystemExit(f"timed out waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def main() -> None:
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
    args = ap.parse_args()

    import psycopg
    import redis

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    redis.Redis.from_url(redis_url).flushdb()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "minigo.settings",
        "DATABASE_URL": f"{args.pg}/{args.db}",
        "REDIS_URL": redis_url,
        "MINIGO_CHANNEL_PREFIX": f"load-{args.db}",
        "MINIGO_ACCEPT_SEES": "true",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
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
        port = free_port()
        daphne = procs.start(
            "daphne",
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "minigo.asgi:application"],
            env, folder / "daphne.log",
        )  # fmt: skip
        workers = []
        for i in range(1, args.workers + 1):
            log = folder / f"worker{i}.log"
            workers.append(
                procs.start(
                    f"worker{i}",
                    [
                        str(BIN / "celery"),
                        "-A",
                        "minigo",
                        "worker",
                        "--concurrency",
                        "1",
                        "-n",
                        f"load{i}@%h",
                        "--loglevel",
                        "INFO",
                        "--without-gossip",
                        "--without-mingle",
                        # The periodic jobs (settling, recovery) run as in production,
                        # beside the first worker.
                        *(["--beat", "-s", str(folder / "beat-schedule")] if i == 1 else []),
                    ],
                    env,
                    log,
                )  # fmt: skip
            )
        wait_for(lambda: port_open(port), 60, "daphne")
        for i in range(1, args.workers + 1):
            log = folder / f"worker{i}.log"
            wait_for(lambda log=log: "ready." in log.read_text(), 90, f"worker {i}")
        db_start = db_sizes(f"{args.pg}/{args.db}")
        if args.busy_core:
            # Another program keeping one core fully busy for the whole run.
            busy = [sys.executable, "-c", "while True: pass"]
            procs.start("busy", busy, env, folder / "busy.log")
        mem_start = {"daphne": rss_kb(daphne.pid)}
        mem_start.update({f"worker{i + 1}": rss_kb(w.pid) for i, w in enumerate(workers)})
        mem_peak = dict(mem_start)
        cpu_start = {name: cpu_tree_s(p.pid) for name, p in procs.procs.items()}
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
            for name, proc in [("daphne", daphne)] + [
                (f"worker{i + 1}", w) for i, w in enumerate(workers)
            ]:
                mem_peak[name] = max(mem_peak[name], rss_kb(proc.pid))
        replay.wait()
        played = time.time() - t0
        replay_out = (folder / "replay.log").read_text()
        print(replay_out.strip().splitlines()[-3:] if replay_out.strip() else "(no replay output)")
        # Drain: wait until nothing is pending and the queue is empty.
        r = redis.Redis.from_url(redis_url)
        dsn = f"{args.pg}/{args.db}"

        def drained() -> bool:
            with psycopg.connect(dsn) as c:
                pending = c.execute(
                    "SELECT count(*) FROM store_shelfevent WHERE status='pending'"
                ).fetchone()[0]
                pending += c.execute(
                    "SELECT count(*) FROM store_frame WHERE status='pending'"
                ).fetchone()[0]
            return pending == 0 and r.llen("celery") == 0

        try:
            wait_for(drained, args.drain, "the queue to drain")
            drain_s = time.time() - t0 - played
        except SystemExit:
            drain_s = float("nan")
        cpu_used = {
            name: cpu_tree_s(p.pid) - cpu_start[name]
            for name, p in procs.procs.items()
            if name in cpu_start
        }
        mem_end = {"daphne": rss_kb(daphne.pid)}
        mem_end.update({f"worker{i + 1}": rss_kb(w.pid) for i, w in enumerate(workers)})
        with psycopg.connect(dsn) as c:
            stored = c.execute("SELECT count(*) FROM store_shelfevent").fetchone()[0]
            by_status = dict(
                c.execute("SELECT status, count(*) FROM store_shelfevent GROUP BY status")
            )
            frames = c.execute("SELECT count(*) FROM store_frame").fetchone()[0]
            entries = c.execute(
                "SELECT count(*) FROM store_cartentry WHERE shelf_event_id IS NOT NULL"
            ).fetchone()[0]
            dup_events = c.execute(
                "SELECT count(*) FROM (SELECT shelf_event_id FROM store_cartentry"
                " WHERE shelf_event_id IS NOT NULL GROUP BY shelf_event_id"
                " HAVING count(*) > 1) d"
            ).fetchone()[0]
            dup_ids = c.execute(
                "SELECT count(*) FROM (SELECT device_id, event_id FROM store_shelfevent"
                " GROUP BY device_id, event_id HAVING count(*) > 1) d"
            ).fetchone()[0]
            lat = [
                float(x)
                for (x,) in c.execute(
                    "SELECT EXTRACT(EPOCH FROM e.created_at - s.occurred_at)"
                    " FROM store_cartentry e JOIN store_shelfevent s ON s.id = e.shelf_event_id"
                )
            ]
            hop = [
                float(x)
                for (x,) in c.execute(
                    "SELECT EXTRACT(EPOCH FROM received_at - occurred_at) FROM store_shelfevent"
                )
            ]
            receipts = c.execute("SELECT count(*) FROM store_receipt").fetchone()[0]
            receipt_lat = [float(x) for (x,) in c.execute(RECEIPT_LATENCY_SQL)]
            got: dict[str, list[dict[str, int]]] = {}
            for who, _visit, items in c.execute(RECEIPT_ITEMS_SQL):
                # `replay --setup` names the scenario's shoppers and products under a fresh
                # namespace (r123456-kit); the expectations use the scenario's own names.
                got.setdefault(_unspaced(who), []).append(
                    {_unspaced(k): int(v) for k, v in (items or {}).items()}
                )
            shelf_frames = dict(
                c.execute(
                    "SELECT f.result ? 'faces_deferred', count(*) FROM store_frame f"
                    " JOIN store_device d ON d.id = f.device_id WHERE d.kind = 'shelf'"
                    " GROUP BY 1"
                )
            )
            review = c.execute(
                "SELECT count(*) FROM store_shelfevent WHERE status='review'"
            ).fetchone()[0]
            negative = c.execute("SELECT count(*) FROM store_slot WHERE stock < 0").fetchone()[0]
        db_end = db_sizes(dsn)
        processed = stored - by_status.get("pending", 0)
        expects = [
            json.loads(x)
            for x in scenario.read_text().splitlines()
            if x.startswith('{"type": "expect"')
        ]
        metrics = score(expects=expects, receipts=got, review=review, events=stored)
        local_line = replay_locally(scenario, env) if args.compare_local else None
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

    rows = [
        f"- Played {played:.0f} s (scenario cut at {args.minutes:g} min), queue drained "
        f"{drain_s:.1f} s after the replay ended; replay said: `{sent_line}`",
        f"- Shelf events: **sent {n_weights}, stored {stored}, processed {processed}** "
        f"({', '.join(f'{k} {v}' for k, v in sorted(by_status.items()))}); "
        f"frames stored {frames} of {n_timed - n_weights} sent",
        f"- Cart entries from shelf events {entries}; **duplicates {dup_events}** (events with "
        f"more than one entry), repeated (device, event id) {dup_ids}; slots below zero "
        f"{negative}; receipts {receipts}",
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
        f"cut): `{metrics.line()}`"
        + (f"; the same scenario replayed locally: `{local_line}`" if local_line else ""),
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
        f"- Agent send → event stored (received_at − occurred_at, n={len(hop)}): "
        f"p50 {ms(pct(hop, 50))}, p95 {ms(pct(hop, 95))}, p99 {ms(pct(hop, 99))}",
        "- RSS (MB) start → end (peak): "
        + ", ".join(
            f"{k} {mem_start[k] / 1024:.0f} → {mem_end[k] / 1024:.0f} ({mem_peak[k] / 1024:.0f})"
            for k in mem_start
        ),
    ]
    print("\n".join(rows))
    if not args.no_append:
        cpu = next(
            (
                x.split(":", 1)[1].strip()
                for x in Path("/proc/cpuinfo").read_text().splitlines()
                if x.startswith("model name")
            ),
            platform.processor(),
        )
        load = os.getloadavg()
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
            "--server --setup` process (one websocket per device, real time).",
            f"Command: `.venv/bin/python bench/load.py --minutes {args.minutes:g} "
            f"--agents {args.agents} --shoppers {args.shoppers}`",
            "",
        ]
        with (ROOT / "bench" / "RESULTS.md").open("a") as fh:
            fh.write("\n".join(head + rows) + "\n")
    print(
        f"load: sent={n_weights} stored={stored} processed={processed} "
        f"duplicates={dup_events + dup_ids} cart_p95_ms={pct(lat, 95) * 1000:.0f} "
        f"receipt_p95_ms={pct(receipt_lat, 95) * 1000:.0f} cAcc={metrics.exact}/{metrics.receipts}"
    )


if __name__ == "__main__":
    main()
