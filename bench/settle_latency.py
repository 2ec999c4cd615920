"""Time from the exit gate's frame to the shopper's final receipt on their websocket, beside
shelf event → cart push, with PostgreSQL, Redis, daphne and a real Celery worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/settle_latency.py --visits 60

REDIS_URL must name a Redis database of its own: the bench purges its Celery queue. It creates
its own database (`minigo_settle_latency`, dropped afterwards), starts daphne and a Celery
worker (with beat) on it, and plays three devices and one shopper's phone over websockets:
the shelf answers the server's `sync` with a heartbeat carrying its watermark (protocol v2, as
the agent does) and beats every 5 s; every device is online. Each visit: the entry gate sees
Kit (`sees` frame, so face recognition is not timed), the shelf camera sees Kit and a cola is
taken (timed: shelf_event sent → "cart" push), then the exit gate sees Kit (timed: exit frame
sent → "receipt" push, final, not provisional)."""

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

from bench.loadrun.harness import (  # noqa: E402  (the load bench's harness)
    Procs,
    admin_url,
    drop_database,
    recreate_database,
    start_store,
)

DB_NAME = "minigo_settle_latency"

SETUP = r"""
import json
from decimal import Decimal
from django.contrib.auth import get_user_model, BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
call_command("migrate", verbosity=0)
from store.models import Product, Shelf, Shopper, Slot
from store.services.devices import device_create
cola = Product.objects.create(sku="COLA", name="Cola", price=Decimal("1.50"), unit_weight_g=350,
                              weight_tolerance_g=15)
out = {}
dev, out["shelf-1"] = device_create(device_id="shelf-1", kind="shelf")
_, out["gate-in"] = device_create(device_id="gate-in", kind="entry")
_, out["gate-out"] = device_create(device_id="gate-out", kind="exit")
shelf = Shelf.objects.create(name="Drinks", device=dev, has_camera=True)
Slot.objects.create(shelf=shelf, code="A1", product=cola, stock=5000, capacity=10000)
user = get_user_model().objects.create_user(username="kit", password="x")
Shopper.objects.create(user=user, display_name="Kit", face_consent=True)
s = SessionStore()
s[SESSION_KEY] = str(user.pk)
s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
s[HASH_SESSION_KEY] = user.get_session_auth_hash()
s.save()
out["session"] = s.session_key
print(json.dumps(out))
"""


async def _run(port: int, boot: dict[str, str], visits: int) -> tuple[list[float], list[float]]:
    from websockets.asyncio.client import connect

    from edge_agent import protocol
    from store.replay.frames import sees_jpeg

    jpeg = sees_jpeg()
    live = await connect(
        f"ws://127.0.0.1:{port}/ws/live/",
        additional_headers={
            "Cookie": f"sessionid={boot['session']}",
            "Origin": f"http://127.0.0.1:{port}",
        },
    )
    devices = {}
    for name in ("shelf-1", "gate-in", "gate-out"):
        devices[name] = await connect(
            f"ws://127.0.0.1:{port}/ws/device/",
            additional_headers={"Authorization": f"Bearer {boot[name]}"},
            max_size=None,
        )
        await devices[name].recv()  # config
    shelf = devices["shelf-1"]
    events: asyncio.Queue = asyncio.Queue()
    syncs = 0

    async def listen() -> None:
        async for raw in live:
            msg = json.loads(raw)
            await events.put((msg.get("event"), msg.get("data") or {}, time.perf_counter()))

    async def beat() -> None:
        # The agent's heartbeat task: every 5 s, and at once when the server asks (sync).
        nonlocal syncs

        async def send() -> None:
            mark = time.time() - 0.25  # the agent's reading lag (edge_agent.client)
            await shelf.send(protocol.dumps(protocol.heartbeat(ts=time.time(), watermark=mark)))

        async def periodic() -> None:
            while True:
                await send()
                await asyncio.sleep(5)

        task = asyncio.create_task(periodic())
        try:
            async for raw in shelf:
                msg = json.loads(raw)
                if msg.get("type") == "sync":
                    syncs += 1
                    # The agent answers once its watermark reaches the asked time.
                    wait = msg.get("until", 0) + 0.25 - time.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    await send()
        finally:
            task.cancel()

    async def drain(ws) -> None:
        async for _ in ws:
            pass

    tasks = [
        asyncio.create_task(listen()),
        asyncio.create_task(beat()),
        asyncio.create_task(drain(devices["gate-in"])),
        asyncio.create_task(drain(devices["gate-out"])),
    ]

    async def until(name: str, pred=lambda d: True, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(name)
            event, data, at = await asyncio.wait_for(events.get(), left)
            if event == name and pred(data):
                return at

    def frame(device: str, n: str) -> bytes:
        return protocol.encode_frame(
            event_id=f"{device}-{n}", ts=time.time(), jpeg=jpeg, sees={"shoppers": ["kit"]}
        )

    cart_ms, receipt_ms = [], []
    grams = 350.0 * 2500  # under the sensor range (1 000 000)
    try:
        for i in range(visits):
            await devices["gate-in"].send(frame("gate-in", str(i)))
            await until("visit_opened")
            await shelf.send(frame("shelf-1", str(i)))
            await asyncio.sleep(0.2)
            pick = {
                "type": "shelf_event", "v": protocol.VERSION, "event_id": f"e{i}", "slot": "A1",
                "sensor": "load_cell", "before": grams, "after": grams - 350, "ts": time.time(),
            }  # fmt: skip
            grams -= 350
            sent = time.perf_counter()
            await shelf.send(json.dumps(pick))
            cart_ms.append((await until("cart", lambda d: "change" in d) - sent) * 1000)
            await asyncio.sleep(0.3)
            sent = time.perf_counter()
            await devices["gate-out"].send(frame("gate-out", str(i)))
            got = await until("receipt", lambda d: not d.get("provisional"))
            receipt_ms.append((got - sent) * 1000)
            await asyncio.sleep(0.2)
    finally:
        for t in tasks:
            t.cancel()
        await live.close()
        for ws in devices.values():
            await ws.close()
    print(f"syncs answered by the shelf: {syncs}")
    return cart_ms, receipt_ms


def _pct(ms: list[float], q: float) -> float:
    ms = sorted(ms)
    return ms[min(len(ms) - 1, int(q * len(ms)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
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
        "MINIGO_CHANNEL_PREFIX": "settlelat",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    procs = Procs()
    log = open(args.log, "ab") if args.log else subprocess.DEVNULL  # noqa: SIM115
    load_before = os.getloadavg()
    try:
        out = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SETUP],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        boot = json.loads(out.stdout.strip().splitlines()[-1])
        beat = ("--beat", "--schedule", f"/tmp/{DB_NAME}-{os.getpid()}.beat")
        port = start_store(env, log, procs, concurrency=args.concurrency, worker_args=beat)
        cart_ms, receipt_ms = asyncio.run(_run(port, boot, args.visits))
    finally:
        procs.stop_all()
        drop_database(url, DB_NAME)
    load_after = os.getloadavg()
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cpus, "
        f"python {platform.python_version()}; load average {load_before[0]:.1f} → "
        f"{load_after[0]:.1f}"
    )
    print(f"visits {args.visits}, worker concurrency {args.concurrency}")
    for label, ms in (
        ("shelf event → cart push", cart_ms),
        ("exit frame → final receipt", receipt_ms),
    ):
        print(
            f"{label}: n {len(ms)}, p50 {_pct(ms, 0.5):.1f} ms, p95 {_pct(ms, 0.95):.1f} ms, "
            f"mean {statistics.mean(ms):.1f} ms, max {max(ms):.1f} ms"
        )


if __name__ == "__main__":
    main()
