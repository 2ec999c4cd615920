"""Worker CPU per task: a real Celery worker drains a queue of frame tasks, then of shelf-event
tasks, and its CPU time is divided by the tasks it ran.

    DATABASE_URL=postgres://…/NAME REDIS_URL=redis://127.0.0.1:6379/N \\
        .venv/bin/python bench/task_cost.py --frames 400 --events 100

It creates its own database (`<NAME>_bench_tasks`, dropped and made anew) and uses the Redis
db of REDIS_URL (its `celery` queue is emptied first). The store: one camera shelf, twenty
shoppers inside; frames are synthetic (`sees`, the replay's camera output: no vision runs, so
what is measured is the task's own cost: database, broker, broadcasts), each showing one
shopper at the shelf; each shelf event is a pick next to such a frame, so it is decided at
once. The worker is `celery worker --pool solo` (one process), started after the queue is
filled; its CPU (user + system, from /proc) is read when it is ready and when the queue has
drained. Run it from two checkouts one after the other to compare code versions.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
# In the store at once; frame i shows shopper i mod SHOPPERS, so a visit gathers a handful of
# picks, as in a real store, not hundreds.
SHOPPERS = 20


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prepare(url: str) -> str:
    import psycopg

    name = urlparse(url).path.strip("/") + "_bench_tasks"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    db_url = urlunparse(urlparse(url)._replace(path="/" + name))
    env = {**os.environ, "DATABASE_URL": db_url}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
        check=True,
    )  # fmt: skip
    return db_url


def drain(env: dict, pending_sql: str, what: str) -> tuple[float, float]:
    """Start a solo worker on the filled queue; (CPU seconds, wall seconds) until drained."""
    import psycopg
    import redis

    log = Path(f"/tmp/bench-task-cost-{os.getpid()}.log")
    proc = subprocess.Popen(
        [str(BIN / "celery"), "-A", "minigo", "worker", "--pool", "solo", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n",
         f"bench{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "ready." not in log.read_text():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"worker did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        cpu0, t0 = cpu_s(proc.pid), time.monotonic()
        r = redis.Redis.from_url(env["REDIS_URL"])
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as c:
            while True:
                left = c.execute(pending_sql).fetchone()[0]
                if left == 0 and r.llen("celery") == 0:
                    break
                if time.monotonic() - t0 > 600:
                    raise SystemExit(f"{what}: {left} still pending after 600 s")
                time.sleep(0.05)
        return cpu_s(proc.pid) - cpu0, time.monotonic() - t0
    finally:
        proc.terminate()
        proc.wait(20)
        log.unlink(missing_ok=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--events", type=int, default=100)
    args = ap.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        print("set DATABASE_URL (PostgreSQL) and REDIS_URL", file=sys.stderr)
        return 2
    db_url = prepare(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DJANGO_SETTINGS_MODULE": "minigo.settings",
        "MINIGO_ACCEPT_SEES": "true",
        "MINIGO_CHANNEL_PREFIX": f"bench-tasks-{os.getpid()}",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import django

    django.setup()
    import redis
    from django.utils import timezone

    from store.models import Product, Shelf, Shopper, Slot
    from store.replay.frames import sees_jpeg
    from store.services.devices import device_create
    from store.services.events import event_store
    from store.services.frames import frame_store
    from store.services.visits import visit_open

    redis.Redis.from_url(env["REDIS_URL"]).delete("celery")
    cola = Product.objects.create(
        sku="COLA", name="Cola", price="1.50", unit_weight_g=350, weight_tolerance_g=15
    )
    shelf_dev, _ = device_create(device_id="shelf-1", kind="shelf")
    gate, _ = device_create(device_id="gate-in", kind="entry")
    shelf = Shelf.objects.create(name="Drinks", device=shelf_dev, has_camera=True)
    Slot.objects.create(shelf=shelf, code="A1", product=cola, stock=10**6, capacity=10**6)
    from django.contrib.auth.models import User

    start = timezone.now().timestamp() - 3600
    entered = datetime.fromtimestamp(start - 60, tz=UTC)
    names = [f"s{n}" for n in range(SHOPPERS)]
    for name in names:
        user = User.objects.create_user(username=name, password="x")
        shopper = Shopper.objects.create(user=user, display_name=name, face_consent=True)
        visit_open(shopper=shopper, device=gate, method="face", at=entered)
    for i in range(args.frames):
        header = {"event_id": f"f{i}", "camera": "0", "seq": i, "ts": start + i * 10.0,
                  "sees": {"shoppers": [{"id": names[i % SHOPPERS], "x": 0.5}]}}  # fmt: skip
        frame_store(device=shelf_dev, header=header, jpeg=sees_jpeg(), width=16, height=16)
    frames_cpu, frames_wall = drain(
        env, "SELECT count(*) FROM store_frame WHERE status = 'pending'", "frames"
    )
    for i in range(min(args.events, args.frames)):
        msg = {"event_id": f"e{i}", "slot": "A1", "sensor": "load_cell", "before": 4200.0,
               "after": 3850.0, "ts": start + i * 10.0 + 0.3}  # fmt: skip
        event_store(device=shelf_dev, msg=msg)
    events_cpu, events_wall = drain(
        env, "SELECT count(*) FROM store_shelfevent WHERE status = 'pending'", "events"
    )
    from store.models import CartEntry

    applied = CartEntry.objects.count()
    print(
        f"frame task: {frames_cpu * 1000 / args.frames:.2f} ms CPU, "
        f"{frames_wall * 1000 / args.frames:.2f} ms wall ({args.frames} tasks)\n"
        f"shelf-event task: {events_cpu * 1000 / max(1, args.events):.2f} ms CPU, "
        f"{events_wall * 1000 / max(1, args.events):.2f} ms wall ({args.events} tasks, "
        f"{applied} cart entries)\n"
        f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
