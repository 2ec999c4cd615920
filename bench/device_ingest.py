"""Shelf events per second one daphne process accepts from 10 agents, beside the same daphne
echoing raw websocket messages (the ratio is the figure); p50/p95 from send to ack.

Run by hand with PostgreSQL and Redis (loopback only, bounded to a few seconds per side):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/3 \\
        .venv/bin/python bench/device_ingest.py --seconds 10 --agents 10 --append

It creates its own database (`<DATABASE_URL's name>_bench_ingest`, dropped and made anew),
migrates it, registers one shelf with 10 devices, starts `daphne minigo.asgi:application` and then
`daphne bench.echo_asgi:application` on free loopback ports, and drives each with the same
clients: every agent keeps `--window` events in flight, as the real agent does. Celery
tasks are enqueued to Redis as in production but no worker runs (this measures ingest:
validate → store → ack → enqueue); the queue is purged afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Its own database, named after the one in DATABASE_URL (several people may run it at once).
DB_NAME = urlparse(os.environ.get("DATABASE_URL", "")).path.strip("/") + "_bench_ingest"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_database_url(url: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path="/" + DB_NAME))


def prepare(db_url: str, agents: int) -> list[tuple[str, str]]:
    """A fresh database with one shelf and `agents` shelf devices; returns (device, token)."""
    import psycopg

    admin = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {DB_NAME}")
    admin.close()
    env = {**os.environ, "DATABASE_URL": db_url}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minigo.settings")
    import django

    django.setup()
    from store.models import Product, Shelf, Slot
    from store.services.devices import device_create

    cola = Product.objects.create(sku="COLA", name="Cola", price="1.50", unit_weight_g=350)
    out = []
    for i in range(agents):
        device, token = device_create(device_id=f"shelf-{i}", kind="shelf")
        shelf = Shelf.objects.create(name=f"Shelf {i}", device=device)
        Slot.objects.create(shelf=shelf, code="A1", product=cola, stock=10**6, capacity=10**6)
        out.append((device.device_id, token))
    return out


def start_daphne(app: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"daphne {app} did not start")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(url: str, proc: subprocess.Popen, creds, **kw) -> dict:
    """Drive the server and add its CPU per handled message (all messages, warm-up too)."""
    before = cpu_s(proc.pid)
    out = asyncio.run(drive(url, creds, **kw))
    out["cpu_ms"] = (cpu_s(proc.pid) - before) * 1000 / max(1, out["handled"])
    return out


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def agent(url, device, token, *, seconds, warmup, window, results, prefix):
    from websockets.asyncio.client import connect

    from edge_agent import protocol

    sent: dict[str, float] = {}
    latencies: list[float] = []
    acked = 0
    handled = 0
    n = 0
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(url, additional_headers=headers, proxy=None, max_size=None) as ws:
        if "echo" not in prefix:
            await ws.send(protocol.dumps(protocol.hello(device=device, kind="shelf", software="b")))
        free = asyncio.Semaphore(window)
        start = time.monotonic()
        measure_from, end = start + warmup, start + warmup + seconds

        async def reader():
            nonlocal acked, handled
            async for raw in ws:
                msg = json.loads(raw)
                event_id = msg.get("event_id")
                if event_id not in sent:
                    continue  # config, heartbeat
                handled += 1
                t0 = sent.pop(event_id)
                now = time.monotonic()
                if measure_from <= t0 and now <= end:
                    acked += 1
                    latencies.append(now - t0)
                free.release()

        task = asyncio.create_task(reader())
        while time.monotonic() < end:
            try:  # a lost ack must not hang a bounded run
                await asyncio.wait_for(free.acquire(), timeout=max(0.01, end - time.monotonic()))
            except TimeoutError:
                break
            n += 1
            event_id = f"{prefix}-{device}-{n}"
            msg = protocol.shelf_event(
                event_id=event_id,
                slot="A1",
                sensor="load_cell",
                before=4200.0,
                after=3850.0,
                ts=time.time(),
            )
            sent[event_id] = time.monotonic()
            await ws.send(protocol.dumps(msg))
        await asyncio.sleep(0.5)
        task.cancel()
    results.append((acked, latencies, handled))


async def drive(url, creds, *, seconds, warmup, window, prefix):
    results: list = []
    await asyncio.gather(
        *(
            agent(
                url,
                d,
                t,
                seconds=seconds,
                warmup=warmup,
                window=window,
                results=results,
                prefix=prefix,
            )
            for d, t in creds
        )
    )
    total = sum(r[0] for r in results)
    lat = sorted(x for r in results for x in r[1])
    pct = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    return {
        "handled": sum(r[2] for r in results),
        "rate": total / seconds,
        "p50_ms": pct[49] * 1000,
        "p95_ms": pct[94] * 1000,
        "acked": total,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--append", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        print("set DATABASE_URL (PostgreSQL) and REDIS_URL", file=sys.stderr)
        return 2
    db_url = bench_database_url(os.environ["DATABASE_URL"])
    print("preparing the benchmark database…", file=sys.stderr)
    creds = prepare(db_url, args.agents)
    print("driving MiniGo, then the echo server…", file=sys.stderr)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MINIGO_CHANNEL_PREFIX": f"bench-ingest-{DB_NAME}",
        "LOG_LEVEL": "WARNING",
    }
    kw = {"seconds": args.seconds, "warmup": args.warmup, "window": args.window}
    port = free_port()
    proc = start_daphne("minigo.asgi:application", port, env)
    try:
        ingest = measured(f"ws://127.0.0.1:{port}/ws/device/", proc, creds, prefix="e", **kw)
    finally:
        stop(proc)
    port = free_port()
    proc = start_daphne("bench.echo_asgi:application", port, env)
    try:
        echo = measured(f"ws://127.0.0.1:{port}/", proc, creds, prefix="echo", **kw)
    finally:
        stop(proc)
    from store.models import ShelfEvent

    stored = ShelfEvent.objects.count()
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).delete("celery")  # the unprocessed tasks
    ratio = ingest["rate"] / echo["rate"] if echo["rate"] else 0.0
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [
        f"## Device ingest ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores (shared), Python {platform.python_version()}; "
        "PostgreSQL and Redis on loopback, one daphne process.",
        f"Command: `DATABASE_URL=… REDIS_URL=… .venv/bin/python bench/device_ingest.py "
        f"--agents {args.agents} --seconds {args.seconds:g} --window {args.window}`",
        "",
        "| server | events/s | p50 send→ack | p95 send→ack | daphne CPU per event |",
        "|---|---|---|---|---|",
        f"| MiniGo /ws/device/ (validate, store, ack, enqueue) | {ingest['rate']:.0f} | "
        f"{ingest['p50_ms']:.1f} ms | {ingest['p95_ms']:.1f} ms | {ingest['cpu_ms']:.2f} ms |",
        f"| raw websocket echo (bench/echo_asgi.py) | {echo['rate']:.0f} | "
        f"{echo['p50_ms']:.1f} ms | {echo['p95_ms']:.1f} ms | {echo['cpu_ms']:.2f} ms |",
        "",
        f"Ratio (MiniGo / echo): **{ratio:.2f}** ({args.agents} agents, {args.window} events in "
        f"flight each; {stored} events stored in all, each once).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        with open(ROOT / "bench" / "RESULTS.md", "a") as out:
            out.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
