"""Broadcasts to the websocket groups. Called from services after their transaction commits,
so a browser never sees a change that was rolled back."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

MANAGERS = "managers"


def shopper_group(shopper_id: int) -> str:
    return f"shopper.{shopper_id}"


def device_group(device_pk: int) -> str:
    return f"device.{device_pk}"


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # a full or unreachable layer must not undo a committed cart change
        log.exception("broadcast to %s failed", group)


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
