"""`replay --server URL --speed X`: play a scenario as real edge agents against a running
MiniGo, so anyone can watch the dashboards move without hardware, and measure that server.

One websocket client per device of the scenario, each authenticated with its device token,
sends the scenario's messages at `speed` times real time. A message is stamped with the time
it was produced (`t`) and sent at the time it arrives (`arrives`, DESIGN.md), in each device's
order; each shelf reports its watermark (protocol version 2) every second and whenever the
server asks. The server must be started with MINIGO_ACCEPT_SEES=true for synthetic (`sees`)
frames: only a demo or test server should ever be.

Tokens come from `--tokens FILE` ("device token" lines, as `make run` writes them) or
`--setup`, which creates the scenario's own store in the configured database (the server's):
its devices, shelves, slots, products and shoppers under a fresh namespace (`r12345-shelf-1`,
`r12345-COLA`, …), so they never mix with the store's own planogram. With expectations in the
file it then waits until the server has settled every visit of the scenario and prints the
metrics line from that server's receipts (read from the configured database)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import CommandError
from django.db import close_old_connections
from django.db.models import Q
from tqdm import tqdm
from websockets.asyncio.client import connect

from edge_agent import protocol
from store.models import (
    EventStatus,
    Receipt,
    ReceiptRevision,
    ReviewItem,
    ShelfEvent,
    Shopper,
    Visit,
)
from store.replay import build
from store.replay.metrics import Metrics, score
from store.replay.scenario import PHONE, Scenario

HEARTBEAT_S = 1.0


def read_tokens(path: str) -> dict[str, str]:
    tokens = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            tokens[parts[0]] = parts[1]
    return tokens


def namespaced(sc: Scenario, ns: str) -> Scenario:
    """The same scenario with every device, product and shopper name prefixed by `ns`."""

    def dev(name: str) -> str:
        return f"{ns}{name}"

    def sku(code: str) -> str:
        return f"{ns}{code}"

    def who(item: Any) -> Any:
        if isinstance(item, dict):
            return {**item, "id": f"{ns}{item.get('id')}"}
        return f"{ns}{item}"

    store = json.loads(json.dumps(sc.store))
    for p in store.get("products", []):
        p["sku"] = sku(p["sku"])
    for shelf in store.get("shelves", []):
        shelf["device"] = dev(shelf["device"])
        for slot in shelf.get("slots", []):
            slot["sku"] = sku(slot["sku"])
    for gate in store.get("gates", []):
        gate["device"] = dev(gate["device"])
    timeline = []
    for t, number, line in sc.timeline:
        line = json.loads(json.dumps(line))
        if "device" in line:  # a phone's line ("group") has none
            line["device"] = dev(line["device"])
        if "shopper" in line:
            line["shopper"] = f"{ns}{line['shopper']}"
        sees = line.get("sees")
        if isinstance(sees, dict):
            if isinstance(sees.get("shoppers"), list):
                sees["shoppers"] = [who(s) for s in sees["shoppers"]]
            if isinstance(sees.get("products"), dict):
                sees["products"] = {sku(k): v for k, v in sees["products"].items()}
        timeline.append((t, number, line))
    shoppers = [{**s, "id": f"{ns}{s['id']}"} for s in sc.shoppers]
    expects = [
        {
            **e,
            "shopper": f"{ns}{e['shopper']}",
            "items": {sku(k): v for k, v in (e.get("items") or {}).items()},
        }
        for e in sc.expects
    ]
    return replace(sc, store=store, shoppers=shoppers, timeline=timeline, expects=expects)


def play(
    sc: Scenario,
    *,
    server: str,
    speed: float,
    tokens_file: str | None,
    setup: bool,
    out: Any,
    progress: bool = True,
    settle_timeout_s: float | None = None,
) -> Counter:
    if setup:
        sc = namespaced(sc, f"r{int(time.time() * 10) % 10**6:06d}-")
        tokens = build.build_store(sc)
        shoppers = build.build_shoppers(sc)
        out.write(
            f"Store of the scenario set up under its own names ({sc.devices[0]['device']}, …); "
            f"{len(tokens)} device tokens minted."
        )
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
    if sc.expects:
        if settle_timeout_s is None:
            m = settings.MINIGO
            settle_timeout_s = (
                m["ATTRIBUTION_WINDOW_S"] + m["ATTRIBUTION_GRACE_S"] + m["SETTLE_DEADLINE_S"] + 30
            )
        metrics, settled = server_metrics(sc, timeout_s=settle_timeout_s)
        if not settled:
            out.write("the server had not settled every visit in time: scored as it stands")
        out.write(metrics.line())
    return counts


def _scenario_state(sc: Scenario) -> tuple[bool, dict[str, list[dict[str, int]]], int, int, int]:
    """(settled, receipts per shopper id, events sent to review, shelf events, amended) for
    the scenario's shoppers and devices, as the server's database says."""

    close_old_connections()
    names = [str(s["id"]) for s in sc.shoppers] + [str(e["shopper"]) for e in sc.expects]
    devices = [d["device"] for d in sc.devices]
    visits = Visit.objects.filter(shopper__user__username__in=names)
    unsettled = visits.filter(status="closed").filter(
        Q(receipt__isnull=True) | Q(receipt__provisional=True)
    )
    events = ShelfEvent.objects.filter(device__device_id__in=devices)
    settled = not unsettled.exists() and not events.filter(status=EventStatus.PENDING).exists()
    receipts: dict[str, list[dict[str, int]]] = {}
    rows = (
        Receipt.objects.filter(visit__in=visits)
        .select_related("shopper__user")
        .prefetch_related("lines")
        .order_by("visit__entered_at", "visit_id")
    )
    for r in rows:
        items: dict[str, int] = {}
        for line in r.lines.all():  # a product may have a line per unit price
            if line.quantity:
                items[line.sku] = items.get(line.sku, 0) + line.quantity
        receipts.setdefault(r.shopper.user.username, []).append(items)
    review = ReviewItem.objects.filter(shelf_event__in=events).count()
    changed = ReceiptRevision.objects.filter(receipt__visit__in=visits, revision__gt=1)
    amended = len({rid for rid, changes in changed.values_list("receipt_id", "changes") if changes})
    return settled, receipts, review, events.count(), amended


def server_metrics(sc: Scenario, *, timeout_s: float) -> tuple[Metrics, bool]:
    """Wait (up to `timeout_s`) until every visit of the scenario has its final receipt and
    every shelf event is decided, then score the server's receipts."""
    deadline = time.monotonic() + timeout_s
    while True:
        settled, receipts, review, events, amended = _scenario_state(sc)
        if settled or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    metrics = score(expects=sc.expects, receipts=receipts, review=review, events=events)
    return replace(metrics, amended=amended), settled


async def _play(sc: Scenario, url: str, tokens: dict[str, str], speed: float, progress: bool):

    counts: Counter = Counter()
    conns = {}
    tasks = []
    shelves = {s["device"] for s in sc.store.get("shelves", [])}
    deliveries = sc.deliveries()
    # Per shelf, the production times (scenario seconds) of messages not sent yet, oldest
    # last: the shelf's watermark stays just below the oldest of them.
    backlog: dict[str, list[float]] = {d: [] for d in shelves}
    for _a, _n, line in sorted(deliveries, key=lambda d: d[2]["t"], reverse=True):
        if line.get("device") in backlog:
            backlog[line["device"]].append(float(line["t"]))
    start, epoch, run = time.monotonic(), time.time(), int(time.time())
    wake: dict[str, asyncio.Event] = {d: asyncio.Event() for d in shelves}

    def watermark(device: str) -> float:
        now = time.time()
        pending = backlog[device]
        return min(now, epoch + pending[-1] / speed - 0.001) if pending else now

    async def read(device: str, ws) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("type") == "ack":
                counts["ack"] += 1
            elif msg.get("type") == "error":
                counts["error"] += 1
                counts[f"error:{msg.get('code')}"] += 1
            elif msg.get("type") == "sync" and device in wake:
                wake[device].set()

    async def beat(device: str, ws) -> None:
        while True:
            try:
                await asyncio.wait_for(wake[device].wait(), timeout=HEARTBEAT_S)
            except TimeoutError:
                pass
            wake[device].clear()
            msg = protocol.heartbeat(ts=time.time(), watermark=watermark(device))
            await ws.send(protocol.dumps(msg))

    for dev in sc.devices:
        ws = await connect(
            url,
            additional_headers={"Authorization": f"Bearer {tokens[dev['device']]}"},
            max_size=None,
        )
        conns[dev["device"]] = ws
        tasks.append(asyncio.create_task(read(dev["device"], ws)))
        if dev["device"] in shelves:
            tasks.append(asyncio.create_task(beat(dev["device"], ws)))
    message = sync_to_async(build.device_message, thread_sensitive=True)
    bar = tqdm(total=len(deliveries), unit="msg", disable=not progress)
    try:
        for arrives, number, line in deliveries:
            delay = start + arrives / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if line["type"] in PHONE:
                await sync_to_async(build.phone_action, thread_sensitive=True)(line)
                continue
            produced = epoch + float(line["t"]) / speed
            kind, payload = await message(
                line, scenario=sc, ts=produced, event_id=f"p{run}-{number}", shopper=_shopper
            )
            ws = conns[line["device"]]
            await ws.send(payload)
            counts["sent"] += 1
            if line["device"] in backlog:
                backlog[line["device"]].pop()
                if arrives > line["t"]:
                    wake[line["device"]].set()  # a backlog being delivered
            bar.update(1)
        deadline = time.monotonic() + 30
        while counts["ack"] + counts["error"] < counts["sent"] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for event in wake.values():
            event.set()  # every shelf reports that it has sent everything
        await asyncio.sleep(0.5)
    finally:
        bar.close()
        for ws in conns.values():
            await ws.close()
        for task in tasks:
            task.cancel()
    return counts


def _shopper(username: str) -> Shopper | None:
    return Shopper.objects.filter(user__username=username).first()
