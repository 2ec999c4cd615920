from __future__ import annotations

from typing import Any

from edge_agent import protocol
from store.models import Device, Slot


def device_config(*, device: Device) -> dict[str, Any]:
    """The config message for a device: its kind and, for a shelf, its slots and products."""
    slots = Slot.objects.filter(shelf__device=device).select_related("product").order_by("code")
    return {
        "type": "config",
        "v": protocol.VERSION,
        "device": device.device_id,
        "kind": device.kind,
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
