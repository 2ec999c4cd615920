"""What the product-detector tests share: a scripted detector standing in for the ONNX model,
grey frames numbered by their grey level, and the shelf's frames and weight events."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
from PIL import Image

from store.models import ShelfEvent, Slot, Visit
from store.services import detectors
from store.services.events import event_store
from store.services.frames import frame_process, frame_store
from tests.vision.onnx_models import constant_model, v8_output
from vision.detect import Detections

NAMES = ["cocacola", "crisps", "hand"]
T0 = 1_700_000_000.0


def jpeg(value: int, size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (value, value, value)).save(out, "JPEG", quality=95)
    return out.getvalue()


def box(cls: int, x: float, y: float = 10) -> tuple:
    return (x, y, x + 8, y + 8, cls)


class ScriptedDetector:
    """Stands in for the ONNX model: frame i (grey level 20·i) shows script[i]."""

    class_names = NAMES

    def __init__(self, script: list[list[tuple]]):
        self.script = script

    def detect(self, rgb):
        rows = self.script[round(float(rgb.mean()) / 20)]
        if not rows:
            return Detections.empty()
        return Detections(
            np.array([r[:4] for r in rows]), np.full(len(rows), 0.9), np.array([r[4] for r in rows])
        )


def entered_before_the_frames(visit):
    """The shopper came in before the scripted frames (T0 is a fixed moment in the past, and
    attribution only considers shoppers in the store at the event's time)."""
    entered = datetime.fromtimestamp(T0 - 600, tz=UTC)
    Visit.objects.filter(pk=visit.pk).update(entered_at=entered)
    visit.refresh_from_db()
    return visit


def with_detector(store, monkeypatch):
    """The store's shelf with a detector; A1 (cola) is watched by the camera only, on the left
    half of the frame; A2 stays a load cell."""
    model = detectors.detector_create(
        name="shelf model",
        data=constant_model(v8_output([[32, 32, 8, 8, 0.9, 0, 0]], 3), names=NAMES),
    )
    model.mappings.filter(class_name="cocacola").update(product=store.cola)
    model.mappings.filter(class_name="crisps").update(product=store.chips)
    detectors.detector_assign_shelves(detector=model, shelves=[store.shelf])
    Slot.objects.filter(pk=store.a1.pk).update(sensor="camera", camera_region=[0, 0, 0.5, 1])

    def use(script):
        monkeypatch.setattr(detectors, "detector_load", lambda *, model: ScriptedDetector(script))

    store.detector = model
    store.use_script = use
    return store


def send(store, i: int, *, process=True):
    frame, _ = frame_store(
        device=store.shelf_device,
        header={"event_id": f"f{i}", "camera": "0", "seq": i, "ts": T0 + i},
        jpeg=jpeg(20 * i),
        width=64,
        height=48,
    )
    if process:
        frame_process(frame_id=frame.pk)
    return frame


COLA, CHIPS, HAND = 0, 1, 2
THREE = [box(COLA, 2), box(COLA, 12), box(COLA, 22)]
TWO = THREE[:2]


def weight_event(store, *, removed_g: float, at: float, event_id: str | None = None) -> ShelfEvent:
    event, _ = event_store(
        device=store.shelf_device,
        msg={
            "event_id": event_id or f"w{at}",
            "slot": "A2",
            "sensor": "load_cell",
            "before": 1000.0,
            "after": 1000.0 - removed_g,
            "ts": at,
        },
    )
    return event
