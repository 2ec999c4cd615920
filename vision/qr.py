"""QR codes in camera frames (OpenCV's detector) and QR images for tests and the replay."""

from __future__ import annotations

import io
import threading

import cv2
import numpy as np

_local = threading.local()


def _detector() -> cv2.QRCodeDetector:
    # The detector keeps state between calls, so one per thread.
    det = getattr(_local, "detector", None)
    if det is None:
        det = _local.detector = cv2.QRCodeDetector()
    return det


def decode_qr(rgb: np.ndarray, *, max_side: int = 1280) -> list[str]:
    """The texts of the QR codes readable in `rgb` (several at once), without duplicates.
    Frames larger than `max_side` are searched at that size: a code held up to a gate camera
    is large, and the search costs about as much as face detection at full size."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    height, width = grey.shape
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        size = (round(width * scale), round(height * scale))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return _decode(grey)


def _decode(grey: np.ndarray) -> list[str]:
    try:
        ok, texts, _points, _ = _detector().detectAndDecodeMulti(grey)
    except cv2.error:
        return []
    if not ok:
        return []
    seen: list[str] = []
    for text in texts:
        if text and text not in seen:
            seen.append(text)
    return seen


def render_qr(text: str, *, scale: int = 6, border: int = 4) -> np.ndarray:
    """The QR code of `text` as an RGB array (for tests, the replay and the benchmark)."""
    import segno
    from PIL import Image

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=scale, border=border)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=np.uint8)


def qr_svg(text: str, *, scale: int = 6) -> str:
    """An inline <svg> element of the QR code of `text`, for the shopper app."""
    import segno

    return segno.make(text, error="m").svg_inline(scale=scale, border=4)
