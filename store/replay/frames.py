"""The pixels of a frame that says what its camera "sees" (a scenario's `sees` frame, or a
bench playing a shelf camera): a real, tiny JPEG, so the frame passes every check a camera
frame does, while what the camera sees rides in the frame's header.

No Django here: the benches import it from outside the server."""

from __future__ import annotations

import io
from functools import cache

from PIL import Image


@cache
def sees_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (128, 128, 128)).save(buf, "JPEG", quality=50)
    return buf.getvalue()
