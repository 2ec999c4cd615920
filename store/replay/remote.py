"""`replay --server URL --speed X`: play a scenario as real edge agents against a running
MiniGo, so anyone can watch the dashboards move without hardware.

One websocket client per device of the scenario, each authenticated with its device token,
sends the scenario's messages at `speed` times real time (timestamps are the real send time).
The server must be started with MINIGO_ACCEPT_SEES=true for synthetic (`sees`) frames: only a
demo or test server should ever be. Tokens come from `--tokens FILE` ("device token" lines,
as `make run` writes them) or `--setup`, which creates the scenario's store in the configured
database (the demo server's own) and mints new tokens for its devices."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import CommandError
from tqdm import tqdm

from store.replay import build
from store.replay.scenario import Scenario


def read_tokens(path: str) -> dict[str, str]:
    tokens = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            tokens[parts[0]] = parts[1]
    return tokens


def play(
    sc: Scenario,
    *,
    server: str,
    speed: float,
    tokens_file: str | None,
    setup: bool,
    out: Any,
    progress: bool = True,
) -> Counter:
    if setup:
        tokens = build.build_store(sc, reuse=True)
        shoppers = build.build_shoppers(sc)
        out.write(f"Store of the scenario set up; {len(tokens)} device tokens minted.")
        if settings.MINIGO.get("DEMO") and shoppers:
            names = build.demo_passwords(shoppers)
            out.write(
                f"Demo shoppers: sign in at {server.rstrip('/')}/accounts/login/ as any of "
                f"{', '.join(names)} with the password '{build.DEMO_SHOPPER_PASSWORD}' "
                "(demo mode only) to watch their cart live."
            )
    elif tokens_file:
        tokens = read_tokens(tokens_file)
    else:
        raise CommandError("--server needs --tokens FILE or --setup")
    missing = [d["device"] for d in sc.devices if d["device"] not in tokens]
    if missing:
        raise CommandError(f"no token for {', '.join(missing)}")
    url = server.rstrip("/")
    if url.startswith("http"):
        url = "ws" + url[4:]
    counts = asyncio.run(_play(sc, url + "/ws/device/", tokens, speed, progress))
    out.write(f"sent {counts['sent']}, acked {counts['ack']}, errors {counts['error']}")
    for key, n in sorted(counts.items()):
        if key.startswith("error:"):
            out.write(f"  {key[6:]}: {n}")
    if counts.get("error:sees_not_accepted"):
        out.write("  (start the server with MINIGO_ACCEPT_SEES=true to play `sees` frames)")
    return counts


async def _play(sc: Scenario, url: str, tokens: dict[str, str], speed: float, progress: bool):
    from websockets.asyncio.client import connect

    counts: Counter = Counter()
    conns = {}
    readers = []

    async def read(ws) -> None:
        import json

        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("type") == "ack":
                counts["ack"] += 1
            elif msg.get("type") == "error":
                counts["error"] += 1
                counts[f"error:{msg.get('code')}"] += 1

    for dev in sc.devices:
        ws = await connect(
            url,
            additional_headers={"Authorization": f"Bearer {tokens[dev['device']]}"},
            max_size=None,
        )
        conns[dev["device"]] = ws
        readers.append(asyncio.create_task(read(ws)))
    message = sync_to_async(_message, thread_sensitive=True)
    start, run = time.monotonic(), int(time.time())
    bar = tqdm(total=len(sc.timeline), unit="msg", disable=not progress)
    try:
        for t, number, line in sc.timeline:
            delay = start + t / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            kind, payload = await message(line, sc, f"p{run}-{number}")
            ws = conns[line["device"]]
            await ws.send(payload)
            counts["sent"] += 1
            bar.update(1)
        deadline = time.monotonic() + 30
        while counts["ack"] + counts["error"] < counts["sent"] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        bar.close()
        for ws in conns.values():
            await ws.close()
        for task in readers:
            task.cancel()
    return counts


def _message(line: dict[str, Any], sc: Scenario, event_id: str):
    qr = None
    if line["type"] == "qr":
        from store.models import Shopper

        shopper = Shopper.objects.filter(user__username=str(line.get("shopper"))).first()
        qr = build.qr_token(shopper=shopper) if shopper else "MG1:0:unknown"
    return build.device_message(line, scenario=sc, ts=time.time(), event_id=event_id, qr=qr)
