"""Faces: detect, encode and match, as plain functions over RGB numpy arrays.

Built on face_recognition (dlib's HOG detector and 128-d ResNet embeddings), with two things
it lacks: models load lazily on first use (never at import) through a swappable backend, so
tests can inject a fake or a cache; and detection runs on a downscaled copy of the image with
the boxes mapped back, which is most of the cost saved on large frames.

Boxes are (top, right, bottom, left) in the pixels of the image passed in, as in
face_recognition. Distances are Euclidean between embeddings; two faces closer than the
tolerance (0.5 by default in MiniGo, 0.6 in face_recognition) are taken to be one person.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
from PIL import ImageFile

from vision.errors import VisionError
from vision.images import ImageError, decode_rgb

Box = tuple[int, int, int, int]  # top, right, bottom, left
EMBEDDING_SIZE = 128
DEFAULT_TOLERANCE = 0.5
# Face confidence, the one scale used at the gates and at the shelves alike (0..1): the
# distance's confidence (`distance_confidence`), 0.5 exactly at the tolerance and near 1 for a
# clear match, lowered when a second person is nearly as close (`match`). A face at or above
# MATCH_CONFIDENCE is that person: it opens a visit at the entry gate, closes it at the exit
# and names the shopper at a shelf. Below it the face is doubtful and counts, everywhere, as
# an unknown face. How sure the store is of *who took an item* is a different number (the
# attribution confidence), built from accepted faces by where and when they were seen.
MATCH_CONFIDENCE = 0.5
DEFAULT_DETECT_MAX_SIDE = 640
# dlib's HOG detector scans an 80×80 window over an image pyramid that only shrinks.
HOG_WINDOW_PX = 80
# A second person this much further away than the best still makes the match doubtful.
AMBIGUITY_MARGIN = 0.06
# Enrolment quality gates (see `enrolment_face`).
MIN_FACE_PX = 80
MIN_SHARPNESS = 40.0

__all__ = [
    "Box",
    "FaceBackend",
    "FaceQualityError",
    "Gallery",
    "ImageError",
    "Match",
    "decode_rgb",
    "detect",
    "distance_confidence",
    "downscale",
    "encode",
    "enrolment_face",
    "get_backend",
    "match",
    "sharpness",
    "use_backend",
]


class FaceBackend(Protocol):
    """What MiniGo needs from a face library. `locations` and `encodings` take and return
    face_recognition's conventions (RGB uint8 arrays, (top, right, bottom, left) boxes)."""

    def locations(self, rgb: np.ndarray, *, upsample: int) -> list[Box]: ...

    def encodings(self, rgb: np.ndarray, boxes: Sequence[Box], *, jitters: int) -> np.ndarray: ...


class DlibBackend:
    """face_recognition itself. Importing it loads dlib's models (~100 MB, ~1 s), so the import
    happens on first use and once per process."""

    _lock = threading.Lock()
    _module = None

    def _fr(self):
        if DlibBackend._module is None:
            with DlibBackend._lock:
                if DlibBackend._module is None:
                    # face_recognition switches Pillow to silently accepting truncated images
                    # for the whole process at import; vision/images.py relies on refusing
                    # them, so the setting is put back.
                    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
                    import face_recognition

                    ImageFile.LOAD_TRUNCATED_IMAGES = truncated
                    DlibBackend._module = face_recognition
        return DlibBackend._module

    def locations(self, rgb: np.ndarray, *, upsample: int) -> list[Box]:
        return [tuple(int(v) for v in b) for b in self._fr().face_locations(rgb, upsample, "hog")]

    def encodings(self, rgb: np.ndarray, boxes: Sequence[Box], *, jitters: int) -> np.ndarray:
        if not boxes:
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float64)
        found = self._fr().face_encodings(rgb, list(boxes), num_jitters=max(1, jitters))
        return np.asarray(found, dtype=np.float64).reshape(len(boxes), EMBEDDING_SIZE)


_backend: FaceBackend | None = None


def get_backend() -> FaceBackend:
    global _backend
    if _backend is None:
        _backend = DlibBackend()
    return _backend


@contextmanager
def use_backend(backend: FaceBackend) -> Iterator[FaceBackend]:
    """Swap the backend for a block (tests inject fakes and caches this way)."""
    global _backend
    previous = _backend
    _backend = backend
    try:
        yield backend
    finally:
        _backend = previous


# --- detection and encoding -----------------------------------------------------------------
def downscale(rgb: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """A copy whose longer side is at most `max_side`, and the scale applied (≤ 1)."""
    height, width = rgb.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return rgb, 1.0
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def scale_box(box: Box, scale: float, shape: tuple[int, ...]) -> Box:
    """Map a box found at `scale` back to the original image, clipped to it."""
    height, width = shape[:2]
    top, right, bottom, left = (v / scale for v in box)
    return (
        max(0, min(height, round(top))),
        max(0, min(width, round(right))),
        max(0, min(height, round(bottom))),
        max(0, min(width, round(left))),
    )


def detect(
    rgb: np.ndarray, *, max_side: int | None = DEFAULT_DETECT_MAX_SIDE, upsample: int = 0
) -> list[Box]:
    """Face boxes in `rgb`'s pixels. Detection runs on a copy at most `max_side` pixels on
    its longer side (HOG finds faces down to about 80 px there; `upsample` halves that at four
    times the cost). Boxes cut by the image edge are clipped, not dropped."""
    small, scale = downscale(_rgb(rgb), max_side)
    if min(small.shape[:2]) * 2**upsample < HOG_WINDOW_PX:
        # No face fits the detector's window: skip it (and loading the models) altogether.
        return []
    found = get_backend().locations(small, upsample=upsample)
    boxes = [scale_box(b, scale, rgb.shape) for b in found]
    return [b for b in boxes if b[2] - b[0] >= 4 and b[1] - b[3] >= 4]


def encode(rgb: np.ndarray, boxes: Sequence[Box], *, jitters: int = 1) -> np.ndarray:
    """Embeddings (n, 128) for the faces at `boxes`, computed on the full-resolution image
    (landmarks and the 150 px face chip come out sharper than from the downscaled copy)."""
    return get_backend().encodings(_rgb(rgb), list(boxes), jitters=jitters)


def _rgb(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("expected an RGB uint8 array of shape (H, W, 3)")
    return np.ascontiguousarray(rgb)


# --- enrolment quality ----------------------------------------------------------------------
class FaceQualityError(VisionError):
    """An enrolment photo refused, with a code: no_face, many_faces, face_too_small,
    face_blurry."""


def sharpness(rgb: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian of the face, resized to 128 px so the figure does not depend
    on how large the face is in the photo. Sharp photos score in the hundreds; a face blurred
    by motion or focus scores under ~30."""
    top, right, bottom, left = box
    crop = rgb[top:bottom, left:right]
    if crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (128, 128), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def enrolment_face(
    rgb: np.ndarray,
    *,
    max_side: int | None = 800,
    min_face_px: int = MIN_FACE_PX,
    min_sharpness: float = MIN_SHARPNESS,
    jitters: int = 3,
) -> tuple[Box, np.ndarray]:
    """The one good face of an enrolment photo and its embedding, or FaceQualityError.

    Detection upsamples once so that a small face is reported as too small rather than as
    missing. The embedding is averaged over a few jitters: it is computed once and kept."""
    boxes = detect(rgb, max_side=max_side, upsample=1)
    if not boxes:
        raise FaceQualityError("no_face", "no face was found in the photo")
    if len(boxes) > 1:
        raise FaceQualityError("many_faces", f"{len(boxes)} faces were found; show only one")
    box = boxes[0]
    side = min(box[1] - box[3], box[2] - box[0])
    if side < min_face_px:
        raise FaceQualityError(
            "face_too_small", f"the face is {side} px wide; come closer (at least {min_face_px})"
        )
    if sharpness(rgb, box) < min_sharpness:
        raise FaceQualityError("face_blurry", "the photo is too blurry; hold still")
    return box, encode(rgb, [box], jitters=jitters)[0]


# --- matching -------------------------------------------------------------------------------
_blas = None


def _one_blas_thread():
    """A product this small is several times slower when OpenBLAS splits it over threads on
    a busy machine (measured in bench/faces.py); run it on one. threadpoolctl is optional."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas = ThreadpoolController()
        except ImportError:
            _blas = False
    return _blas.limit(limits=1, user_api="blas") if _blas else nullcontext()


@dataclass(frozen=True)
class Gallery:
    """Enrolled embeddings as one float32 matrix, rows grouped by owner (a shopper id), so a
    match against thousands of people is one matrix product and one grouped minimum."""

    vectors: np.ndarray  # (n, 128) float32, rows sorted by owner
    owners: np.ndarray  # (n,) int64, sorted
    sq_norms: np.ndarray  # (n,) float32
    starts: np.ndarray  # index of each owner's first row
    people_ids: np.ndarray  # owners[starts]: each owner once

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, np.ndarray]]) -> Gallery:
        pairs = list(rows)
        if not pairs:
            return cls.empty()
        owners = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
        vectors = np.vstack([np.asarray(p[1], dtype=np.float32) for p in pairs])
        return cls.from_arrays(owners, vectors)

    @classmethod
    def from_arrays(cls, owners: np.ndarray, vectors: np.ndarray) -> Gallery:
        owners = np.asarray(owners, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(owners), EMBEDDING_SIZE)
        order = np.argsort(owners, kind="stable")
        return cls._build(np.ascontiguousarray(vectors[order]), owners[order])

    @classmethod
    def _build(cls, vectors: np.ndarray, owners: np.ndarray) -> Gallery:
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if len(owners) else owners
        return cls(vectors, owners, np.einsum("ij,ij->i", vectors, vectors), starts, owners[starts])

    @classmethod
    def empty(cls) -> Gallery:
        return cls._build(np.zeros((0, EMBEDDING_SIZE), np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.owners)

    @property
    def people(self) -> int:
        return len(self.people_ids)

    def subset(self, owners: Iterable[int]) -> Gallery:
        keep = np.isin(self.owners, np.fromiter(owners, dtype=np.int64))
        return Gallery._build(np.ascontiguousarray(self.vectors[keep]), self.owners[keep])

    def distances(self, encodings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per owner, the distance from each encoding to that owner's nearest embedding:
        (unique owners (k,), distances (m, k))."""
        queries = np.asarray(encodings, dtype=np.float32).reshape(-1, EMBEDDING_SIZE)
        if not len(self):
            return self.people_ids, np.zeros((len(queries), 0), np.float32)
        # |q - g|² = |q|² - 2 q·g + |g|², with |g|² precomputed: one matrix product.
        with _one_blas_thread():
            sq = -2.0 * (queries @ self.vectors.T)
        sq += np.einsum("ij,ij->i", queries, queries)[:, None]
        sq += self.sq_norms[None, :]
        np.maximum(sq, 0.0, out=sq)
        per_row = np.sqrt(sq, out=sq)
        if len(self.starts) == len(self.owners):  # one embedding per person
            return self.people_ids, per_row
        return self.people_ids, np.minimum.reduceat(per_row, self.starts, axis=1)


@dataclass(frozen=True)
class Match:
    """The best and second-best person for one face. `owner` is None when even the best is
    further than the tolerance."""

    owner: int | None
    distance: float
    confidence: float
    best: int | None
    second: int | None = None
    second_distance: float | None = None


def distance_confidence(distance: float, tolerance: float = DEFAULT_TOLERANCE) -> float:
    """Map a face distance to 0..1: 0.5 at the tolerance, rising steeply towards 1 below it
    and falling towards 0 above it (the curve suggested in face_recognition's wiki)."""
    if distance > tolerance:
        span = max(1e-6, 1.0 - tolerance)
        return float(np.clip((1.0 - distance) / (span * 2.0), 0.0, 0.5))
    linear = 1.0 - distance / (max(tolerance, 1e-6) * 2.0)
    return float(min(1.0, linear + (1.0 - linear) * ((linear - 0.5) * 2.0) ** 0.2))


def match(
    encodings: np.ndarray,
    gallery: Gallery,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    exclusive: bool = True,
) -> list[Match]:
    """Match each encoding against the gallery. The confidence is the distance's confidence,
    scaled down when a second person is also within the tolerance and barely further away.

    With `exclusive`, one person matches at most one face of the same image (they cannot stand
    there twice): the closer face keeps the match, the other is left unmatched."""
    owners, dist = gallery.distances(encodings)
    results: list[Match] = []
    for row in dist:
        if not len(owners):
            results.append(Match(None, float("inf"), 0.0, None))
            continue
        order = np.argpartition(row, 1)[:2] if len(row) > 2 else np.arange(len(row))
        order = order[np.argsort(row[order])]
        d1 = float(row[order[0]])
        d2 = float(row[order[1]]) if len(order) > 1 else None
        confidence = distance_confidence(d1, tolerance)
        if d2 is not None and d2 <= tolerance:
            confidence *= min(1.0, (d2 - d1) / AMBIGUITY_MARGIN)
        best = int(owners[order[0]])
        results.append(
            Match(
                owner=best if d1 <= tolerance else None,
                distance=d1,
                confidence=round(confidence, 4),
                best=best,
                second=int(owners[order[1]]) if d2 is not None else None,
                second_distance=d2,
            )
        )
    if exclusive:
        taken: set[int] = set()
        for i in sorted(range(len(results)), key=lambda i: results[i].distance):
            m = results[i]
            if m.owner is None:
                continue
            if m.owner in taken:
                results[i] = Match(None, m.distance, 0.0, m.best, m.second, m.second_distance)
            taken.add(m.owner)
    return results
