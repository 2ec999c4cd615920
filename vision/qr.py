"""QR codes in camera frames (OpenCV's detector) and QR images for tests and the replay."""

from __future__ import annotations

import io
import threading

import cv2
import numpy as np
from PIL import Image

_local = threading.local()


def _detectors() -> tuple[cv2.QRCodeDetectorAruco, cv2.QRCodeDetector]:
    # Detectors keep state between calls, so one pair per thread. The ArUco-based detector
    # reads codes the classic one misses (about 1 in 30 random tokens on a plain frame) and
    # costs less on a frame with no code; the classic one is the second opinion.
    pair = getattr(_local, "detectors", None)
    if pair is None:
        pair = _local.detectors = (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector())
    return pair


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
    for detector in _detectors():
        try:
            ok, texts, _points, _ = detector.detectAndDecodeMulti(grey)
        except cv2.error:
            continue
        seen: list[str] = []
        for text in texts if ok else ():
            if text and text not in seen:
                seen.append(text)
        if seen:
            return seen
    return []


def render_qr(text: str, *, scale: int = 6, border: int = 4) -> np.ndarray:
    """The QR code of `text` as an RGB array (for tests, the replay and the benchmark)."""
    import segno  # a tenth of a second, only where a code is drawn

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=scale, border=border)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=np.uint8)


def qr_svg(text: str, *, scale: int = 6) -> str:
    """An inline <svg> element of the QR code of `text`, for the shopper app."""
    import segno  # a tenth of a second, only where a code is drawn

    return segno.make(text, error="m").svg_inline(scale=scale, border=4)
