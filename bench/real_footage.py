"""Real footage on the shelf cameras, with shoppers enrolled by their real faces: how many shelf
frames the face pass really runs on (faces on demand), what each kind of frame costs the
workers, whether the real faces decide the picks, and how many frames per second of such
footage the store's two cores sustain.

    .venv/bin/python bench/real_footage.py --db h13v_footage --redis-db 12 \\
        --cameras 4 --step-s 240                                   # one steady run
    .venv/bin/python bench/real_footage.py --db h13v_footage --redis-db 12 \\
        --cameras 2,4,6,8,10,12,16,20 --step-s 60                  # the ramp

The store: `--cameras` shelves (load cells, two slots each, a camera each), an entry and an
exit gate. Two shoppers, enrolled with real photos (tests/fixtures/faces: Obama with obama.jpg
and obama2.jpg, Biden with biden.jpg), walk in together, stop at one shelf after another
(never the same one at once), pick items, and walk out; then they come in again. Every
camera sends 640×480 JPEGs at `--fps`: a real empty-shelf frame (tests/fixtures/shelf-frames)
while nobody stands at its shelf, else that frame with the shopper's face pasted in front of it
(Obama from obama-480p.jpg, obama3.jpg and two_people.jpg — none enrolled; Biden from
two_people.jpg, which is the same photograph as his enrolment photo: the only one we have).
The gates send the same kind of frame as each shopper passes. Picks come at `--pick-every`
seconds per shelf on average (the shoppers pick faster when there are more shelves).

`--cameras 2,4,…` ramps: the first step has 2 cameras sending, each next step (`--step-s`
seconds) more. At each step's end the frame backlog is read: the step is sustained if the
oldest frame still waiting for vision is younger than `--max-lag` seconds. The ramp stops at
the first step that is not (the backlog would only grow from there).

What runs: a fresh PostgreSQL database `--db`, Redis db `--redis-db` (flushed), one daphne,
two Celery workers (`--concurrency 1`, the first with beat) whose app (bench/footage_worker.py)
records each task's CPU, and `manage.py replay --server --setup` as the agents. Figures:
CPU per task kind (from the workers' own records), the share of shelf frames whose faces were
computed, picks decided for the right shopper, the replay's cAcc line, CPU of daphne and the
workers from /proc, and the load average of the machine (shared with other jobs: the frames
per second measured are what the store got of the two cores, not what it would get alone).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench.footage_scenario import make_scenario  # noqa: E402
from bench.loadrun.harness import (  # noqa: E402  (the load bench's harness)
    cpu_tree_s,
    free_port,
    port_open,
    recreate_database,
    wait_for,
)


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def backlog(conn) -> tuple[int, int, float]:
    """(frames stored, frames waiting for vision, age in seconds of the oldest waiting)."""
    row = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'pending'),"
        " EXTRACT(EPOCH FROM now() - min(captured_at) FILTER (WHERE status = 'pending'))"
        " FROM store_frame"
    ).fetchone()
    return row[0], row[1], float(row[2] or 0.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cameras", default="4", help="cameras sending, per step (2,4,8: a ramp)")
    ap.add_argument("--step-s", type=float, default=240.0)
    ap.add_argument("--fps", type=float, default=2.0, help="frames per second per camera")
    ap.add_argument("--pick-every", type=float, default=20.0, help="mean s between picks/shelf")
    ap.add_argument("--visit-s", type=float, default=90.0)
    ap.add_argument("--max-lag", type=float, default=10.0, help="s; a step is sustained below")
    ap.add_argument("--variants", type=int, default=6, help="images per shopper")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--db", default="h13v_footage")
    ap.add_argument("--redis-db", type=int, default=12)
    ap.add_argument("--drain", type=float, default=600.0)
    args = ap.parse_args()

    import psycopg
    import redis

    folder = Path(tempfile.mkdtemp(prefix="minigo-footage-"))
    scenario, info = make_scenario(args, folder)
    steps = info["steps"]
    print(f"scenario: {scenario} — steps (cameras) {steps} × {args.step_s:g} s at "
          f"{args.fps:g} fps, {sum(info['frames_per_step'])} shelf frames, "
          f"{info['gate_frames']} gate frames, {info['weights']} picks, "
          f"{info['visits']} visits", flush=True)  # fmt: skip
    recreate_database(f"{args.pg}/postgres", args.db)
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    dsn = f"{args.pg}/{args.db}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "minigo.settings",
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "MINIGO_CHANNEL_PREFIX": f"footage-{args.db}",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT}",
        "FOOTAGE_TASK_LOG": str(folder / "tasks"),
    }
    env.pop("MINIGO_TEST_DB_NAME", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                   cwd=ROOT, env=env, check=True)  # fmt: skip
    port = free_port()
    procs: list[subprocess.Popen] = []
    try:
        daphne = start([str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port),
                        "minigo.asgi:application"], env, folder / "daphne.log")  # fmt: skip
        procs.append(daphne)
        workers = []
        for i in (1, 2):
            cmd = [str(BIN / "celery"), "-A", "footage_worker", "worker", "--concurrency", "1",
                   "-n", f"footage{i}@%h", "--loglevel", "INFO", "--without-gossip",
                   "--without-mingle"]  # fmt: skip
            if i == 1:
                cmd += ["--beat", "-s", str(folder / "beat-schedule")]
            workers.append(start(cmd, env, folder / f"worker{i}.log"))
        procs += workers
        wait_for(lambda: port_open(port), 60, "daphne")
        for i in (1, 2):
            log = folder / f"worker{i}.log"
            wait_for(lambda log=log: "ready." in log.read_text(), 120, f"worker {i}")
        named = {"daphne": daphne, "worker1": workers[0], "worker2": workers[1]}
        cpu0 = {k: cpu_tree_s(p.pid) for k, p in named.items()}
        replay = start([sys.executable, "manage.py", "replay", str(scenario), "--server",
                        f"ws://127.0.0.1:{port}", "--setup", "--no-progress"],
                       env, folder / "replay.log")  # fmt: skip
        procs.append(replay)
        log_text = ""
        deadline = time.monotonic() + 300
        while "device tokens minted" not in log_text:  # enrolment done, play starts
            if replay.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"replay failed:\n{(folder / 'replay.log').read_text()}")
            time.sleep(0.2)
            log_text = (folder / "replay.log").read_text()
        t_play = time.monotonic()
        print(f"playing (load average {os.getloadavg()[0]:.1f})", flush=True)
        results = []
        conn = psycopg.connect(dsn, autocommit=True)
        step = 0
        wcpu = sum(cpu_tree_s(p.pid) for p in workers)
        # (monotonic time, frames processed, worker CPU s) at the last poll and step start
        last = begin = (time.monotonic(), 0, wcpu)
        stopped_early = False
        while replay.poll() is None:
            time.sleep(5)
            now, el = time.monotonic(), time.monotonic() - t_play
            stored, pending, lag = backlog(conn)
            done = stored - pending
            cams = steps[min(len(steps) - 1, int(el // args.step_s))]
            wcpu = sum(cpu_tree_s(p.pid) for p in workers)
            busy = (wcpu - last[2]) / 2 / max(1e-6, now - last[0])
            rate = (done - last[1]) / max(1e-6, now - last[0])
            print(f"  {el:6.0f} s  cameras {cams:2d}  frames stored {stored:6d}  processed "
                  f"{rate:5.1f}/s  waiting {pending:5d}  oldest {lag:5.1f} s  workers "
                  f"{100 * busy:3.0f}% of 2 cores  load {os.getloadavg()[0]:.1f}",
                  flush=True)  # fmt: skip
            last = (now, done, wcpu)
            if el >= (step + 1) * args.step_s and step < len(steps):
                ok = lag <= args.max_lag
                span = max(1e-6, now - begin[0])
                results.append({"cameras": steps[step], "fps": steps[step] * args.fps,
                                "processed_fps": (done - begin[1]) / span,
                                "waiting": pending, "lag": lag, "sustained": ok,
                                "load": os.getloadavg()[0],
                                "workers_cpu_share": (wcpu - begin[2]) / 2 / span})  # fmt: skip
                print(f"step {step + 1}: {steps[step]} cameras sending "
                      f"{steps[step] * args.fps:g} frames/s (+ gates): "
                      f"{'sustained' if ok else 'NOT sustained'} (processed "
                      f"{results[-1]['processed_fps']:.1f} frames/s, waiting {pending}, "
                      f"oldest {lag:.1f} s)", flush=True)  # fmt: skip
                begin = last
                step += 1
                if not ok and len(steps) > 1:
                    stopped_early = True
                    os.killpg(replay.pid, signal.SIGTERM)
                    break
        played = time.monotonic() - t_play
        replay.wait()

        # Drain what is queued, then read everything back.
        def drained() -> bool:
            pend = conn.execute(
                "SELECT (SELECT count(*) FROM store_frame WHERE status='pending')"
                " + (SELECT count(*) FROM store_shelfevent WHERE status='pending')"
            ).fetchone()[0]
            return pend == 0 and r.llen("celery") == 0

        try:
            wait_for(drained, args.drain, "the queue to drain")
        except SystemExit as exc:
            print(exc)
        cpu = {k: cpu_tree_s(p.pid) - cpu0[k] for k, p in named.items()}
        report(args, info, folder, conn, cpu, played, results, stopped_early)
        conn.close()
    finally:
        stop(procs)
        keep = ROOT / "var" / "footage-logs"
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(folder, keep, ignore=shutil.ignore_patterns("img"))
        shutil.rmtree(folder, ignore_errors=True)
        print(f"logs kept in {keep}")
    return 0


def report(args, info, folder: Path, conn, cpu, played, results, stopped_early) -> None:
    tasks = []
    for path in folder.glob("tasks.*"):
        tasks += [json.loads(x) for x in path.read_text().splitlines() if x.strip()]

    def mean_ms(rows) -> str:
        rows = list(rows)
        cpu = sorted(x["cpu"] for x in rows)
        if not cpu:
            return "—"
        mean, median = sum(cpu) / len(cpu), cpu[len(cpu) // 2]
        wall = sum(x.get("wall", 0) for x in rows) / len(rows)
        return (
            f"CPU mean {1000 * mean:.0f} / median {1000 * median:.0f} ms, "
            f"wall mean {1000 * wall:.0f} ms (n={len(cpu)})"
        )

    frames = [t for t in tasks if t["task"] == "process_frame" and "kind" in t]
    shelf = [t for t in frames if t["kind"] == "shelf"]
    gate = [t for t in frames if t["kind"] != "shelf"]
    analysed_own = [t for t in shelf if not t["deferred"] and t["status"] == "applied"]
    deferred_own = [t for t in shelf if t["deferred"]]
    events = [t for t in tasks if t["task"] == "process_shelf_event"]
    rows = dict(conn.execute(
        "SELECT f.result ? 'faces_deferred', count(*) FROM store_frame f"
        " JOIN store_device d ON d.id = f.device_id WHERE d.kind = 'shelf' GROUP BY 1"
    ).fetchall())  # fmt: skip
    analysed, deferred = rows.get(False, 0), rows.get(True, 0)
    with_faces = conn.execute(
        "SELECT count(DISTINCT s.frame_id) FROM store_sighting s WHERE s.shopper_id IS NOT NULL"
    ).fetchone()[0]
    # Picks: each shelf's events in time order are the scenario's picks at it in time order.
    right = wrong = review = pending = 0
    got = conn.execute(
        "SELECT d.device_id, e.status, u.username FROM store_shelfevent e"
        " JOIN store_device d ON d.id = e.device_id"
        " LEFT JOIN store_cartentry c ON c.shelf_event_id = e.id"
        " LEFT JOIN store_visit v ON v.id = c.visit_id"
        " LEFT JOIN store_shopper s ON s.id = v.shopper_id"
        " LEFT JOIN auth_user u ON u.id = s.user_id ORDER BY d.device_id, e.occurred_at"
    ).fetchall()
    by_dev: dict[str, list] = defaultdict(list)
    for dev, status, user in got:
        by_dev[dev.split("-", 1)[1]].append((status, user))
    for dev, expected in info["picks"].items():
        for (_, who), (status, user) in zip(expected, by_dev.get(dev, []), strict=False):
            if status == "pending":
                pending += 1
            elif status == "review":
                review += 1
            elif user and user.endswith(f"-{who}"):
                right += 1
            else:
                wrong += 1
    reasons = conn.execute(
        "SELECT result->>'reason', count(*) FROM store_shelfevent WHERE status='review' GROUP BY 1"
    ).fetchall()
    replay_out = (folder / "replay.log").read_text().strip().splitlines()
    metrics = next((x for x in reversed(replay_out) if x.startswith("cAcc=")), None)
    total_frames = analysed + deferred
    wsum = cpu["worker1"] + cpu["worker2"]
    print()
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    early = " (ramp stopped at the first step not sustained)" if stopped_early else ""
    print(f"played {played:.0f} s{early}")
    for res in results:
        print(f"  {res['cameras']:2d} cameras sending {res['fps']:4.0f} frames/s: "
              f"{'sustained' if res['sustained'] else 'NOT sustained'}; processed "
              f"{res['processed_fps']:.1f} frames/s (gate frames included); waiting at its end "
              f"{res['waiting']}, oldest {res['lag']:.1f} s; workers used "
              f"{100 * res['workers_cpu_share']:.0f}% of 2 cores; "
              f"load {res['load']:.1f}")  # fmt: skip
    print(
        f"shelf frames whose faces were computed: {analysed} of {total_frames} "
        f"({100 * analysed / max(1, total_frames):.0f}%); frames with a named face: {with_faces}"
    )
    print("worker CPU per task:")
    print(
        f"  shelf frame analysed in its own task, a face in it: "
        f"{mean_ms(t for t in analysed_own if t.get('faces'))}"
    )
    print(
        f"  shelf frame analysed in its own task, no face (empty shelf): "
        f"{mean_ms(t for t in analysed_own if not t.get('faces'))}"
    )
    print(f"  shelf frame deferred: {mean_ms(deferred_own)}")
    print(f"  gate frame: {mean_ms(gate)}")
    print(f"  shelf event task (with the deferred frames it had analysed): {mean_ms(events)}")
    print(
        f"CPU s: daphne {cpu['daphne']:.0f}, workers {wsum:.0f} "
        f"({1000 * wsum / max(1, total_frames):.0f} ms of worker CPU per shelf frame, all "
        f"tasks included; daphne {1000 * cpu['daphne'] / max(1, total_frames):.1f} ms)"
    )
    per_frame = (wsum + cpu["daphne"]) / max(1, total_frames)
    print(
        f"derived: 2 cores / {1000 * per_frame:.0f} ms per shelf frame (workers + daphne) "
        f"= {2 / per_frame:.0f} frames/s at this run's share and pick rate"
    )
    print(
        f"picks: {right} to the right shopper, {wrong} to the wrong one, {review} to review, "
        f"{pending} pending, of {len(got)} stored ({info['weights']} in the scenario, the rest "
        f"after the ramp stopped, if it did); review reasons {dict(reasons)}"
    )
    print(
        f"replay: {metrics or '(no metrics line: ' + (replay_out[-1] if replay_out else '') + ')'}"
    )


if __name__ == "__main__":
    sys.exit(main())
