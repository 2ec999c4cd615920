from __future__ import annotations

from typing import Any

from django.conf import settings

from edge_agent import protocol
from store.models import Device, Slot
from store.services import live


def device_config(*, device: Device) -> dict[str, Any]:
    """The config message for a device: its kind and, for a shelf, its slots and products."""
    slots = Slot.objects.filter(shelf__device=device).select_related("product").order_by("code")
    return {
        "type": "config",
        "v": protocol.VERSION,
        "device": device.device_id,
        "kind": device.kind,
        # The agent shrinks its frames to fit: a frame the server cannot take would only be
        # parked, and its shopper's sightings lost.
        "frame_max_bytes": settings.MINIGO["FRAME_MAX_BYTES"],
        "slots": [
            {
                "slot": slot.code,
                "sensor": slot.sensor,
                "sku": slot.product.sku if slot.product else None,
                "name": slot.product.name if slot.product else None,
                "unit_weight_g": slot.product.unit_weight_g if slot.product else None,
                "weight_tolerance_g": slot.product.weight_tolerance_g if slot.product else None,
                "lane_depth_mm": slot.lane_depth_mm,
                "item_depth_mm": slot.item_depth_mm,
            }
            for slot in slots
        ],
    }


def device_config_push(*, device: Device) -> None:
    """Send a device its current config (after the planogram changed); a device that is not
    connected gets it when it next connects."""

    payload = device_config(device=device)
    payload.pop("type")
    payload.pop("v")
    live.to_device(device.pk, "config", payload)


def shelves_config_push(
    *, shelf_ids: list[int] | None = None, product_ids: list[int] | None = None
) -> int:
    """Push the config to the devices of the given shelves and of the shelves holding the
    given products. Returns how many devices were sent it."""
    devices = Device.objects.none()
    if shelf_ids:
        devices = devices | Device.objects.filter(shelf__id__in=shelf_ids)
    if product_ids:
        devices = devices | Device.objects.filter(shelf__slots__product_id__in=product_ids)
    sent = 0
    for device in devices.distinct():
        device_config_push(device=device)
        sent += 1
    return sent
