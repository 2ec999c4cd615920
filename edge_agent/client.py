"""The websocket link to the server: drains the outbox in order, keeps it until acked.

One connection at a time. After connecting it says hello, then sends queued items oldest
first, up to `window` ahead of their acks (the server answers in order, so this keeps the
order and hides the round trip). An ack deletes the item; a permanent error parks it; a
transient error, a missing ack or a dropped connection means reconnecting (exponential
backoff with jitter, reset once the server answers) and sending every unacked item again:
the server ignores what it already stored, so a repeat is harmless.

A refused token (close code 4401/4403) is logged as an error and retried at the longest
backoff: the sensors keep recording into the outbox meanwhile, so a token fixed in the
admin (and the config) loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from edge_agent import __version__, protocol
from edge_agent.outbox import EVENT, FRAME, Outbox

log = logging.getLogger(__name__)


# Websocket close code: a message exceeded the receiver's size limit (RFC 6455).
MESSAGE_TOO_BIG = 1009
DROPS_TO_PARK = 3
# A server drops an oversized message as it arrives: only drops this soon after sending the
# frame count against it.
DROP_WINDOW_S = 10.0


class _Reconnect(Exception):
    pass


class Link:
    def __init__(
        self,
        *,
        url: str,
        token: str,
        device: str,
        kind: str,
        outbox: Outbox,
        on_config: Callable[[dict[str, Any]], None] | None = None,
        on_greet: Callable[..., object] | None = None,
        on_ack: Callable[[str, str], None] | None = None,
        watermark: Callable[[], float | None] | None = None,
        heartbeat_s: float = 15.0,
        backoff_min_s: float = 1.0,
        backoff_max_s: float = 60.0,
        window: int = 32,
        ack_timeout_s: float = 30.0,
        software: str = __version__,
        frame_max_bytes: int = protocol.DEFAULT_FRAME_MAX_BYTES,
        config_wait_s: float = 5.0,
    ):
        self.url, self.token, self.outbox = url, token, outbox
        self.hello = protocol.hello(device=device, kind=kind, software=f"minigo-agent {software}")
        self.on_config, self.on_greet, self.on_ack = on_config, on_greet, on_ack
        # "Everything I produced up to this Unix time is acked" (None: nothing to claim).
        self.watermark = watermark or (lambda: outbox_watermark(outbox))
        self.heartbeat_s, self.window, self.ack_timeout_s = heartbeat_s, window, ack_timeout_s
        self.backoff_min_s, self.backoff_max_s = backoff_min_s, backoff_max_s
        self.connected = asyncio.Event()
        self.auth_refused: int | None = None  # the close code, while the token is refused
        self.connects = 0
        # The largest JPEG the server takes (its config says). A queued frame over it is
        # parked here, unsent: sent, it would be refused or, past the server's websocket
        # limit, cut the connection, and be sent first again after every reconnect.
        self.frame_max_bytes = frame_max_bytes
        self.config_wait_s = config_wait_s
        self._wake = asyncio.Event()
        self._report = asyncio.Event()  # send a heartbeat (with the watermark) now
        self._sync_until = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: dict[str, float] = {}
        self._frame_sizes: dict[str, int] = {}  # in-flight frames' message sizes
        self._drops: dict[str, int] = {}  # frame → connection drops while it was in flight
        self._close_code: int | None = None
        self._dropped_at = 2**62  # below the smallest frame the server dropped the link at

    def wake(self) -> None:
        """Tell the sender something was queued; safe to call from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        delay = self.backoff_min_s
        while not stop.is_set():
            answered = False
            try:
                async with connect(
                    self.url,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    proxy=None,
                    open_timeout=10,
                    ping_interval=20,
                    ping_timeout=20,
                    close_timeout=2,
                    max_size=2**20,
                ) as ws:
                    self.connects += 1
                    answered = await self._session(ws, stop)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                self._close_code = code
                if code in (protocol.CLOSE_UNKNOWN_TOKEN, protocol.CLOSE_REVOKED_TOKEN):
                    self.auth_refused = code
                    log.error(
                        "the server refused this device's token (close code %s): fix the "
                        "token in the config; events stay in the outbox meanwhile",
                        code,
                    )
                    delay = self.backoff_max_s
                else:
                    log.warning("connection closed (%s); reconnecting", code)
            except _Reconnect as exc:
                log.warning("reconnecting: %s", exc)
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                log.warning("cannot reach %s: %s", self.url, exc)
            finally:
                if not stop.is_set():
                    self._dropped(self._close_code)
                self.connected.clear()
                self._inflight.clear()
                self._frame_sizes.clear()
            if answered and self.auth_refused is None:
                delay = self.backoff_min_s
            if stop.is_set():
                break
            # Jitter spreads the reconnects of many shelves after a server restart.
            pause = delay * random.uniform(0.8, 1.2)
            try:
                await asyncio.wait_for(stop.wait(), timeout=pause)
            except TimeoutError:
                pass
            delay = min(delay * 2, self.backoff_max_s)

    async def _session(self, ws: Any, stop: asyncio.Event) -> bool:
        """Run one connection until it drops; True if the server answered at all."""
        self._inflight.clear()
        self._close_code = None
        await ws.send(protocol.dumps(self.hello))
        state = {"answered": False}
        tasks = [
            asyncio.create_task(self._receive(ws, state)),
            asyncio.create_task(self._send(ws)),
            asyncio.create_task(self._heartbeat(ws)),
            asyncio.create_task(stop.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                if state["answered"] and isinstance(task.exception(), ConnectionClosed):
                    exc = task.exception()
                    if exc.rcvd and exc.rcvd.code in (
                        protocol.CLOSE_UNKNOWN_TOKEN,
                        protocol.CLOSE_REVOKED_TOKEN,
                    ):
                        raise exc
                    self._close_code = exc.rcvd.code if exc.rcvd else None
                    log.warning("connection lost: %s", exc)
                    return True
                raise task.exception()
        return state["answered"]

    async def _receive(self, ws: Any, state: dict[str, bool]) -> None:
        async for raw in ws:
            try:
                msg = protocol.parse_server(raw)
            except protocol.ProtocolError as exc:
                log.warning("ignoring a server message: %s", exc)
                continue
            kind = msg["type"]
            if kind == "error" and msg.get("code") in ("unknown_token", "revoked_token"):
                continue  # the close code that follows says it; handled in run()
            if not state["answered"]:
                state["answered"] = True
                self.auth_refused = None
                self.connected.set()
                log.info("connected to %s", self.url)
            if kind == "ack":
                self._acked(str(msg.get("event_id")), str(msg.get("status", "stored")))
            elif kind == "error":
                self._error(msg)
            elif kind == "config":
                limit = msg.get("frame_max_bytes")
                if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1024:
                    # Never above a size the server was seen to drop the connection at.
                    self.frame_max_bytes = min(limit, self._dropped_at)
                if self.on_config is not None:
                    self.on_config(msg)
            elif kind == "greet":
                if self.on_greet is not None and isinstance(msg.get("name"), str):
                    text = msg.get("text")
                    if isinstance(text, str) and text:
                        self.on_greet(msg["name"], text)  # e.g. the exit gate's goodbye
                    else:
                        self.on_greet(msg["name"])
            elif kind == "revoked":
                log.error("the server revoked this device's token (%s)", msg.get("reason"))
            elif kind == "sync":
                # A shopper left at `until`: report as soon as the watermark reaches it.
                until = msg.get("until")
                if isinstance(until, int | float) and not isinstance(until, bool):
                    self._sync_until = max(self._sync_until, float(until))
                self._report.set()
            # heartbeat_ack and types from newer servers need nothing.

    def _dropped(self, code: int | None) -> None:
        """The connection dropped with frames in flight. A close over a message's size
        (1009), or the same frame being the largest in flight at DROPS_TO_PARK drops in a
        row (daphne drops an oversized message without a close code), means the server will
        never take that frame: it is parked, and the limit lowered under it, so it is not
        sent first again after every reconnect. Shelf events are never parked this way."""
        if not self._frame_sizes:
            return
        event_id = max(self._frame_sizes, key=self._frame_sizes.__getitem__)
        if time.monotonic() - self._inflight.get(event_id, 0.0) > DROP_WINDOW_S:
            return  # sent long before the drop: the network, not this frame
        self._drops[event_id] = self._drops.get(event_id, 0) + 1
        if code != MESSAGE_TOO_BIG and self._drops[event_id] < DROPS_TO_PARK:
            return
        size = self._frame_sizes[event_id]
        self._dropped_at = min(self._dropped_at, size - protocol.MAX_HEADER_BYTES - 5)
        self.frame_max_bytes = min(self.frame_max_bytes, self._dropped_at)
        self._drops.pop(event_id, None)
        self.outbox.park(
            event_id,
            code=protocol.MESSAGE_TOO_LARGE,
            message=f"the server dropped the connection at this {size}-byte message",
        )

    def _acked(self, event_id: str, status: str) -> None:
        self.outbox.ack(event_id)
        self._inflight.pop(event_id, None)
        self._frame_sizes.pop(event_id, None)
        self._drops.pop(event_id, None)
        self._wake.set()
        if not self._inflight and not len(self.outbox):
            self._report.set()  # drained: the watermark jumped to now, say so
        if self.on_ack is not None:
            self.on_ack(event_id, status)

    def _error(self, msg: dict[str, Any]) -> None:
        code, text, event_id = msg.get("code", ""), msg.get("message", ""), msg.get("event_id")
        if event_id is None or event_id not in self._inflight:
            log.warning("server error %s: %s", code, text)
            return
        if protocol.is_permanent(code):
            # Sending it again can never succeed; parking keeps it for a person to look at
            # without holding up every event behind it.
            self.outbox.park(event_id, code=code, message=text)
            self._inflight.pop(event_id, None)
            self._wake.set()
            return
        raise _Reconnect(f"transient server error {code} for {event_id}: {text}")

    async def _send(self, ws: Any) -> None:
        # The server's first message is its config, which says how large a frame it takes:
        # nothing is sent before it (for up to config_wait_s), so an oversized frame is
        # parked here, not sent to cut the connection before the config could arrive.
        if self.config_wait_s > 0:
            try:
                await asyncio.wait_for(self.connected.wait(), timeout=self.config_wait_s)
            except TimeoutError:
                pass
        last_seq = 0
        while True:
            # Cleared before looking, so an ack or a new item that arrives while sending
            # wakes the next round at once.
            self._wake.clear()
            room = self.window - len(self._inflight)
            items = self.outbox.pending(after_seq=last_seq, limit=room) if room > 0 else []
            for item in items:
                last_seq = item.seq
                if item.kind == FRAME and not protocol.frame_fits(
                    item.payload, max_bytes=self.frame_max_bytes
                ):
                    self.outbox.park(
                        item.event_id,
                        code=protocol.FRAME_TOO_LARGE,
                        message=f"over the server's {self.frame_max_bytes}-byte frame limit",
                    )
                    log.warning("parked frame %s: larger than the server takes", item.event_id)
                    continue
                self._inflight[item.event_id] = time.monotonic()
                if item.kind == FRAME:
                    self._frame_sizes[item.event_id] = len(item.payload)
                await ws.send(item.payload.decode() if item.kind == EVENT else item.payload)
            if self._inflight:
                oldest = min(self._inflight.values())
                if time.monotonic() - oldest > self.ack_timeout_s:
                    raise _Reconnect(f"no ack for {self.ack_timeout_s:.0f} s")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            except TimeoutError:
                pass

    async def _heartbeat(self, ws: Any) -> None:
        """Every heartbeat_s, and at once when the outbox drained or the server asked (sync),
        send a heartbeat carrying the watermark. A sync waits (a few seconds at most) until
        the watermark has reached the time the server asked about."""
        while True:
            try:
                await asyncio.wait_for(self._report.wait(), timeout=self.heartbeat_s)
            except TimeoutError:
                pass
            self._report.clear()
            deadline = time.monotonic() + SYNC_WAIT_S
            while self._sync_until and time.monotonic() < deadline:
                mark = self.watermark()
                if mark is not None and mark >= self._sync_until:
                    break
                await asyncio.sleep(0.05)
            self._sync_until = 0.0
            mark = self.watermark()
            await ws.send(protocol.dumps(protocol.heartbeat(ts=time.time(), watermark=mark)))


# How long an agent holds its answer to a sync for its watermark to reach the asked time.
SYNC_WAIT_S = 5.0
# Sensor readings are turned into events this long after they are read, at most.
READING_LAG_S = 0.25


def outbox_watermark(outbox: Outbox, now: float | None = None) -> float:
    """Everything produced before the oldest item still waiting in the outbox (or before now,
    less the time a reading takes to become an event, when it is empty) has been acked."""
    now = time.time() if now is None else now
    oldest = outbox.oldest_created()
    mark = now - READING_LAG_S
    return min(mark, oldest - 0.001) if oldest is not None else mark
