"""Cameras, motion gating and JPEG encoding.

Sources (each `grab() -> numpy BGR array | None`, `close()`):
- picamera2 (the Pi camera) when the library is present (a stalled camera times out),
- OpenCV VideoCapture: a USB camera index ("0"), an RTSP URL, or a video file,
- a folder of images, played in name order (for testing without a camera).

numpy and OpenCV are imported when a camera is built: a sensor-only shelf needs neither.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class Camera(Protocol):
    def grab(self) -> Any: ...

    def close(self) -> None: ...


class PiCamera:
    """The Pi camera through picamera2 (0.3.20 or later, Raspberry Pi OS's python3-picamera2).

    `capture_array()` waits for the next frame without a limit, so a camera that stops
    delivering frames (a loose ribbon cable, a camera that crashed) would stop its thread for
    good. The capture is asked for as a picamera2 job and waited for at most `timeout_s`; a job
    that timed out is waited for again on the next grab rather than queuing another behind it.
    """

    def __init__(
        self, *, width: int = 1280, height: int = 720, camera_num: int = 0, timeout_s: float = 5.0
    ):
        from picamera2 import Picamera2

        self.name = f"Pi camera {camera_num}"
        self.timeout_s = timeout_s
        self._job: Any = None
        self._silent_since: float | None = None
        self.cam = Picamera2(camera_num)
        config = self.cam.create_video_configuration(
            main={"size": (width, height), "format": "RGB888"}
        )
        self.cam.configure(config)
        self.cam.start()

    def grab(self) -> Any:
        if self._job is None:
            self._job = self.cam.capture_array("main", wait=False)
        try:
            image = self.cam.wait(self._job, timeout=self.timeout_s)
        except TimeoutError:
            if self._silent_since is None:
                self._silent_since = time.monotonic()
                log.error(
                    "%s gave no frame within %.1f s; check its cable. The agent keeps "
                    "running and takes frames again as soon as it delivers them.",
                    self.name,
                    self.timeout_s,
                )
            return None
        self._job = None
        if self._silent_since is not None:
            log.warning(
                "%s delivers frames again after %.0f s",
                self.name,
                time.monotonic() - self._silent_since,
            )
            self._silent_since = None
        # "RGB888" in libcamera is B, G, R in memory: already OpenCV's order.
        return image

    def close(self) -> None:
        if self._job is not None:
            # stop() is itself a job on picamera2's queue and would wait behind the capture
            # that never finished; picamera2 clears the queue for this case.
            self.cam.cancel_all_and_flush()
            self._job = None
        self.cam.stop()
        self.cam.close()


class OpenCVCamera:
    """A USB camera ("0", "1"), an RTSP/HTTP stream URL or a video file path."""

    def __init__(self, *, source: str, width: int | None = None, height: int | None = None):
        import cv2

        self.source = source
        self.cap = cv2.VideoCapture(int(source) if source.isdigit() else source)
        if width and height:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if not self.cap.isOpened():
            raise OSError(f"cannot open camera {source!r}")

    def grab(self) -> Any:
        ok, frame = self.cap.read()
        return frame if ok else None

    def close(self) -> None:
        self.cap.release()


class FolderCamera:
    """Images from a folder in name order; `loop` starts over, otherwise it ends."""

    def __init__(self, *, path: str | Path, loop: bool = False):
        self.files = sorted(p for p in Path(path).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(f"no images in {path}")
        self.loop, self._i = loop, 0

    def grab(self) -> Any:
        import cv2

        if self._i >= len(self.files):
            if not self.loop:
                return None
            self._i = 0
        path = self.files[self._i]
        self._i += 1
        return cv2.imread(str(path), cv2.IMREAD_COLOR)

    def close(self) -> None:
        pass


def _pi_camera(spec: dict[str, Any]) -> PiCamera:
    return PiCamera(
        width=int(spec.get("width", 1280)),
        height=int(spec.get("height", 720)),
        camera_num=int(spec.get("camera_num", 0)),
        timeout_s=float(spec.get("timeout_s", 5.0)),
    )


def build_camera(spec: dict[str, Any]) -> Camera:
    kind = spec.get("type", "opencv")
    if kind == "picamera2":
        return _pi_camera(spec)
    if kind == "opencv":
        return OpenCVCamera(
            source=str(spec.get("source", "0")), width=spec.get("width"), height=spec.get("height")
        )
    if kind == "folder":
        return FolderCamera(path=spec["path"], loop=bool(spec.get("loop", False)))
    if kind == "auto":
        try:
            return _pi_camera(spec)
        except ImportError:
            return OpenCVCamera(source=str(spec.get("source", "0")))
    raise ValueError(f"unknown camera type {kind!r}: use picamera2, opencv, folder or auto")


def encode_jpeg(image: Any, *, quality: int = 80, max_side: int = 0) -> bytes:
    import cv2

    if max_side and max(image.shape[:2]) > max_side:
        scale = max_side / max(image.shape[:2])
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("the frame could not be encoded as JPEG")
    return buf.tobytes()


def encode_jpeg_within(
    image: Any, *, max_bytes: int, quality: int = 80, max_side: int = 0, min_side: int = 160
) -> bytes | None:
    """A JPEG of `image` no larger than `max_bytes` (the server's frame limit): first at the
    configured quality and size, then at lower qualities, then smaller, down to `min_side`
    pixels on the longer side. None if even that does not fit (the frame is not worth
    sending: a server would refuse it)."""
    longest = max(image.shape[:2])
    side = min(max_side, longest) if max_side else longest
    qualities = sorted({quality, min(quality, 70), min(quality, 55)}, reverse=True)
    while True:
        for q in qualities:
            jpeg = encode_jpeg(image, quality=q, max_side=side)
            if len(jpeg) <= max_bytes:
                return jpeg
        side = int(side * 0.75)
        if side < min_side:
            return None


class MotionGate:
    """Says whether a frame differs enough from the last one sent to be worth sending.

    Frames are compared small and grey (64 px wide, blurred), so sensor noise and JPEG
    artefacts do not count as motion: `threshold` is the share of pixels that changed by more
    than `pixel_delta` grey levels."""

    def __init__(self, *, threshold: float = 0.02, pixel_delta: int = 25):
        self.threshold, self.pixel_delta = threshold, pixel_delta
        self._last: Any = None

    def _small(self, image: Any) -> Any:
        import cv2

        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        height = max(1, round(grey.shape[0] * 64 / grey.shape[1]))
        small = cv2.resize(grey, (64, height), interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (5, 5), 0)

    def changed(self, image: Any) -> bool:
        import numpy as np

        small = self._small(image)
        if self._last is None or self._last.shape != small.shape:
            self._last = small
            return True
        diff = np.abs(small.astype(np.int16) - self._last.astype(np.int16))
        moved = float((diff > self.pixel_delta).mean())
        if moved >= self.threshold:
            self._last = small
            return True
        return False

    def sent(self, image: Any) -> None:
        """A frame went out for another reason (around a shelf event): compare with it next."""
        self._last = self._small(image)


class RateLimiter:
    """At most `fps` per second; `wait()` sleeps until the next slot."""

    def __init__(self, fps: float):
        self.interval = 1.0 / fps if fps > 0 else 0.0
        self._next = 0.0

    def wait(self, stop: Any = None) -> None:
        now = time.monotonic()
        if self._next > now:
            delay = self._next - now
            if stop is not None:
                stop.wait(delay)
            else:
                time.sleep(delay)
        self._next = max(now, self._next) + self.interval
