"""The review queue as a manager reads it: each doubtful event told in plain words, with the
weight trace around it, the camera frame nearest to it (faces boxed, pixels only while kept)
and the candidates ranked with their evidence in words."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from store.models import (
    Frame,
    ReviewItem,
    ReviewStatus,
    SensorKind,
    ShelfEvent,
    Shopper,
    Visit,
    VisitStatus,
)
from store.selectors import frame_boxes, reason_text
from store.services import attribution
from store.services.pixels import pixels_held

SENSORS = {value: label for value, label in SensorKind.choices}
TRACE_WINDOW_S = 120


def _grams(value: float) -> str:
    return f"{abs(value):,.0f} g" if abs(value) >= 10 else f"{abs(value):.1f} g"


def _items(n: int, name: str) -> str:
    return f"{n} × {name}"


def _story(item: ReviewItem, event: ShelfEvent | None) -> str:
    """One sentence: what the shelf saw and why nobody was charged yet."""
    product = item.product.name if item.product_id else "an unknown product"
    where = str(item.slot) if item.slot_id else (event.slot_code if event else "a slot")
    qty = abs(item.quantity)
    moved = ""
    if event is not None and event.sensor == SensorKind.LOAD_CELL:
        change = event.before - event.after
        moved = f"{where} got {_grams(change)} {'lighter' if change > 0 else 'heavier'}"
        if item.product_id and item.product.unit_weight_g:
            unit = item.product.unit_weight_g
            moved += f" (one {product} weighs {_grams(unit)}"
            if not qty:
                moved += f", so that is {abs(change) / unit:.1f} items, not a whole number"
            moved += ")"
    elif event is not None:
        moved = f"the {SENSORS.get(event.sensor, event.sensor).lower()} on {where} changed"
    taken = item.quantity > 0
    what = _items(qty, product) if qty else None
    code = item.reason
    if code == "who_unknown":
        verb = "taken from" if taken else "put back on"
        return f"{what} {verb} {where}; the camera could not tell who." + (
            f" {moved[0].upper()}{moved[1:]}." if moved else ""
        )
    if code == "weight_unexplained":
        return f"{moved[0].upper()}{moved[1:]}." if moved else "The reading fits no item count."
    if code == "return_unexplained":
        return (
            f"{moved[0].upper()}{moved[1:]}, but nobody in the store holds an item that weighs "
            "that."
            if moved
            else "An item came back that nobody was holding."
        )
    if code == "nobody_in_store":
        return f"{what or 'Something'} moved on {where} while nobody was checked in."
    if code == "shopper_left":
        return f"{what or 'An item'} on {where}: the shopper it points to had already walked out."
    if code == "slot_not_in_planogram":
        return f"The shelf reported slot {where}, which holds no product in the planogram."
    return f"{moved[0].upper()}{moved[1:]}." if moved else reason_text(code)


def evidence_text(candidate: dict[str, Any]) -> str:
    kind = candidate.get("evidence")
    if kind == "camera":
        dt = candidate.get("dt_s")
        share = candidate.get("share")
        text = "seen by the shelf camera"
        if isinstance(dt, int | float):
            text += f" {dt:.1f} s from the pick" if dt >= 0.05 else " at the moment of the pick"
        if isinstance(share, int | float) and share < 0.999:
            text += f", one of several faces there ({share * 100:.0f} % of what the camera saw)"
        return text
    return {
        "only_shopper": "the only shopper in the store",
        "only_holder": "the only shopper holding this product",
        "last_seen": "last seen at this shelf before the pick, not on camera at the time",
        "in_store": "in the store at the time, not seen at this shelf",
    }.get(kind or "", "in the store at the time")


def _trace(event: ShelfEvent) -> dict[str, Any] | None:
    """The slot's readings around the event as (seconds from the event, value) steps, so a
    small chart shows whether the change was one clean step or a shaky reading."""
    window = timedelta(seconds=TRACE_WINDOW_S)
    events = ShelfEvent.objects.filter(
        device_id=event.device_id,
        slot_code=event.slot_code,
        occurred_at__gte=event.occurred_at - window,
        occurred_at__lte=event.occurred_at + window,
    ).order_by("occurred_at", "id")[:40]
    points = []
    for e in events:
        t = round((e.occurred_at - event.occurred_at).total_seconds(), 2)
        points.append({"t": t, "before": e.before, "after": e.after, "this": e.pk == event.pk})
    unit = "g" if event.sensor == SensorKind.LOAD_CELL else ""
    if event.sensor == SensorKind.ULTRASONIC:
        unit = "mm"
    return {
        "sensor": SENSORS.get(event.sensor, event.sensor),
        "unit": unit,
        "before": event.before,
        "after": event.after,
        "points": points,
    }


def _nearest_frame(item: ReviewItem, event: ShelfEvent | None) -> Frame | None:
    if item.frame_id:
        return Frame.objects.defer("jpeg").filter(pk=item.frame_id).first()
    if event is None:
        return None
    window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"])
    frames = Frame.objects.defer("jpeg").filter(
        device_id=event.device_id,
        captured_at__gte=event.occurred_at - window,
        captured_at__lte=event.occurred_at + window,
    )
    nearest = None
    for frame in frames.order_by("captured_at")[:60]:
        has_faces = bool(frame_boxes(frame.result or {}))
        key = (not has_faces, abs((frame.captured_at - event.occurred_at).total_seconds()))
        if nearest is None or key < nearest[0]:
            nearest = (key, frame)
    return nearest[1] if nearest else None


def _frame_info(frame: Frame | None, names: dict[int, str]) -> dict[str, Any] | None:
    if frame is None:
        return None

    held = pixels_held(frame=frame)
    return {
        "frame": frame.pk,
        "captured_at": frame.captured_at.isoformat(),
        "width": frame.width,
        "height": frame.height,
        "has_image": held,
        "boxes": frame_boxes(frame.result or {}, names=names),
    }


def review_card(item: ReviewItem, *, names: dict[int, str], in_store: list[dict]) -> dict:
    event = item.shelf_event
    ranked = sorted(item.candidates, key=lambda c: -(c.get("confidence") or 0.0))
    candidates = [
        {
            "visit": c.get("visit"),
            "name": c.get("name") or names.get(c.get("shopper"), "a shopper"),
            "confidence": c.get("confidence") or 0.0,
            "evidence": evidence_text(c),
        }
        for c in ranked
        if c.get("visit")
    ]
    # Shoppers in the store when it happened, also those who left since: the item can still
    # be given to them (it amends their receipt).
    present = (
        [
            {"visit": v.pk, "name": v.shopper.display_name, "open": v.status == VisitStatus.OPEN}
            for v in attribution.visits_at(when=event.occurred_at)
        ]
        if event is not None
        else None
    )
    if not candidates:
        # No ranking (e.g. the weight fit nobody): anyone present at the time may be it.
        candidates = [
            {
                "visit": v["visit"],
                "name": v["name"],
                "confidence": None,
                "evidence": "in the store at the time" + ("" if v["open"] else ", left since"),
            }
            for v in (present if present is not None else [{**v, "open": True} for v in in_store])
        ]
    shelf = item.slot.shelf.name if item.slot_id else None
    return {
        "review": item.pk,
        "reason": item.reason,
        "title": reason_text(item.reason),
        "story": _story(item, event),
        "product": item.product_id,
        "product_name": item.product.name if item.product_id else None,
        "quantity": item.quantity,
        "slot_label": str(item.slot) if item.slot_id else (event.slot_code if event else None),
        "shelf": shelf,
        "slot_code": item.slot.code if item.slot_id else (event.slot_code if event else None),
        "created_at": item.created_at.isoformat(),
        "occurred_at": event.occurred_at.isoformat() if event else item.created_at.isoformat(),
        "candidates": candidates,
        "present": [{"visit": v["visit"], "name": v["name"]} for v in present]
        if present is not None
        else None,
        "trace": _trace(event) if event else None,
        "frame": _frame_info(_nearest_frame(item, event), names),
    }


def review_state() -> dict[str, Any]:
    items = list(
        ReviewItem.objects.filter(status=ReviewStatus.OPEN)
        .select_related("product", "slot__shelf", "shelf_event")
        .order_by("created_at", "id")
    )
    visits = Visit.objects.filter(status=VisitStatus.OPEN).select_related("shopper")
    in_store = [{"visit": v.pk, "name": v.shopper.display_name} for v in visits]
    names = dict(Shopper.objects.values_list("pk", "display_name"))
    cards = [review_card(i, names=names, in_store=in_store) for i in items]
    return {
        "items": cards,
        "in_store": in_store,
        "reasons": sorted({(c["reason"], c["title"]) for c in cards}),
        "shelves": sorted({c["shelf"] for c in cards if c["shelf"]}),
        "now": timezone.now().isoformat(),
    }
