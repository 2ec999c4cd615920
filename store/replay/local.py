"""Replaying a scenario in-process through the real path: device websocket messages → the
DeviceConsumer (Channels' WebsocketCommunicator runs the real consumer) → tasks (eager) →
services, on a simulated clock, in whatever database is current (the `replay` command makes a
fresh temporary one first)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.utils import timezone

from edge_agent import protocol
from minigo import embedded_beat
from store.models import Receipt, ReceiptRevision, ReviewItem, ShelfEvent
from store.replay import build
from store.replay.metrics import Metrics, score
from store.replay.sandbox import replay_sandbox
from store.replay.scenario import PHONE, Scenario, ScenarioError
from store.services.receipts import receipt_text
from store.services.settlement import visits_settle
from store.services.shelf_events import shelf_events_settle
from store.services.visits import visits_close_idle

ACK_TIMEOUT_S = 120.0
# The scenario's t=0, the same on every run: receipts (their numbers and dates too) and every
# decision keyed by event time come out identical whenever and however fast the replay runs.
REPLAY_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class SimClock:
    """The scenario's time: installed as django.utils.timezone.now for the run, so visits,
    entries and the attribution window all follow the scenario's `t`, however fast or slow
    the replay runs."""

    def __init__(self, base: datetime):
        self.base = base
        self.t = 0.0

    def now(self) -> datetime:
        return self.base + timedelta(seconds=self.t)

    def epoch(self) -> float:
        return self.now().timestamp()

    @contextlib.contextmanager
    def installed(self) -> Iterator[SimClock]:
        original = timezone.now
        timezone.now = self.now
        try:
            yield self
        finally:
            timezone.now = original


@dataclass
class Outcome:
    metrics: Metrics | None
    receipts: list[Receipt]
    by_shopper: dict[str, list[dict[str, int]]]
    errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    reasons: Counter = field(default_factory=Counter)

    def mismatches(self, expects: list[dict]) -> Iterator[str]:
        """One line per receipt that differs from its expectation."""
        seen: Counter = Counter()
        for line in expects:
            who = str(line["shopper"])
            n = seen[who]
            seen[who] += 1
            got_list = self.by_shopper.get(who, [])
            got = got_list[n] if n < len(got_list) else None
            want = {k: int(v) for k, v in (line.get("items") or {}).items() if int(v)}
            if got != want:
                yield f"{who} visit {n + 1}: expected {want}, got {got}"


def scenario_start(scenario: Scenario) -> datetime | None:
    """The store line's optional "start" (ISO 8601 with its offset): when the scenario's t=0
    is, for scenarios whose outcome depends on the time of day (sale hours)."""
    start = scenario.store.get("start")
    if start is None:
        return None
    try:
        value = datetime.fromisoformat(str(start))
    except ValueError:
        raise ScenarioError(f"start {start!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise ScenarioError("start needs its UTC offset, e.g. 2026-01-10T23:00:00+01:00")
    return value


@contextlib.contextmanager
def store_time_zone(name: str | None) -> Iterator[None]:
    """The store line's optional "time_zone" (IANA name) as the store's clock for the run."""
    if name is None:
        yield
        return
    try:
        ZoneInfo(str(name))
    except (ValueError, ZoneInfoNotFoundError):
        raise ScenarioError(f"unknown time zone {name!r}") from None
    previous = settings.MINIGO["STORE_TIME_ZONE"]
    settings.MINIGO["STORE_TIME_ZONE"] = str(name)
    try:
        yield
    finally:
        settings.MINIGO["STORE_TIME_ZONE"] = previous


def replay_scenario(
    scenario: Scenario,
    *,
    progress: Callable[[int], None] | None = None,
    faces: bool = True,
) -> Outcome:
    """Run `scenario` against the current database (which it fills with the scenario's store)
    and score each visit by its final receipt (after amendments). Needs
    MINIGO["ACCEPT_SEES"] for `sees` frames."""
    started = time.perf_counter()
    clock = SimClock(scenario_start(scenario) or REPLAY_EPOCH)
    with (
        clock.installed(),
        store_time_zone(scenario.store.get("time_zone")),
        _no_wall_clock_limits(),
        replay_sandbox(),
    ):
        tokens = build.build_store(scenario)
        shoppers = build.build_shoppers(scenario, faces=faces)
        errors = asyncio.run(_drive(scenario, tokens, shoppers, clock, progress))
    names = {s.pk: key for key, s in shoppers.items()}
    receipts = list(
        Receipt.objects.select_related("visit", "shopper")
        .prefetch_related("lines")
        .order_by("visit__entered_at", "visit_id")
    )
    by_shopper: dict[str, list[dict[str, int]]] = {}
    for r in receipts:
        items: dict[str, int] = {}
        for line in r.lines.all():  # a product may have a line per unit price
            if line.quantity:
                items[line.sku] = items.get(line.sku, 0) + line.quantity
        by_shopper.setdefault(names.get(r.shopper_id, str(r.shopper_id)), []).append(items)
    metrics = None
    if scenario.expects:
        metrics = score(
            expects=scenario.expects,
            receipts=by_shopper,
            review=ReviewItem.objects.filter(shelf_event__isnull=False).count(),
            events=ShelfEvent.objects.count(),
        )
        metrics = dataclasses.replace(metrics, amended=receipts_amended())
    reasons = Counter(
        ReviewItem.objects.filter(shelf_event__isnull=False).values_list("reason", flat=True)
    )
    return Outcome(
        metrics, receipts, by_shopper, errors, time.perf_counter() - started, reasons=reasons
    )


@contextlib.contextmanager
def _no_wall_clock_limits() -> Iterator[None]:
    """A replay compresses the scenario's time: a per-minute frame quota counted on the wall
    clock would refuse frames depending on how fast this machine runs (and, on a shared cache,
    on other runs), so the run is not held to it. Nor does the embedded beat run beside it:
    its thread would decide waiting picks and settle receipts on the wall clock's ticks, in
    the middle of the scenario's time, at moments that depend on the machine's speed; the
    replay runs those periodic jobs itself on the scenario's clock (_settle_all)."""
    minigo = settings.MINIGO
    saved = minigo["FRAME_RATE_LIMIT"], minigo["EMBEDDED_BEAT"]
    minigo["FRAME_RATE_LIMIT"] = 10**9
    minigo["EMBEDDED_BEAT"] = False
    embedded_beat.stop()
    try:
        yield
    finally:
        minigo["FRAME_RATE_LIMIT"], minigo["EMBEDDED_BEAT"] = saved


def receipts_amended() -> int:
    """Receipts whose lines changed after they were issued (not counting a provisional
    receipt that was only confirmed)."""

    changed = ReceiptRevision.objects.filter(revision__gt=1).values_list("receipt_id", "changes")
    return len({receipt for receipt, changes in changed if changes})


def _settle_all() -> None:
    """The periodic jobs, run on the scenario's clock: picks whose camera window closed are
    decided, then visits whose evidence is complete get their receipts."""
    shelf_events_settle()
    visits_settle()


async def _drive(scenario, tokens, shoppers, clock, progress) -> Counter:
    from minigo.asgi import application

    errors: Counter = Counter()
    comms: dict[str, WebsocketCommunicator] = {}
    shelves = {s["device"] for s in scenario.store.get("shelves", [])}
    exits = {g["device"] for g in scenario.store.get("gates", []) if g.get("kind") == "exit"}
    deliveries = scenario.deliveries()
    # Per shelf, the production times of its messages not delivered yet: its watermark is
    # just below the oldest of them (or the clock, when it has nothing left to deliver).
    backlog: dict[str, list[float]] = {d: [] for d in shelves}
    for _arrives, _number, line in sorted(deliveries, key=lambda d: d[2]["t"], reverse=True):
        if line.get("device") in backlog:
            backlog[line["device"]].append(float(line["t"]))
    try:
        for dev in scenario.devices:
            comm = WebsocketCommunicator(
                application,
                "/ws/device/",
                headers=[(b"authorization", f"Bearer {tokens[dev['device']]}".encode())],
            )
            connected, _ = await comm.connect()
            if not connected:
                raise RuntimeError(f"device {dev['device']} could not connect")
            await comm.receive_json_from(timeout=10)  # its config
            comms[dev["device"]] = comm
        settle = database_sync_to_async(_settle_all)
        message = database_sync_to_async(build.device_message)

        async def report(devices) -> None:
            for device in sorted(devices):
                pending = backlog[device]
                mark = (pending[-1] - 0.001) if pending else clock.t
                await _heartbeat(comms[device], clock.base.timestamp() + min(mark, clock.t))

        for index, (arrives, number, line) in enumerate(deliveries):
            clock.t = arrives
            await settle()
            if line["type"] in PHONE:
                await database_sync_to_async(build.phone_action)(line)
                continue
            event_id = f"l{number}"
            produced = clock.base.timestamp() + float(line["t"])
            kind, payload = await message(
                line, scenario=scenario, ts=produced, event_id=event_id, shopper=shoppers.get
            )
            comm = comms.get(line["device"])
            if comm is None:
                errors["unknown_device"] += 1
                continue
            if kind == "text":
                await comm.send_to(text_data=payload)
            else:
                await comm.send_to(bytes_data=payload)
            reply = await _reply(comm, event_id)
            if reply.get("type") == "error":
                errors[reply.get("code", "error")] += 1
            if line["device"] in backlog:
                backlog[line["device"]].pop()
                if arrives > line["t"]:
                    await report([line["device"]])  # a backlog being delivered
            if line["device"] in exits:
                await report(shelves)  # a shopper left: the shelves answer the sync
            if progress:
                progress(index + 1)
        # After the last message: every camera window closes, every shelf reports, and the
        # store settles (a shelf that stayed silent leaves its receipts provisional).
        window = settings.MINIGO["ATTRIBUTION_WINDOW_S"] + settings.MINIGO["ATTRIBUTION_GRACE_S"]
        clock.t = scenario.duration + window + 1.0
        await settle()
        await report(shelves)
        await settle()
        # The store runs on: a visit whose shopper left unseen (every exit frame missed) ends
        # once nobody has seen them for the idle time, and gets its receipt.
        clock.t += settings.MINIGO["VISIT_IDLE_S"] + 1.0
        await database_sync_to_async(visits_close_idle)()
        await report(shelves)
        await settle()
    finally:
        for comm in comms.values():
            await comm.disconnect()
        # The worker thread's database connection must not outlive the replay.
        await database_sync_to_async(_close_connection)()
    return errors


async def _heartbeat(comm: WebsocketCommunicator, watermark: float) -> None:
    await comm.send_to(
        text_data=protocol.dumps(protocol.heartbeat(ts=watermark, watermark=watermark))
    )
    while True:
        msg = await comm.receive_json_from(timeout=ACK_TIMEOUT_S)
        if msg.get("type") in ("heartbeat_ack", "error"):
            return


def _close_connection() -> None:

    connection.close()


async def _reply(comm: WebsocketCommunicator, event_id: str) -> dict:
    """The ack (or error) for `event_id`; other messages (a gate's greeting) are skipped."""
    while True:
        msg = await comm.receive_json_from(timeout=ACK_TIMEOUT_S)
        if msg.get("type") in ("ack", "error") and msg.get("event_id") in (event_id, None):
            return msg


def receipt_lines(outcome: Outcome, names: dict[int, str] | None = None) -> Iterator[str]:
    for r in outcome.receipts:
        yield f"--- {r.shopper.display_name} (visit {r.visit_id})"
        yield receipt_text(receipt=r)
