"""Face identity: enrolment with consent, deletion, and identifying the faces in a frame.

Only 128-d embeddings are stored (invariant 6), only while the shopper's consent is recorded;
photos are decoded in memory and dropped. Identification matches against a gallery matrix
cached per process and rebuilt when the enrolled embeddings change (in this process or any
other: a cheap aggregate query tells), so a gate frame against 10,000 shoppers is one matrix
product, not 10,000 rows read.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from store.crypto import embedding_decrypt, embedding_encrypt
from store.errors import DomainError
from store.models import FaceEmbedding, Shopper
from store.services import live
from vision import faces as vf
from vision.images import ImageError, decode_rgb

log = logging.getLogger(__name__)

# Older embeddings beyond this many per shopper are dropped as new ones are enrolled.
MAX_EMBEDDINGS_PER_SHOPPER = 10
SOURCES = ("selfie", "kiosk", "import")


@dataclass(frozen=True)
class FaceMatch:
    """One face found in a frame. `shopper_id` is None for a face nobody enrolled matches
    within the tolerance (or that another face of the same frame matched better).
    `confidence` (0..1) is 0.5 at the tolerance and near 1 for a clear match, lowered when a
    second shopper is nearly as close. `box` is (top, right, bottom, left) in frame pixels.
    `second_*` name the nearest shopper other than the match (for an unmatched face, simply
    the nearest shopper), for evidence and review."""

    shopper_id: int | None
    distance: float
    confidence: float
    box: tuple[int, int, int, int]
    second_shopper_id: int | None = None
    second_distance: float | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["box"] = list(self.box)
        if not np.isfinite(self.distance):
            data["distance"] = None
        return data


@dataclass
class EnrolResult:
    added: int = 0
    total: int = 0
    # One per refused image: (index in `images`, code, message).
    errors: list[tuple[int, str, str]] = field(default_factory=list)


# --- the gallery ----------------------------------------------------------------------------
_lock = threading.Lock()
_cache: dict[str, Any] = {"stamp": None, "gallery": None}


def _stamp() -> tuple:
    # Ids are never reused (AUTOINCREMENT on SQLite, sequences on PostgreSQL), so any insert
    # raises the max id and any delete lowers the count; consent changed outside the services
    # (the admin) changes the consenting shoppers' count or id sum. Two single-table
    # aggregates: a few ms at 10,000 shoppers (a join was ~3x slower; bench/faces.py). Keyed by
    # database name so test databases and the dev database never share a gallery.
    emb = FaceEmbedding.objects.aggregate(n=Count("id"), last=Max("id"))
    who = Shopper.objects.filter(face_consent=True).aggregate(n=Count("id"), ids=Sum("id"))
    return (settings.DATABASES["default"]["NAME"], emb["n"], emb["last"], who["n"], who["ids"])


def gallery_invalidate() -> None:
    with _lock:
        _cache["stamp"] = None
        _cache["gallery"] = None


def face_gallery() -> vf.Gallery:
    """Every consenting shopper's embeddings as one matrix (cached; see the module doc)."""
    stamp = _stamp()
    with _lock:
        if _cache["stamp"] == stamp and _cache["gallery"] is not None:
            return _cache["gallery"]
    rows = FaceEmbedding.objects.filter(shopper__face_consent=True).values_list(
        "shopper_id", "vector"
    )
    owners: list[int] = []
    blobs: list[bytes] = []
    for shopper_id, vector in rows.iterator(chunk_size=2000):
        try:
            plain = embedding_decrypt(blob=vector, shopper_id=shopper_id)
        except DomainError:
            # A row written under another key, or tampered with: it matches nobody, and
            # the gate keeps working for everyone else.
            log.warning("face embedding of shopper %s cannot be decrypted; skipped", shopper_id)
            continue
        owners.append(shopper_id)
        blobs.append(plain.astype("<f8").tobytes())
    vectors = (
        np.frombuffer(b"".join(blobs), dtype="<f8").reshape(-1, vf.EMBEDDING_SIZE)
        if blobs
        else np.zeros((0, vf.EMBEDDING_SIZE))
    )
    gallery = vf.Gallery.from_arrays(np.asarray(owners, dtype=np.int64), vectors)
    with _lock:
        _cache["stamp"], _cache["gallery"] = stamp, gallery
    return gallery


def _tolerance() -> float:
    return float(settings.MINIGO.get("FACE_TOLERANCE", vf.DEFAULT_TOLERANCE))


def _detect_max_side() -> int:
    return int(settings.MINIGO.get("FACE_DETECT_MAX_SIDE", vf.DEFAULT_DETECT_MAX_SIDE))


def face_identify(
    *, rgb: np.ndarray, shopper_ids: list[int] | None = None, outside: bool = False
) -> list[FaceMatch]:
    """Every face in `rgb` (an RGB uint8 frame), matched against the enrolled shoppers, or
    only against `shopper_ids` (e.g. those in the store, for shelf cameras). None means
    everyone enrolled. With `outside`, a face none of `shopper_ids` matches is then matched
    against everyone else enrolled (someone inside whom no gate saw come in), from the same
    embedding. One shopper matches at most one face of a frame. Slow (detection and
    embedding on the CPU): call it outside transactions."""
    boxes = vf.detect(rgb, max_side=_detect_max_side())
    if not boxes:
        return []
    everyone = face_gallery()
    gallery = everyone if shopper_ids is None else everyone.subset(shopper_ids)
    outside = outside and len(everyone) > len(gallery)
    if not len(gallery) and not outside:
        # Nobody to match: every face is unknown, and the embeddings need not be computed.
        return [FaceMatch(None, float("inf"), 0.0, box) for box in boxes]
    encodings = vf.encode(rgb, boxes)
    matches = vf.match(encodings, gallery, tolerance=_tolerance())
    unknown = [i for i, m in enumerate(matches) if m.owner is None] if outside else []
    if unknown:
        # Only for faces nobody inside matches: the rest of the gallery is a copy.
        inside = set(shopper_ids or ())
        rest = everyone.subset(int(p) for p in everyone.people_ids if int(p) not in inside)
        again = vf.match(encodings[unknown], rest, tolerance=_tolerance())
        for i, m in zip(unknown, again, strict=True):
            matches[i] = m
    return [
        FaceMatch(
            shopper_id=m.owner,
            distance=m.distance,
            confidence=m.confidence,
            box=box,
            second_shopper_id=m.second if m.best == m.owner else m.best,
            second_distance=m.second_distance if m.best == m.owner else m.distance,
        )
        for m, box in zip(matches, boxes)
    ]


def faces_identify(
    *, rgb: np.ndarray, shopper_ids: list[int], outside: bool = False
) -> list[dict[str, Any]]:
    """face_identify's matches as a shelf frame records them: each face's shopper (None
    when unknown), confidence, distance, box and horizontal centre (`x`, a fraction of the
    view's width, for the slots' reach). The one seam between shelf sightings and face
    identification; tests patch it."""
    out = []
    width = rgb.shape[1]
    for match in face_identify(rgb=rgb, shopper_ids=shopper_ids, outside=outside):
        box = getattr(match, "box", None)  # (top, right, bottom, left) in pixels
        # FaceMatch.confidence is 0.5 at the tolerance and near 1 for a clear match, lowered
        # when two shoppers are close.
        distance = match.distance
        out.append(
            {
                "shopper": match.shopper_id,
                "confidence": round(float(match.confidence), 4) if match.shopper_id else 1.0,
                "distance": round(float(distance), 4) if np.isfinite(distance or 0) else None,
                "x": round((box[1] + box[3]) / 2 / width, 4) if box else None,
                "box": [int(v) for v in box] if box else None,
            }
        )
    return out


# --- enrolment, consent, deletion -----------------------------------------------------------
def face_count(*, shopper: Shopper) -> int:
    return FaceEmbedding.objects.filter(shopper=shopper).count()


def face_enrol(*, shopper: Shopper, images: list[bytes], source: str = "selfie") -> EnrolResult:
    """Enrol the face in each photo of `images` (JPEG or PNG bytes, one face each). A photo
    that fails a quality gate is reported in `errors` with its code (no_face, many_faces,
    face_too_small, face_blurry, face_matches_other, face_other_person, or the image's own
    frame_* code) and the others are still enrolled. Only the embeddings are stored.

    Raises consent_required when the shopper has not recorded consent."""
    if source not in SOURCES:
        raise DomainError("bad_source", f"source must be one of {SOURCES}")
    if not Shopper.objects.filter(pk=shopper.pk, face_consent=True).exists():
        raise DomainError("consent_required", "record consent to face identification first")
    result = EnrolResult()
    vectors: list[np.ndarray] = []
    own = _own_embeddings(shopper=shopper)
    for index, data in enumerate(images):
        try:
            rgb = decode_rgb(
                data,
                max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
                max_pixels=settings.MINIGO["FRAME_MAX_PIXELS"],
            )
            _box, vector = vf.enrolment_face(rgb)
            _refuse_other_person(shopper=shopper, vector=vector)
            # The account's first accepted face (stored, or earlier in this batch) is who it
            # belongs to: later photos must show the same person.
            _refuse_second_person(reference=own + vectors, vector=vector)
        except (ImageError, vf.FaceQualityError, DomainError) as exc:
            result.errors.append((index, exc.code, exc.message))
            continue
        vectors.append(vector)
    with transaction.atomic():
        # Consent could have been withdrawn while the photos were being processed.
        locked = Shopper.objects.select_for_update().get(pk=shopper.pk)
        if not locked.face_consent:
            raise DomainError("consent_required", "consent was withdrawn")
        FaceEmbedding.objects.bulk_create(
            FaceEmbedding(
                shopper=locked,
                vector=embedding_encrypt(vector=v, shopper_id=locked.pk),
                source=source,
            )
            for v in vectors
        )
        keep = FaceEmbedding.objects.filter(shopper=locked).order_by("-created_at", "-id")
        stale = list(keep.values_list("id", flat=True)[MAX_EMBEDDINGS_PER_SHOPPER:])
        if stale:
            FaceEmbedding.objects.filter(id__in=stale).delete()
        result.added = len(vectors)
        result.total = FaceEmbedding.objects.filter(shopper=locked).count()
        transaction.on_commit(gallery_invalidate)
    if vectors:
        live.to_shopper(shopper.pk, "face_enrolled", {"embeddings": result.total})
    return result


def _refuse_other_person(*, shopper: Shopper, vector: np.ndarray) -> None:
    """A photo whose face is already enrolled as someone else would let one person enter (and
    pay) as the other: refuse it."""
    gallery = face_gallery()
    others = gallery.subset(set(np.unique(gallery.owners).tolist()) - {shopper.pk})
    if not len(others):
        return
    found = vf.match(vector[None, :], others, tolerance=_tolerance())[0]
    if found.owner is not None:
        raise DomainError("face_matches_other", "this face is already enrolled for someone else")


def _own_embeddings(*, shopper: Shopper) -> list[np.ndarray]:
    own = []
    for vector in FaceEmbedding.objects.filter(shopper=shopper).values_list("vector", flat=True):
        try:
            own.append(embedding_decrypt(blob=vector, shopper_id=shopper.pk))
        except DomainError:
            continue  # unreadable under this key: it identifies nobody, so it binds nobody
    return own


def _refuse_second_person(*, reference: list[np.ndarray], vector: np.ndarray) -> None:
    """One account, one face: a face farther than the tolerance from every face already
    enrolled for the account is another person, whose picks would land on this cart."""
    if not reference:
        return
    distances = np.linalg.norm(np.asarray(reference) - vector[None, :], axis=1)
    if float(distances.min()) > _tolerance():
        raise DomainError(
            "face_other_person",
            "this is not the person already enrolled for this account: one account holds "
            "one person's face (delete the face data first to enrol someone else)",
        )


def face_delete(*, shopper: Shopper) -> int:
    """Delete every embedding of `shopper` at once. Returns how many were deleted."""
    with transaction.atomic():
        deleted, _ = FaceEmbedding.objects.filter(shopper=shopper).delete()
        transaction.on_commit(gallery_invalidate)
    if deleted:
        live.to_shopper(shopper.pk, "face_deleted", {"embeddings": 0})
    return deleted


def face_consent_set(*, shopper: Shopper, consent: bool) -> Shopper:
    """Record or withdraw consent to face identification. Withdrawing deletes the shopper's
    embeddings in the same transaction."""
    with transaction.atomic():
        locked = Shopper.objects.select_for_update().get(pk=shopper.pk)
        if consent and not locked.face_consent:
            locked.face_consent, locked.face_consent_at = True, timezone.now()
            locked.save(update_fields=["face_consent", "face_consent_at"])
        elif not consent:
            locked.face_consent, locked.face_consent_at = False, None
            locked.save(update_fields=["face_consent", "face_consent_at"])
            FaceEmbedding.objects.filter(shopper=locked).delete()
            transaction.on_commit(gallery_invalidate)
    shopper.face_consent, shopper.face_consent_at = locked.face_consent, locked.face_consent_at
    return shopper
