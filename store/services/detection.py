"""Vision on shelf frames: product detection with the store's ONNX model.

`shelf_frame_analyse` runs outside any transaction (slow, no side effects): it runs the
shelf's detector. `shelf_frame_apply` runs under the frame's row lock and writes: it counts
the products seen per slot, keeps the frame as training data when frames are kept, and turns
an interaction on camera-only slots into shelf events.

An interaction is a run of frames with a hand in them. The product counts of the last
hand-free frame before it and of the first hand-free frame after it differ by what was taken
(or put back); that difference becomes a ShelfEvent with sensor "camera", which goes through
the same attribution path as a weight reading (store.services.shelf_events)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Q

from store.errors import DomainError
from store.models import (
    ClassMapping,
    Device,
    EventStatus,
    Frame,
    SensorKind,
    Shelf,
    ShelfEvent,
    Slot,
)
from store.services import detectors
from store.services.counting import count_change
from store.services.dataset import dataset_image_from_frame
from store.services.events import event_store
from store.services.ondemand import DEFERRED
from vision.detect import ModelError

log = logging.getLogger(__name__)

# Classes whose presence means someone is reaching into the shelf.
INTERACTION_CLASSES = frozenset({"hand"})
# How far to look for the hand-free frames around an interaction.
SCAN_LIMIT = 200


def shelf_frame_analyse(*, frame: Frame, rgb: np.ndarray | None) -> dict[str, Any]:
    sees = frame.result.get("sees") if settings.MINIGO["ACCEPT_SEES"] else None
    if isinstance(sees, dict) and isinstance(sees.get("products"), dict):
        # A replay's synthetic frame says what its camera's detector saw.
        return detection_analysis_from_counts(
            products=sees["products"], hand=bool(sees.get("hand"))
        )
    if rgb is None:
        return {}
    try:
        shelf = frame.device.shelf  # read with the frame (frames.frame_process)
    except Shelf.DoesNotExist:
        return {}
    if shelf.detector_id is None:
        return {}

    try:
        detector = detectors.detector_load(model=shelf.detector)  # a seam tests replace
    except (ModelError, OSError, ValueError) as exc:
        log.warning("detector %s cannot be loaded: %s", shelf.detector_id, exc)
        return {"detector": shelf.detector_id, "error": "detector_unavailable"}
    try:
        found = detector.detect(rgb)
    except Exception:  # onnxruntime's untyped errors; a retry would fail the same way
        log.exception("detector %s failed on frame %s", shelf.detector_id, frame.pk)
        return {"detector": shelf.detector_id, "error": "detection_failed"}
    return {"detector": shelf.detector_id, "detections": found.to_records(detector.class_names)}


def detection_analysis_from_counts(
    *, products: dict[str, int], hand: bool = False
) -> dict[str, Any]:
    """The analysis a frame would give if its vision saw these product counts (by SKU), for
    synthetic frames (a scenario's `sees`), passed to `shelf_frame_apply`."""
    counts = {
        str(k): v for k, v in products.items() if isinstance(v, int) and not isinstance(v, bool)
    }
    return {"products": {k: v for k, v in counts.items() if v >= 0}, "hand": bool(hand)}


def shelf_frame_apply(*, frame: Frame, analysis: dict[str, Any]) -> dict[str, Any]:
    if not analysis:
        return {}
    if "error" in analysis:
        return {"detection": analysis}
    slots = list(
        Slot.objects.filter(shelf__device_id=frame.device_id).select_related("product", "shelf")
    )
    if "products" in analysis:
        result = {
            "hand": analysis["hand"],
            "counts": _counts_from_products(slots, analysis["products"]),
        }
    else:
        records = analysis["detections"]
        mapping = dict(
            ClassMapping.objects.filter(detector_id=analysis["detector"]).values_list(
                "class_name", "product_id"
            )
        )
        result = {
            "detector": analysis["detector"],
            "detections": records,
            "hand": any(r["label"].lower() in INTERACTION_CLASSES for r in records),
            "counts": _slot_counts(slots, records, mapping, frame.width, frame.height),
        }
        if frame.jpeg is not None and records:
            image = dataset_image_from_frame(frame=frame, jpeg=bytes(frame.jpeg), records=records)
            if image is not None:
                result["dataset_image"] = image.pk
    camera_slots = {s.code for s in slots if s.sensor == SensorKind.CAMERA}
    if camera_slots & set(result["counts"]):
        events = _interactions(frame=frame, result=result, camera_slots=camera_slots)
        if events:
            result["events"] = [e.event_id for e in events]
    return {"detection": result}


def _slot_counts(
    slots: list[Slot],
    records: list[dict[str, Any]],
    mapping: dict[str, int | None],
    width: int,
    height: int,
) -> dict[str, int]:
    """Products seen per slot: detections of the slot's product whose centre lies in the
    slot's camera region (anywhere in the frame for a slot without one). Slots whose product
    no class maps to are left out: the camera says nothing about them."""
    mapped = {p for p in mapping.values() if p is not None}
    counts = {}
    for slot in slots:
        if slot.product_id is None or slot.product_id not in mapped:
            continue
        n = 0
        for r in records:
            if mapping.get(r["label"]) != slot.product_id:
                continue
            x1, y1, x2, y2 = r["box"]
            cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
            region = slot.camera_region
            if region is None or (region[0] <= cx < region[2] and region[1] <= cy < region[3]):
                n += 1
        counts[slot.code] = n
    return counts


def _counts_from_products(slots: list[Slot], products: dict[str, int]) -> dict[str, int]:
    # Synthetic frames count per product: the first slot holding it gets the count.
    counts: dict[str, int] = {}
    taken = set()
    for slot in slots:
        sku = slot.product.sku if slot.product else None
        if sku in products and sku not in taken:
            counts[slot.code] = products[sku]
            taken.add(sku)
    return counts


@dataclass(frozen=True)
class _Seen:
    frame: Frame
    result: dict[str, Any]

    @property
    def hand(self) -> bool:
        return bool(self.result.get("hand"))


def _walk(frames: list[Frame]) -> tuple[_Seen | None, list[_Seen], bool]:
    """From the frames next to this one outwards: (the first hand-free frame, the hand frames
    before it, blocked). Blocked when a frame on the way is not processed yet: its own apply
    will look again, so nothing is decided on half the evidence."""
    hands = []
    for f in frames:
        if f.status == EventStatus.PENDING:
            return None, hands, True
        result = (f.result or {}).get("detection")
        if not result or "counts" not in result:
            continue  # failed or undetected frames say nothing either way
        seen = _Seen(f, result)
        if not seen.hand:
            return seen, hands, False
        hands.append(seen)
    return None, hands, False


def _interactions(
    *, frame: Frame, result: dict[str, Any], camera_slots: set[str]
) -> list[ShelfEvent]:
    # Frames of one shelf are applied by several workers at once: lock the device row so
    # each apply sees every other frame's committed result (else two neighbours could each
    # wait for the other and the interaction would never be counted). frame_process's
    # select_for_update().select_related("device") locks it too on PostgreSQL today; this
    # does not rely on that.
    Device.objects.select_for_update().get(pk=frame.device_id)
    same = Frame.objects.filter(device_id=frame.device_id, camera=frame.camera).exclude(pk=frame.pk)
    at, seq = frame.captured_at, frame.seq
    earlier = same.filter(Q(captured_at__lt=at) | Q(captured_at=at, seq__lt=seq))
    later = same.filter(Q(captured_at__gt=at) | Q(captured_at=at, seq__gt=seq))
    back = list(earlier.order_by("-captured_at", "-seq")[:SCAN_LIMIT])
    fwd = list(later.order_by("captured_at", "seq")[:SCAN_LIMIT])
    here = _Seen(frame, result)
    before, hands_before, blocked_before = _walk(back)
    after, hands_after, blocked_after = _walk(fwd)
    pairs = []
    if here.hand:
        if not (blocked_before or blocked_after) and before and after:
            pairs.append((before, after, [*hands_before, here, *hands_after]))
    else:
        if not blocked_before and before and hands_before:
            pairs.append((before, here, hands_before))
        if not blocked_after and after and hands_after:
            pairs.append((here, after, hands_after))
    events = []
    for start, end, hands in pairs:
        events += _events_for(start=start, end=end, hands=hands, camera_slots=camera_slots)
    return events


def _events_for(
    *, start: _Seen, end: _Seen, hands: list[_Seen], camera_slots: set[str]
) -> list[ShelfEvent]:

    device = end.frame.device
    # The moment the hand left: the last frame it was seen in.
    ts = max(h.frame.captured_at for h in hands).timestamp()
    events = []
    for code in sorted(camera_slots):
        if code not in start.result["counts"] or code not in end.result["counts"]:
            continue
        seen_before, seen_after = start.result["counts"][code], end.result["counts"][code]
        if seen_before == seen_after:
            continue
        msg = {
            # Derived from the frame that closed the interaction: a re-run stores nothing new.
            "event_id": f"cam-{end.frame.pk}-{code}",
            "slot": code,
            "sensor": SensorKind.CAMERA.value,
            "before": float(seen_before),
            "after": float(seen_after),
            "ts": ts,
        }
        try:
            event, _ = event_store(device=device, msg=msg)
        except DomainError as exc:
            log.warning("camera event for %s/%s not stored: %s", device, code, exc)
            continue
        events.append(event)
    return events


# Deferred frames asked for at once on each side of a pick, nearest first: the hand is often
# in the frame or two next to the pick, and the check needs the hand-free frame beyond it.
FRAMES_PER_SIDE = 2


def detection_window_frames(*, event: ShelfEvent) -> list[Frame]:
    """The processed frames of the event's shelf within DETECTION_WINDOW_S of it, in capture
    order: what the camera's check of a load-cell pick reads (one read serves both
    detection_frames_needed and detection_weight_verdict)."""
    window = timedelta(seconds=settings.MINIGO["DETECTION_WINDOW_S"])
    t = event.occurred_at
    return list(
        Frame.objects.filter(
            device_id=event.device_id, captured_at__gte=t - window, captured_at__lte=t + window
        )
        .exclude(status=EventStatus.PENDING)
        .order_by("captured_at", "seq")
        .only("pk", "camera", "captured_at", "result")
    )


def detection_frames_needed(*, event: ShelfEvent, slot: Slot, frames: list[Frame]) -> list[int]:
    """The deferred frames (ondemand.py: no detections run on them yet) that the camera's
    check of this load-cell pick needs: on each side of the event, walking outwards within
    DETECTION_WINDOW_S, those met before the first hand-free frame whose products were
    counted, at most FRAMES_PER_SIDE. Empty when the check has what it needs, or when nothing
    on this shelf counts the slot's product. `frames`: detection_window_frames."""
    if event.sensor == SensorKind.CAMERA or slot.product_id is None:
        return []
    shelf = slot.shelf
    mapped = ClassMapping.objects.filter(detector_id=shelf.detector_id, product_id=slot.product_id)
    by_detector = shelf.detector_id is not None and mapped.exists()
    accept_sees = settings.MINIGO["ACCEPT_SEES"]
    if not by_detector and not accept_sees:
        return []
    t = event.occurred_at

    def could_count(f: Frame) -> bool:
        sees = (f.result or {}).get("sees")
        if accept_sees and isinstance(sees, dict) and isinstance(sees.get("products"), dict):
            return slot.product.sku in sees["products"]
        return by_detector

    by_camera: dict[str, list[Frame]] = {}
    for f in frames:
        by_camera.setdefault(f.camera, []).append(f)
    needed = []
    for seen in by_camera.values():
        before = [f for f in seen if f.captured_at <= t][::-1]
        after = [f for f in seen if f.captured_at > t]
        for side in (before, after):
            asked = 0
            for f in side:
                result = f.result or {}
                counts = (result.get("detection") or {}).get("counts")
                if result.get(DEFERRED) and counts is None:
                    if could_count(f):
                        needed.append(f.pk)
                        asked += 1
                        if asked == FRAMES_PER_SIDE:
                            break
                    continue
                if counts is not None and slot.code in counts and not result["detection"]["hand"]:
                    break  # the hand-free frame the check compares
    return needed


def detection_check_weight(*, event: ShelfEvent) -> dict[str, Any] | None:
    """Does the shelf camera disagree with a load-cell (or other sensor) event? Compares the
    items the sensor says left the slot with the change in products seen between the last
    hand-free frame at or before the event and the first hand-free frame after it (within
    MINIGO["DETECTION_WINDOW_S"]). Returns the disagreement as review evidence, or None when
    they agree or the camera has nothing to say (no frames counting the slot)."""
    verdict, evidence = detection_weight_verdict(event=event)
    return evidence if verdict == "disagrees" else None


def detection_weight_verdict(
    *, event: ShelfEvent, slot: Slot | None = None, frames: list[Frame] | None = None
) -> tuple[str, dict[str, Any] | None]:
    """("agrees" | "disagrees" | "silent" | "waiting", evidence). "waiting": the camera counts
    this slot and saw it before the event, but no hand-free frame after it has been processed
    yet, so it may still disagree. Counts come from the shelf's detector or, in a replay, from
    what a `sees` frame says its camera saw. `slot`: the event's slot with its product, if
    the caller has read it; `frames`: detection_window_frames, if the caller has read them."""
    if event.sensor == SensorKind.CAMERA:
        return "silent", None
    slot = slot or (
        Slot.objects.select_related("product", "shelf")
        .filter(shelf__device_id=event.device_id, code=event.slot_code)
        .first()
    )
    if slot is None or slot.product is None:
        return "silent", None
    count = count_change(slot=slot, sensor=event.sensor, before=event.before, after=event.after)
    if not count.explained:
        return "silent", None  # the sensor reading goes to review on its own
    t = event.occurred_at
    if frames is None:
        frames = detection_window_frames(event=event)
    by_camera: dict[str, list[_Seen]] = {}
    for f in frames:
        result = (f.result or {}).get("detection") or {}
        if slot.code in result.get("counts", {}) and not result.get("hand"):
            by_camera.setdefault(f.camera, []).append(_Seen(f, result))
    verdict = "silent"
    for seen in by_camera.values():
        before = [s for s in seen if s.frame.captured_at <= t]
        after = [s for s in seen if s.frame.captured_at > t]
        if not before:
            continue
        if not after:
            verdict = "waiting"
            continue
        start, end = before[-1], after[0]
        camera_delta = start.result["counts"][slot.code] - end.result["counts"][slot.code]
        if camera_delta == count.delta:
            return "agrees", None
        return "disagrees", {
            "reason": "detection_disagrees",
            "sensor_delta": count.delta,
            "camera_delta": camera_delta,
            "seen_before": start.result["counts"][slot.code],
            "seen_after": end.result["counts"][slot.code],
            "frames": [start.frame.pk, end.frame.pk],
        }
    return verdict, None
