"""Face test helpers: the fixture photos, and a backend that runs the real face_recognition
once per distinct image for the whole test session (face recognition is CPU-heavy; the same
photos are detected and encoded by many tests)."""

from __future__ import annotations

import hashlib
import io
import os

import numpy as np
import pytest
from PIL import Image

from tests.conftest import FIXTURES
from vision import faces as vf
from vision.images import decode_rgb

FACES = os.path.join(FIXTURES, "faces")


def photo(name: str) -> bytes:
    with open(os.path.join(FACES, name), "rb") as f:
        return f.read()


def rgb_of(name: str) -> np.ndarray:
    return decode_rgb(photo(name), max_bytes=1 << 26, max_pixels=1 << 26)


def jpeg(rgb: np.ndarray, *, max_side: int | None = None, quality: int = 90) -> bytes:
    """`rgb` as JPEG bytes, optionally shrunk the way a gate camera's 640 px stream would be."""
    img = Image.fromarray(rgb)
    if max_side:
        img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


class CachingBackend:
    def __init__(self, inner: vf.FaceBackend):
        self.inner = inner
        self.cache: dict[tuple, object] = {}
        self.calls = 0

    @staticmethod
    def _key(rgb: np.ndarray) -> str:
        return hashlib.sha1(np.ascontiguousarray(rgb).tobytes()).hexdigest() + str(rgb.shape)

    def locations(self, rgb, *, upsample):
        key = ("loc", self._key(rgb), upsample)
        if key not in self.cache:
            self.calls += 1
            self.cache[key] = self.inner.locations(rgb, upsample=upsample)
        return list(self.cache[key])

    def encodings(self, rgb, boxes, *, jitters):
        key = ("enc", self._key(rgb), tuple(map(tuple, boxes)), jitters)
        if key not in self.cache:
            self.calls += 1
            self.cache[key] = self.inner.encodings(rgb, boxes, jitters=jitters)
        return np.array(self.cache[key])


CACHED = CachingBackend(vf.DlibBackend())


@pytest.fixture
def real_faces():
    """The real face_recognition backend, memoised per image for the session."""
    with vf.use_backend(CACHED):
        yield CACHED


@pytest.fixture
def fresh_gallery():
    """No gallery cached from another test's (rolled back) database."""
    from store.services.faces import gallery_invalidate

    gallery_invalidate()
    yield
    gallery_invalidate()
