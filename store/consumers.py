"""Websocket consumers: authenticate, join groups, relay. Work happens in services."""

from __future__ import annotations

import functools
import logging
import time
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

from edge_agent import protocol
from store.errors import DomainError
from store.models import Device
from store.ratelimit import RateLimited, ratelimit_hit
from store.services import devices as device_services
from store.services import events as event_services
from store.services import frames as frame_services
from store.services import live
from store.services.config import device_config
from vision.images import ImageError, probe

log = logging.getLogger(__name__)


def _bearer(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text = value.decode("latin-1")
            if text.lower().startswith("bearer "):
                return text[7:].strip()
    return ""


@database_sync_to_async
def _authenticate(token: str) -> Device:
    return device_services.device_authenticate(token=token)


@database_sync_to_async
def _set_online(device: Device, software: str = "") -> datetime:
    device_services.device_set_online(device=device, online=True, software_version=software)
    return device.last_seen


@database_sync_to_async
def _set_offline(device: Device, last_activity: datetime) -> None:
    device_services.device_disconnected(device=device, last_activity=last_activity)


@database_sync_to_async
def _touch(device: Device, events: int) -> datetime:
    device_services.device_touch(device=device, events=events)
    return device.last_seen


@database_sync_to_async
def _watermark(device: Device, epoch: float) -> datetime:
    return device_services.device_report_watermark(device=device, epoch=epoch)


@database_sync_to_async
def _config(device: Device) -> dict[str, Any]:

    return device_config(device=device)


def _parallel_db(fn):
    """Storing runs in the thread pool, not Channels' single database thread: each call is
    one short statement of its own, so devices store in parallel instead of queueing behind
    one thread (one connection's messages are still handled one at a time, in order).

    Unlike `database_sync_to_async` it does not test the connection before every message
    (with CONN_HEALTH_CHECKS that was a `SELECT 1` round trip per event): a message that
    meets a broken connection fails, is not acked and comes again, and the connection is
    replaced after any error, and past CONN_MAX_AGE."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            for conn in connections.all(initialized_only=True):
                if conn.errors_occurred or (
                    conn.close_at is not None and time.monotonic() >= conn.close_at
                ):
                    conn.close_if_unusable_or_obsolete()

    return sync_to_async(run, thread_sensitive=False)


@_parallel_db
def _store_event(device: Device, msg: dict[str, Any], slot_known: bool) -> bool:
    return event_services.event_store(device=device, msg=msg, slot_known=slot_known)[1]


@_parallel_db  # the cache only
def _frame_quota(device: Device) -> None:
    limits = settings.MINIGO
    ratelimit_hit(
        scope="frames",
        key=str(device.pk),
        limit=limits["FRAME_RATE_LIMIT"],
        window_s=limits["FRAME_RATE_WINDOW_S"],
    )


@_parallel_db
def _store_frame(device: Device, header: dict[str, Any], jpeg: bytes, w: int, h: int) -> bool:
    return frame_services.frame_store(device=device, header=header, jpeg=jpeg, width=w, height=h)[1]


def _within_bounds(msg: dict[str, Any]) -> None:
    """A device's time must be one the server can place: not ahead of the server's own clock
    by more than the allowed skew (timezone.now, so a replay's clock counts)."""
    protocol.check_bounds(
        msg, now=timezone.now().timestamp(), max_skew_s=settings.MINIGO["CLOCK_SKEW_S"]
    )


class DeviceConsumer(AsyncWebsocketConsumer):
    """/ws/device/: one Raspberry Pi agent. Authenticated by its bearer token (devices are not
    browsers, so no cookie and no Origin header); every event is stored before it is acked.

    Messages are handled one at a time in arrival order, so acks go out in the order the
    agent sent (its outbox drains in order). Device status is written in batches (at most
    every TOUCH_EVERY_S) rather than once per event."""

    TOUCH_EVERY_S = 2.0

    device: Device | None = None
    last_activity: datetime | None = None
    # Slot codes from the last config sent to the device: an event for one of them needs no
    # slot lookup (a slot not in here is still looked up, so a new slot is never refused).
    slots: frozenset[str] = frozenset()
    _unreported = 0
    _last_touch = 0.0

    async def connect(self) -> None:
        try:
            self.device = await _authenticate(_bearer(self.scope))
        except DomainError as exc:
            code = (
                protocol.CLOSE_REVOKED_TOKEN
                if exc.code == "revoked_token"
                else protocol.CLOSE_UNKNOWN_TOKEN
            )
            # Accept first so the agent receives a close code it can act on (an HTTP 403
            # before the handshake tells it nothing about why).
            await self.accept()
            await self.send(protocol.dumps(protocol.error(exc.code, exc.message)))
            await self.close(code=code)
            return
        group = live.device_group(self.device.pk)
        # An agent that reconnects after a network drop may still have a half-open socket
        # here; that one is told to close so one device has one live connection.
        await self.channel_layer.group_send(
            group, {"type": "device.superseded", "channel": self.channel_name}
        )
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.last_activity = await _set_online(self.device)
        self._last_touch = time.monotonic()
        await self._send_config()

    async def disconnect(self, code: int) -> None:
        if self.device is None:
            return
        await self.channel_layer.group_discard(live.device_group(self.device.pk), self.channel_name)
        try:
            if self._unreported:
                self.last_activity = await _touch(self.device, self._unreported)
            if self.last_activity is not None:
                await _set_offline(self.device, self.last_activity)
        except DatabaseError:
            log.exception("could not record %s going offline", self.device.device_id)

    async def _send_config(self) -> None:
        config = await _config(self.device)
        self.slots = frozenset(s["slot"] for s in config["slots"])
        await self.send(protocol.dumps(config))

    async def _error(self, code: str, message: str, event_id: str | None = None) -> None:
        await self.send(protocol.dumps(protocol.error(code, message, event_id)))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        if self.device is None:
            return
        try:
            if bytes_data is not None:
                await self._frame(bytes_data)
            else:
                await self._text(text_data or "")
        except protocol.ProtocolError as exc:
            await self._error(exc.code, exc.message, exc.event_id)
        except ImageError as exc:
            await self._error(exc.code, exc.message)
        except DomainError as exc:
            await self._error(exc.code, exc.message)
        except Exception as exc:
            # The database is down or a lock timed out: nothing was acked, so the agent keeps
            # the message and sends it again after reconnecting. The socket stays usable.
            log.exception("device %s: message not stored", self.device.device_id)
            await self._error(protocol.SERVER_ERROR, type(exc).__name__, _event_id_of(exc))

    async def _counted(self, events: int) -> None:
        """Count received events; write the device status at most every TOUCH_EVERY_S."""
        self._unreported += events
        now = time.monotonic()
        if now - self._last_touch >= self.TOUCH_EVERY_S:
            self._last_touch = now
            count, self._unreported = self._unreported, 0
            self.last_activity = await _touch(self.device, count)

    async def _text(self, text: str) -> None:
        msg = protocol.parse_text(text)
        kind = msg["type"]
        if kind == "hello":
            if msg["device"] != self.device.device_id or msg["kind"] != self.device.kind:
                await self._error(protocol.BAD_MESSAGE, "hello does not match this token's device")
                return
            self.last_activity = await _set_online(self.device, msg["software"])
            await self._send_config()
        elif kind == "heartbeat":
            self._last_touch = 0.0  # a heartbeat always writes: it is what keeps "online"
            await self._counted(0)
            reply = {"type": "heartbeat_ack", "v": protocol.VERSION}
            if msg["watermark"] is not None and self.device.kind == "shelf":
                protocol.check_watermark(msg)
                recorded = await _watermark(self.device, msg["watermark"])
                reply["watermark"] = recorded.timestamp() if recorded else None
            await self.send(protocol.dumps(reply))
        elif kind == "shelf_event":
            _within_bounds(msg)
            try:
                created = await _store_event(self.device, msg, msg["slot"] in self.slots)
            except DomainError as exc:
                await self._error(exc.code, exc.message, msg["event_id"])
                return
            except Exception as exc:
                exc.event_id = msg["event_id"]  # so receive() can name it in the error
                raise
            await self.send(
                protocol.dumps(protocol.ack(msg["event_id"], "stored" if created else "duplicate"))
            )
            await self._counted(1)

    async def _frame(self, data: bytes) -> None:
        limits = settings.MINIGO
        header, jpeg = protocol.decode_frame(data, max_bytes=limits["FRAME_MAX_BYTES"])
        _within_bounds(header)
        try:
            # Checked before any decoding: a flooding camera costs the server almost nothing.
            # The frame is not acked, so a well-behaved agent keeps it and sends it later.
            await _frame_quota(self.device)
        except RateLimited as exc:
            await self._error(exc.code, exc.message, header["event_id"])
            return
        try:
            info = probe(
                jpeg,
                max_bytes=limits["FRAME_MAX_BYTES"],
                max_pixels=limits["FRAME_MAX_PIXELS"],
                formats=("JPEG",),
            )
        except ImageError as exc:
            await self._error(exc.code, exc.message, header["event_id"])
            return
        try:
            created = await _store_frame(self.device, header, jpeg, info.width, info.height)
        except DomainError as exc:
            await self._error(exc.code, exc.message, header["event_id"])
            return
        except Exception as exc:
            exc.event_id = header["event_id"]
            raise
        await self.send(
            protocol.dumps(protocol.ack(header["event_id"], "stored" if created else "duplicate"))
        )
        await self._counted(1)

    async def device_send(self, event: dict[str, Any]) -> None:
        message = event["message"]
        if message.get("type") == "config":
            self.slots = frozenset(s["slot"] for s in message.get("slots", []))
        await self.send(protocol.dumps({"v": protocol.VERSION, **message}))
        if message.get("type") == "revoked":
            await self.close(code=protocol.CLOSE_REVOKED_TOKEN)

    async def device_superseded(self, event: dict[str, Any]) -> None:
        if event["channel"] != self.channel_name:
            # Not offline: the new connection is the device's. Its own disconnect must not
            # mark the device offline, so this socket forgets its activity.
            self.last_activity = None
            self._unreported = 0
            await self.close(code=protocol.CLOSE_SUPERSEDED)


def _event_id_of(exc: Exception) -> str | None:
    return getattr(exc, "event_id", None)


@database_sync_to_async
def _live_groups(user) -> list[str]:
    groups = []
    if user.is_staff:
        groups.append(live.MANAGERS)
    shopper = getattr(user, "shopper", None)
    if shopper is not None:
        groups.append(live.shopper_group(shopper.pk))
    return groups


class LiveConsumer(AsyncWebsocketConsumer):
    """/ws/live/: browsers. Session-authenticated; staff join the managers' group, a shopper
    only their own group, so nobody receives another shopper's cart."""

    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined = await _live_groups(user)
        if not self.groups_joined:
            await self.close(code=4403)
            return
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        # Browsers only listen; a ping keeps proxies from closing an idle socket.
        if text_data == "ping":
            await self.send('{"event":"pong"}')

    async def live_event(self, event: dict[str, Any]) -> None:
        await self.send(protocol.dumps({"event": event["event"], "data": event["data"]}))
