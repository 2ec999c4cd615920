"""Time from a shelf event reaching the server to the cart update reaching the shopper's
websocket, with PostgreSQL, Redis, daphne and a real Celery worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/cart_latency.py --events 200

REDIS_URL must name a Redis database of its own: the bench purges its Celery queue.
It creates its own database (`minigo_cart_latency`, dropped afterwards) next to the one
DATABASE_URL names, starts daphne and `celery worker` on it, opens a shopper's live socket
(session cookie) and a shelf device's socket (token). Two shoppers stand at the shelf; before
each pick the shelf camera sends a frame that sees the picker at the slot and the other one
at the next slot (a `sees` frame, so
the figure is the attribution and cart path, not face recognition). Each pick is timed from
sending the shelf_event to the shopper's socket receiving the "cart" push for it."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadrun.harness import (  # noqa: E402
    Procs,
    admin_url,
    drop_database,
    recreate_database,
    start_store,
)

DB_NAME = "minigo_cart_latency"


def _setup(env: dict[str, str]) -> dict[str, str]:
    """Migrate and create the store; returns tokens and the shopper's session cookie."""
    code = r"""
import json
from decimal import Decimal
from django.contrib.auth import get_user_model, BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
call_command("migrate", verbosity=0)
from store.models import Product, Shelf, Shopper, Slot
from store.services.devices import device_create
from store.services.visits import visit_open
cola = Product.objects.create(sku="COLA", name="Cola", price=Decimal("1.50"), unit_weight_g=350,
                              weight_tolerance_g=15)
chips = Product.objects.create(sku="CHIPS", name="Crisps", price=Decimal("1.10"),
                               unit_weight_g=45, weight_tolerance_g=4)
dev, token = device_create(device_id="shelf-1", kind="shelf")
shelf = Shelf.objects.create(name="Drinks", device=dev, has_camera=True)
# Calibrated reach bands: the camera sees Kit in front of A1 and Ana in front of A2. Without
# them a face's position says nothing, and two faces at the shelf leave every pick in doubt.
Slot.objects.create(shelf=shelf, code="A1", product=cola, stock=500, capacity=1000,
                    reach_from=0.0, reach_to=0.5)
Slot.objects.create(shelf=shelf, code="A2", product=chips, stock=500, capacity=1000,
                    reach_from=0.5, reach_to=1.0)
User = get_user_model()
out = {"token": token}
for name in ("kit", "ana"):
    user = User.objects.create_user(username=name, password="x")
    shopper = Shopper.objects.create(user=user, display_name=name.title(), face_consent=True)
    visit_open(shopper=shopper)
    if name == "kit":
        s = SessionStore()
        s[SESSION_KEY] = str(user.pk)
        s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        s[HASH_SESSION_KEY] = user.get_session_auth_hash()
        s.save()
        out["session"] = s.session_key
print(json.dumps(out))
"""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


async def _run(port: int, token: str, session: str, events: int, gap: float) -> list[float]:
    from websockets.asyncio.client import connect

    sys.path.insert(0, str(ROOT))
    from edge_agent import protocol
    from store.replay.frames import sees_jpeg

    live = await connect(
        f"ws://127.0.0.1:{port}/ws/live/",
        additional_headers={"Cookie": f"sessionid={session}", "Origin": f"http://127.0.0.1:{port}"},
    )
    device = await connect(
        f"ws://127.0.0.1:{port}/ws/device/",
        additional_headers={"Authorization": f"Bearer {token}"},
        max_size=None,
    )
    await device.recv()  # config
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    done = asyncio.Event()

    async def listen() -> None:
        n = 0
        async for raw in live:
            msg = json.loads(raw)
            if msg.get("event") == "cart" and "change" in msg["data"]:
                got[n] = time.perf_counter()
                n += 1
                if n == events:
                    done.set()

    async def drain() -> None:
        async for _ in device:
            pass

    tasks = [asyncio.create_task(listen()), asyncio.create_task(drain())]
    grams = {"A1": 350 * 500.0, "A2": 45 * 500.0}
    unit = {"A1": 350.0, "A2": 45.0}
    for i in range(events):
        # Kit stands at A1, Ana beside him at A2; Kit takes a cola and puts it back, in turn,
        # so stock stays put over a long run. The camera streams, so a frame from just
        # before the pick is usually processed when the weight change arrives.
        slot = "A1"
        frame = protocol.encode_frame(
            event_id=f"f{i}",
            ts=time.time(),
            jpeg=sees_jpeg(),
            sees={"shoppers": [{"id": "kit", "x": 0.25}, {"id": "ana", "x": 0.75}]},
        )
        await device.send(frame)
        await asyncio.sleep(0.2)
        delta = unit[slot] if i % 2 == 0 else -unit[slot]
        msg = {
            "type": "shelf_event",
            "v": 1,
            "event_id": f"e{i}",
            "slot": slot,
            "sensor": "load_cell",
            "before": grams[slot],
            "after": grams[slot] - delta,
            "ts": time.time(),
        }
        grams[slot] -= delta
        sent[i] = time.perf_counter()
        await device.send(json.dumps(msg))
        await asyncio.sleep(gap)
    try:
        await asyncio.wait_for(done.wait(), timeout=60)
    except TimeoutError:
        pass
    for t in tasks:
        t.cancel()
    await live.close()
    await device.close()
    return [(got[i] - sent[i]) * 1000 for i in sorted(got) if i in sent]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between picks")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--log", help="append the server's and the worker's output here")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    recreate_database(url, DB_NAME)
    env = {
        **os.environ,
        "DATABASE_URL": admin_url(url, DB_NAME),
        "MINIGO_ACCEPT_SEES": "true",
        "MINIGO_CHANNEL_PREFIX": "cartlat",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    procs = Procs()
    log = open(args.log, "ab") if args.log else subprocess.DEVNULL  # noqa: SIM115
    try:
        boot = _setup(env)
        port = start_store(env, log, procs, concurrency=args.concurrency)
        ms = asyncio.run(_run(port, boot["token"], boot["session"], args.events, args.gap))
    finally:
        procs.stop_all()
        if not args.keep:
            drop_database(url, DB_NAME)
    if not ms:
        sys.exit("no cart update arrived")
    ms.sort()
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cpus, "
        f"python {platform.python_version()}"
    )
    print(
        f"picks {args.events}, cart updates received {len(ms)}, worker concurrency "
        f"{args.concurrency}"
    )
    print(
        f"shelf event → shopper's cart push: p50 {p(0.5):.1f} ms, p95 {p(0.95):.1f} ms, "
        f"mean {statistics.mean(ms):.1f} ms, max {ms[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
