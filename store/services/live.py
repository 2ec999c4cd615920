"""Broadcasts to the websocket groups. Called from services after their transaction commits,
so a browser never sees a change that was rolled back. Tasks collect their broadcasts and send
them in one go (`batched`)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

MANAGERS = "managers"
FLUSH_TIMEOUT_S = 10.0

_local = threading.local()
_own_loop_wanted = False
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0
_loop_lock = threading.Lock()


def shopper_group(shopper_id: int) -> str:
    return f"shopper.{shopper_id}"


def device_group(device_pk: int) -> str:
    return f"device.{device_pk}"


def _send(group: str, message: dict[str, Any]) -> None:
    """Runs on commit: joins the batch being collected (see `batched`), or goes out at once."""
    batch = getattr(_local, "batch", None)
    if batch is not None:
        batch.append((group, message))
    else:
        _flush([(group, message)])


def _flush(batch: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None or not batch:
        return

    async def send_all() -> None:
        for group, message in batch:
            try:
                await layer.group_send(group, message)
            except Exception:  # a full or unreachable layer must not undo a committed change
                log.exception("broadcast to %s failed", group)

    try:
        loop = _own_loop()
        if loop is not None:
            asyncio.run_coroutine_threadsafe(send_all(), loop).result(timeout=FLUSH_TIMEOUT_S)
        else:
            async_to_sync(send_all)()
    except Exception:
        log.exception("%d broadcasts failed", len(batch))


@contextmanager
def batched() -> Iterator[None]:
    """Collect the broadcasts of every transaction committed inside the block and send them
    together at its end: one trip to the channel layer per task instead of one per message
    (each `async_to_sync` call costs milliseconds of CPU). A rolled-back transaction never
    adds its messages, since they join on commit. Nested blocks join the outer one."""
    if getattr(_local, "batch", None) is not None:
        yield
        return
    _local.batch = []
    try:
        yield
    finally:
        batch, _local.batch = _local.batch, None
        _flush(batch)


def use_own_loop() -> None:
    """In a Celery worker (no event loop of its own), keep one event loop on a side thread for
    the channel layer: its Redis connections then stay open across tasks instead of being
    made anew by every `async_to_sync` call."""
    global _own_loop_wanted
    _own_loop_wanted = True


def _own_loop() -> asyncio.AbstractEventLoop | None:
    global _loop, _loop_pid
    if not _own_loop_wanted:
        return None
    with _loop_lock:
        # A forked pool process must not use its parent's loop thread (it does not exist).
        if _loop is None or _loop_pid != os.getpid():
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            threading.Thread(target=_loop.run_forever, name="live-broadcasts", daemon=True).start()
        return _loop


def broadcast(group: str, event: str, data: dict[str, Any]) -> None:
    """Send {"event": ..., "data": ...} to every socket in `group` once the current
    transaction commits (at once outside a transaction)."""
    message = {"type": "live.event", "event": event, "data": data}
    transaction.on_commit(lambda: _send(group, message))


def to_managers(event: str, data: dict[str, Any]) -> None:
    broadcast(MANAGERS, event, data)


def to_shopper(shopper_id: int, event: str, data: dict[str, Any]) -> None:
    broadcast(shopper_group(shopper_id), event, data)


def to_device(device_pk: int, message_type: str, data: dict[str, Any]) -> None:
    """Send a protocol message (greet, config) down to a connected device."""
    message = {"type": "device.send", "message": {"type": message_type, **data}}
    transaction.on_commit(lambda: _send(device_group(device_pk), message))
