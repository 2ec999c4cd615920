"""Counting what a shelf event moved: how many items a sensor reading means (count_change), and
how many of a product a weight change is (weight_fit). Pure functions of the reading and the
slot's configuration, shared by the shelf-event decision and the camera's cross-check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store.models import Product, Slot

MAX_ITEMS_PER_EVENT = 24


@dataclass(frozen=True)
class Count:
    """Items that left the slot (positive) or came back (negative); `explained` is False when
    the reading fits no whole number of items."""

    delta: int
    explained: bool
    detail: dict[str, Any]


def weight_fit(*, grams: float, product: Product, scale_tol: float = 0.0) -> int | None:
    """How many of `product` weigh `grams` (each within its tolerance), or None. On another
    product's scale the reading is no finer than that slot's own tolerance (`scale_tol`)."""
    k = round(grams / product.unit_weight_g)
    if k < 1 or k > MAX_ITEMS_PER_EVENT:
        return None
    if abs(grams - k * product.unit_weight_g) <= max(product.weight_tolerance_g, scale_tol) * k:
        return k
    return None


def count_change(*, slot: Slot, sensor: str, before: float, after: float) -> Count:
    product = slot.product
    if sensor == "load_cell":
        removed_g = before - after
        unit, tol = product.unit_weight_g, product.weight_tolerance_g
        k = round(removed_g / unit)
        residual = abs(removed_g - k * unit)
        # The tolerance is per item: k items can each be off by their own tolerance.
        explained = residual <= tol * max(1, abs(k))
        return Count(k, explained, {"removed_g": removed_g, "residual_g": round(residual, 2)})
    if sensor == "ultrasonic":
        if not slot.lane_depth_mm or not slot.item_depth_mm:
            return Count(0, False, {"error": "lane_not_configured"})

        def items(distance: float) -> float:
            return (slot.lane_depth_mm - distance) / slot.item_depth_mm

        raw = items(before) - items(after)
        k = round(raw)
        return Count(
            k,
            abs(raw - k) <= 0.35,
            {"items_before": round(items(before), 2), "items_after": round(items(after), 2)},
        )
    if sensor == "camera":
        # Product counts seen by the shelf camera before and after an interaction.
        return Count(int(before - after), True, {"seen_before": before, "seen_after": after})
    if sensor == "light":
        # Present (1) → absent (0) is the last item taken; absent → present, one put back.
        return Count(int(before - after), True, {})
    return Count(0, False, {"error": "unknown_sensor"})
