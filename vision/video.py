"""Splitting a video into still frames (for labelling). No Django."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import cv2


class VideoError(ValueError):
    pass


def video_frames(
    video: str | Path,
    out: str | Path,
    *,
    every_s: float,
    progress: Callable[[Iterable[Any], int, str], Iterable[Any]] | None = None,
) -> list[Path]:
    """Write one JPEG every `every_s` seconds of video time to `out`; returns the files.
    Names carry the video's name and the time in milliseconds, so they sort in order."""
    if every_s <= 0:
        raise VideoError("--every must be a positive number of seconds")
    video = Path(video)
    if not video.is_file():
        raise VideoError(f"{video} does not exist")
    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise VideoError(f"{video} is not a video OpenCV can read")
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        if fps <= 0:
            raise VideoError(f"{video} reports no frame rate")
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        next_t = 0.0
        frames: Iterable[int] = range(total) if total > 0 else iter(int, 1)
        if progress is not None:
            frames = progress(frames, total, "frames")
        for index in frames:
            ok, bgr = capture.read()
            if not ok:
                break
            t = index / fps
            # A small epsilon: 0.1 s steps at 30 fps land on frame times like 0.0999.
            if t + 1e-6 >= next_t:
                path = out / f"{video.stem}_{round(t * 1000):08d}ms.jpg"
                if not cv2.imwrite(str(path), bgr):
                    raise VideoError(f"cannot write {path}")
                written.append(path)
                next_t += every_s
                while next_t <= t:
                    next_t += every_s
        if not written:
            raise VideoError(f"{video} has no readable frames")
        return written
    finally:
        capture.release()
