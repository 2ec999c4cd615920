"""Reads, in one place: who may see what (visits_for, receipts_for), and the state a page
fetches when it opens and again after every reconnect, so an update missed while the socket
was down is never lost (manager_state, shopper_state, devices_state, frame_boxes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet

from store.models import (
    CartEntry,
    Device,
    Frame,
    Receipt,
    ReviewItem,
    ReviewStatus,
    Shopper,
    Slot,
    Visit,
    VisitStatus,
)
from store.services.carts import cart_snapshot
from store.services.devices import device_status_payload
from store.services.groups import group_label
from store.services.pixels import pixels_held
from store.services.receipts import receipt_payload
from store.services.settlement import settlement_missing
from store.services.store_settings import store_settings_get


def visits_for(user) -> QuerySet[Visit]:
    qs = Visit.objects.select_related("shopper")
    if user.is_staff:
        return qs
    return qs.filter(shopper__user=user)


def receipts_for(user) -> QuerySet[Receipt]:
    qs = Receipt.objects.prefetch_related("lines", "revisions")
    if user.is_staff:
        return qs
    return qs.filter(shopper__user=user)


def open_visits() -> QuerySet[Visit]:
    return Visit.objects.filter(status=VisitStatus.OPEN).select_related("shopper")


FEED_SIZE = 40

# What each reason code means, as a question the manager answers.
REASONS = {
    "who_unknown": "Who took it?",
    "weight_unexplained": "The weight change fits no whole number of items",
    "return_unexplained": "Something was put back that nobody was holding",
    "nobody_in_store": "A shelf changed while nobody was in the store",
    "slot_not_in_planogram": "A sensor reported a slot that has no product",
    "shopper_left": "The shopper had already left",
    "detection_disagrees": "The camera and the scale disagree",
}


def reason_text(code: str) -> str:
    return REASONS.get(code) or code.replace("_", " ").capitalize()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def frame_boxes(
    result: dict[str, Any], *, names: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """Boxes [x1, y1, x2, y2] in frame pixels from a frame's stored vision result, whatever
    the producer (product detections, faces as face_recognition's (top, right, bottom, left)).
    `names` labels faces matched to a shopper id with that shopper's name."""
    boxes: list[dict[str, Any]] = []
    if not isinstance(result, dict):
        return boxes
    # Producers nest their output under their own key ({"detection": {"detections": ...}}).
    sources = [result, *(v for v in result.values() if isinstance(v, dict))]
    found = [
        (kind, source[kind])
        for source in sources
        for kind in ("detections", "products", "faces", "boxes")
        if isinstance(source.get(kind), list)
    ]
    for kind, items in found:
        for item in items:
            if not isinstance(item, dict):
                continue
            xyxy = item.get("xyxy") or item.get("bbox")
            # Faces follow face_recognition's (top, right, bottom, left) order.
            trbl = item.get("location") or (item.get("box") if kind == "faces" else None)
            if xyxy is None and isinstance(trbl, list | tuple) and len(trbl) == 4:
                top, right, bottom, left = trbl
                xyxy = [left, top, right, bottom]
            xyxy = xyxy if xyxy is not None else item.get("box")
            if not isinstance(xyxy, list | tuple) or len(xyxy) != 4:
                continue
            try:
                coords = [float(v) for v in xyxy]
            except (TypeError, ValueError):
                continue
            shopper = item.get("shopper") or item.get("shopper_id")
            label = (
                (names or {}).get(shopper)
                or item.get("label")
                or item.get("class_name")
                or item.get("sku")
                or item.get("name")
                or item.get("shopper_name")
                or item.get("outcome")
                or ("face" if kind == "faces" else "")
            )
            confidence = item.get("confidence")
            boxes.append(
                {
                    "kind": "face" if kind == "faces" else "product",
                    "xyxy": coords,
                    "label": str(label)[:60],
                    "confidence": float(confidence)
                    if isinstance(confidence, int | float)
                    else None,
                }
            )
    return boxes


def frame_info(frame: Frame, *, held: bool) -> dict[str, Any]:
    return {
        "frame": frame.pk,
        "device": frame.device_id,
        "captured_at": _iso(frame.captured_at),
        "width": frame.width,
        "height": frame.height,
        "status": frame.status,
        "has_image": held,
        "boxes": frame_boxes(frame.result or {}),
    }


def latest_frame_info(device: Device) -> dict[str, Any] | None:
    """The device's newest frame: its boxes always, its pixels only while still held (frames
    are dropped after processing unless MINIGO_KEEP_FRAMES)."""
    # `defer` keeps the JPEG out of the query; whether it is held is asked separately.
    frame = Frame.objects.filter(device=device).defer("jpeg").order_by("-captured_at").first()
    if frame is None:
        return None

    held = pixels_held(frame=frame)
    return frame_info(frame, held=held)


def devices_state() -> list[dict[str, Any]]:
    return [
        {**device_status_payload(device=d), "name": d.name, "frame": latest_frame_info(d)}
        for d in Device.objects.all()
    ]


def _feed() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for v in Visit.objects.select_related("shopper").order_by("-entered_at")[:FEED_SIZE]:
        items.append({"kind": "entry", "at": _iso(v.entered_at), "text": f"{v.shopper} walked in"})
        if v.exited_at:
            items.append(
                {"kind": "exit", "at": _iso(v.exited_at), "text": f"{v.shopper} walked out"}
            )
    entries = CartEntry.objects.select_related("visit__shopper", "product").order_by(
        "-created_at", "-id"
    )[:FEED_SIZE]
    for e in entries:
        who, what = e.visit.shopper, e.product.name
        if e.kind == "take":
            text = f"{who} took {e.quantity} × {what}"
        elif e.kind == "return":
            text = f"{who} put back {-e.quantity} × {what}"
        elif e.dispute_id:
            text = f"{who} was refunded {-e.quantity} × {what}"
        else:
            text = f"{who}'s cart corrected: {e.quantity:+d} × {what}"
        items.append({"kind": e.kind, "at": _iso(e.created_at), "text": text})
    for r in ReviewItem.objects.select_related("product").order_by("-created_at")[:FEED_SIZE]:
        what = f" ({r.product.name})" if r.product_id else ""
        text = f"Needs a decision: {reason_text(r.reason).lower()}{what}"
        items.append({"kind": "review", "at": _iso(r.created_at), "text": text})
    for d in Device.objects.filter(online=False, last_seen__isnull=False):
        items.append({"kind": "offline", "at": _iso(d.last_seen), "text": f"{d} went offline"})
    items.sort(key=lambda i: i["at"] or "", reverse=True)
    return items[:FEED_SIZE]


def low_stock() -> list[dict[str, Any]]:
    slots = Slot.objects.select_related("shelf", "product").filter(
        stock__lte=F("low_stock_threshold")
    )
    return [
        {
            "slot": s.pk,
            "code": s.code,
            "shelf": s.shelf.name,
            "product": s.product.name if s.product_id else None,
            "stock": s.stock,
        }
        for s in slots
    ]


def settling_visits() -> list[dict[str, Any]]:
    """Visits that left and whose receipt is not final yet: waiting for their evidence, or
    issued provisionally while a shelf stays silent."""

    rows = (
        Visit.objects.filter(status=VisitStatus.CLOSED)
        .filter(Q(receipt__isnull=True) | Q(receipt__provisional=True))
        .select_related("shopper", "receipt")
        .order_by("exited_at")[:50]
    )
    out = []
    for v in rows:
        receipt = getattr(v, "receipt", None)
        out.append(
            {
                "visit": v.pk,
                "name": v.shopper.display_name,
                "exited_at": _iso(v.exited_at),
                "waiting_for": settlement_missing(visit=v),
                "receipt": receipt.pk if receipt else None,
                "number": receipt.number if receipt else None,
                "provisional": bool(receipt and receipt.provisional),
            }
        )
    return out


def manager_state() -> dict[str, Any]:
    visits = Visit.objects.filter(status=VisitStatus.OPEN).select_related("shopper")
    return {
        "settling": settling_visits(),
        "visits": [
            {
                "visit": v.pk,
                "shopper": v.shopper_id,
                "name": v.shopper.display_name,
                "entered_at": _iso(v.entered_at),
                "method": v.entry_method,
                "cart": cart_snapshot(visit=v),
                "group": group_label(visit=v),
            }
            for v in visits.order_by("entered_at")
        ],
        "devices": devices_state(),
        "feed": _feed(),
        "low_stock": low_stock(),
        "review_open": ReviewItem.objects.filter(status=ReviewStatus.OPEN).count(),
    }


def shopper_state(*, shopper: Shopper) -> dict[str, Any]:
    """Only this shopper's own data: their open visit's cart and their latest receipt."""
    visit = Visit.objects.filter(shopper=shopper, status=VisitStatus.OPEN).first()
    latest = Receipt.objects.filter(shopper=shopper).prefetch_related("lines").first()
    return {
        "shopper": shopper.pk,
        "name": shopper.display_name,
        "face_consent": shopper.face_consent,
        "faces": shopper.embeddings.count(),
        "in_store": visit is not None,
        "cart": cart_snapshot(visit=visit) if visit else None,
        "entered_at": _iso(visit.entered_at) if visit else None,
        "group": group_label(visit=visit) if visit else None,
        "latest_receipt": receipt_payload(receipt=latest) if latest else None,
        "currency": store_settings_get().currency,
        # Left, and the receipt is still being finalised (its evidence is not complete).
        "settling": Visit.objects.filter(
            shopper=shopper, status=VisitStatus.CLOSED, receipt__isnull=True
        ).exists(),
    }
