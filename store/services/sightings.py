"""Vision on shelf frames: which in-store shoppers the shelf camera sees (attribution evidence).

`shelf_frame_analyse` runs outside any transaction (slow, no side effects); `shelf_frame_apply`
runs in the transaction that marks the frame processed (rolled back if another run did first)
and writes one Sighting per face, moves each seen shopper's "last seen" mark, and, once
committed, wakes the shelf events at that shelf that are waiting for exactly this evidence
(frames and weight events race: the frame that shows the face is often processed after the
weight change it explains)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import FilteredRelation, Q, QuerySet

from store import tasks
from store.models import Frame, Shopper, Sighting, Visit
from store.services import faces
from store.services.attribution import ENTRY_SLACK_S
from store.services.entry import entry_seen_inside
from store.services.sees import sees_name
from store.services.tracks import CLEAR_MATCH
from vision.faces import MATCH_CONFIDENCE


def _visits_at(when) -> QuerySet[Visit]:
    """Visits in the store when the frame was captured (event time): a frame that reaches
    the server after its shopper left is still evidence about their visit."""
    return Visit.objects.filter(entered_at__lte=when + timedelta(seconds=ENTRY_SLACK_S)).filter(
        Q(exited_at__isnull=True) | Q(exited_at__gte=when)
    )


def _in_store_shopper_ids(when) -> list[int]:
    return list(
        _visits_at(when).filter(shopper__face_consent=True).values_list("shopper_id", flat=True)
    )


def shelf_frame_analyse(*, frame: Frame, rgb: np.ndarray | None) -> dict[str, Any]:
    sees = frame.result.get("sees") if settings.MINIGO["ACCEPT_SEES"] else None
    if sees is not None:
        names = sees.get("shoppers") or []
        return {"source": "sees", "names": names if isinstance(names, list) else []}
    if rgb is None:
        return {}
    shopper_ids = _in_store_shopper_ids(frame.captured_at)
    if not shopper_ids:
        # Faces are matched only against shoppers in the store; with none inside, nobody at a
        # shelf can be anyone's evidence, so the (slow) face pass is skipped.
        return {"source": "face", "faces": []}
    found = faces.faces_identify(rgb=rgb, shopper_ids=shopper_ids, outside=True)
    return {"source": "face", "faces": found}


def _sees_faces(seen: list[Any], when) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """`seen`: shopper ids, or {"id": ..., "x": 0..1, "confidence": 0..1}: where the face was
    across the view and how sure its match was (vision.faces.MATCH_CONFIDENCE's scale; a clear
    match when absent). Only consenting shoppers can be named, as real vision matches only
    their embeddings. Returns the faces and {shopper id: open visit id}, from one query."""

    names = [sees_name(item) for item in seen]
    rows = (
        Shopper.objects.filter(user__username__in=[n for n in names if n], face_consent=True)
        .annotate(
            # The visit the shopper was in at `when` (event time), as _visits_at.
            open=FilteredRelation(
                "visits",
                condition=Q(visits__entered_at__lte=when + timedelta(seconds=ENTRY_SLACK_S))
                & (Q(visits__exited_at__isnull=True) | Q(visits__exited_at__gte=when)),
            )
        )
        .order_by("open__entered_at")
        .values_list("user__username", "pk", "open__pk")
    )
    shoppers = {name: (pk, visit) for name, pk, visit in rows}
    faces = []
    for name, item in zip(names, seen, strict=True):
        shopper = shoppers.get(name, (None, None))[0]
        x = item.get("x") if isinstance(item, dict) else None
        confidence = item.get("confidence", 1.0) if isinstance(item, dict) else 1.0
        if not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
            confidence = 1.0
        faces.append(
            {
                "shopper": shopper,
                "confidence": float(confidence) if shopper else 1.0,
                "distance": None,
                "x": float(x) if isinstance(x, int | float) and 0 <= x <= 1 else None,
            }
        )
    return faces, {pk: visit for pk, visit in shoppers.values() if visit is not None}


def _came_in_unseen(frame: Frame, face: dict[str, Any]) -> int | None:
    """The visit a shopper clearly seen at a shelf with none open gets: they are inside, the
    entry camera missed them (a doubtful match opens nothing: it may be someone else)."""
    if face["confidence"] < CLEAR_MATCH:
        return None
    shopper = Shopper.objects.filter(pk=face["shopper"], face_consent=True).first()
    if shopper is None:
        return None
    visit = entry_seen_inside(shopper=shopper, device=frame.device, at=frame.captured_at)
    return visit.pk if visit is not None else None


def shelf_frame_apply(*, frame: Frame, analysis: dict[str, Any]) -> dict[str, Any]:
    """Writes with at most three statements: the sightings, the seen shoppers' "last seen"
    mark (moved forward only, in SQL, so frames applied out of order cannot move it back) and
    the lookup of the open visits before them; and, rarely, the visit of a shopper seen inside
    whom no gate saw come in."""
    if not analysis:
        # Faces deferred: no evidence, but it may close a waiting event's window.
        tasks.enqueue_wakes(device_pk=frame.device_id, when=frame.captured_at, evidence=False)
        return {}
    if analysis["source"] == "sees":
        faces, open_visits = _sees_faces(analysis["names"], frame.captured_at)
    else:
        faces = analysis["faces"]
        open_visits = dict(
            _visits_at(frame.captured_at)
            .filter(shopper_id__in=[f["shopper"] for f in faces if f["shopper"]])
            .order_by("entered_at")
            .values_list("shopper_id", "pk")
        )
    seen_at = frame.captured_at
    rows, seen, boxes = [], [], []
    for face in faces:
        visit_id = open_visits.get(face["shopper"]) if face["shopper"] else None
        if face["shopper"] and visit_id is None:
            visit_id = _came_in_unseen(frame, face)
            if visit_id is None:
                continue  # matched someone who is not in the store (any more): no evidence
        if face.get("box"):
            # Where the face was (pixels, no image): the review card draws it on the frame.
            boxes.append({"box": face["box"], "shopper": face["shopper"] if visit_id else None})
        rows.append(
            Sighting(
                device_id=frame.device_id,
                frame=frame,
                shopper_id=face["shopper"] if visit_id else None,
                visit_id=visit_id,
                seen_at=seen_at,
                confidence=face["confidence"],
                distance=face["distance"],
                x=face.get("x"),
                source=analysis["source"],
            )
        )
        if visit_id is not None and face["confidence"] >= MATCH_CONFIDENCE:
            seen.append({"shopper": face["shopper"], "confidence": face["confidence"]})
    if rows:
        Sighting.objects.bulk_create(rows)
    # Re-run the shelf events waiting at this shelf for this evidence, or for their window to
    # close (store/services/wakes.py).
    tasks.enqueue_wakes(device_pk=frame.device_id, when=frame.captured_at, evidence=bool(rows))
    # Only a face good enough to name its shopper moves their "last seen" mark.
    visit_ids = {r.visit_id for r in rows if r.visit_id and r.confidence >= MATCH_CONFIDENCE}
    if visit_ids:
        Visit.objects.filter(pk__in=visit_ids).filter(
            Q(last_seen_at__isnull=True) | Q(last_seen_at__lte=seen_at)
        ).update(last_seen_device_id=frame.device_id, last_seen_at=seen_at)
    return {
        "sightings": seen,
        "unknown_faces": sum(1 for r in rows if r.shopper_id is None),
        "faces": boxes,
    }
