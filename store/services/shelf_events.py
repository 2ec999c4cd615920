"""Turning a stored shelf event into cart entries: what, how many, and who."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from store.errors import DomainError
from store.models import EventStatus, ShelfEvent, Slot, Visit, VisitStatus
from store.services.carts import cart_return, cart_take
from store.services.events import mark_processed
from store.services.review import review_open

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Count:
    """Items that left the slot (positive) or came back (negative); `explained` is False when
    the reading fits no whole number of items."""

    delta: int
    explained: bool
    detail: dict[str, Any]


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


def shelf_event_process(*, event_id: int) -> ShelfEvent:
    """Apply a stored shelf event once. Safe to run twice: the event row is locked and only a
    pending event is processed, inside one transaction with its cart entry and stock move."""
    with transaction.atomic():
        event = ShelfEvent.objects.select_for_update().select_related("device").get(pk=event_id)
        if event.status != EventStatus.PENDING:
            return event
        slot = (
            Slot.objects.select_related("product", "shelf")
            .filter(shelf__device=event.device, code=event.slot_code)
            .first()
        )
        if slot is None or slot.product is None:
            review_open(reason="slot_not_in_planogram", shelf_event=event, slot=slot)
            mark_processed(event, status=EventStatus.REVIEW, result={"reason": "no_product"})
            return event
        count = count_change(slot=slot, sensor=event.sensor, before=event.before, after=event.after)
        if not count.explained:
            review_open(
                reason="weight_unexplained",
                shelf_event=event,
                slot=slot,
                product=slot.product,
                evidence=count.detail,
            )
            mark_processed(event, status=EventStatus.REVIEW, result=count.detail)
            return event
        if count.delta == 0:
            mark_processed(event, status=EventStatus.IGNORED, result=count.detail)
            return event
        visits = list(Visit.objects.filter(status=VisitStatus.OPEN).select_related("shopper"))
        candidates = [
            {
                "visit": v.pk,
                "shopper": v.shopper_id,
                "name": v.shopper.display_name,
                "confidence": 0.9 if len(visits) == 1 else round(1 / max(1, len(visits)), 3),
                "evidence": "only_shopper" if len(visits) == 1 else "in_store",
            }
            for v in visits
        ]
        best = max(candidates, key=lambda c: c["confidence"], default=None)
        threshold = settings.MINIGO["ATTRIBUTION_THRESHOLD"]
        if best is None or best["confidence"] < threshold:
            review_open(
                reason="who_unknown",
                shelf_event=event,
                slot=slot,
                product=slot.product,
                quantity=count.delta,
                candidates=candidates,
                evidence=count.detail,
            )
            mark_processed(event, status=EventStatus.REVIEW, result=count.detail)
            return event
        visit = next(v for v in visits if v.pk == best["visit"])
        common = {
            "visit": visit,
            "product": slot.product,
            "quantity": abs(count.delta),
            "slot": slot,
            "shelf_event": event,
            "confidence": best["confidence"],
            "evidence": {**count.detail, "who": best["evidence"]},
        }
        try:
            with transaction.atomic():
                entry = cart_take(**common) if count.delta > 0 else cart_return(**common)
        except DomainError as exc:
            review_open(
                reason=exc.code,
                shelf_event=event,
                slot=slot,
                product=slot.product,
                quantity=count.delta,
                candidates=candidates,
                evidence=count.detail,
            )
            mark_processed(event, status=EventStatus.REVIEW, result={"error": exc.code})
            return event
        mark_processed(
            event,
            status=EventStatus.APPLIED,
            result={**count.detail, "entry": entry.pk, "visit": visit.pk},
        )
    return event
