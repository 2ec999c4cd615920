"""Vision on shelf frames: which in-store shoppers the shelf camera sees (attribution evidence).

`shelf_frame_analyse` runs outside any transaction (slow, no side effects); `shelf_frame_apply`
runs under the frame's row lock and writes one Sighting per face, moves each seen shopper's
"last seen" mark, and wakes the shelf events at that shelf that are waiting for exactly this
evidence (frames and weight events race: the frame that shows the face is often processed after
the weight change it explains)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from store.models import (
    EventStatus,
    Frame,
    ShelfEvent,
    Sighting,
    Visit,
)
from store.services.attribution import ENTRY_SLACK_S
from vision.faces import MATCH_CONFIDENCE


def faces_identify(*, rgb: np.ndarray, shopper_ids: list[int]) -> list[dict[str, Any]]:
    """Faces in `rgb` matched against the given shoppers only. The one seam to face
    identification (`store.services.faces.face_identify`); tests patch it."""
    from store.services.faces import face_identify

    out = []
    width = rgb.shape[1]
    for match in face_identify(rgb=rgb, shopper_ids=shopper_ids):
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
            }
        )
    return out


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
    return {"source": "face", "faces": faces_identify(rgb=rgb, shopper_ids=shopper_ids)}


def _faces_from_sees(seen: list[Any]) -> list[dict[str, Any]]:
    """`seen`: shopper ids, or {"id": ..., "x": 0..1, "confidence": 0..1}: where the face was
    across the view and how sure its match was (vision.faces.MATCH_CONFIDENCE's scale; a clear
    match when absent)."""
    from store.services.sees import sees_name, sees_shoppers

    found, _ = sees_shoppers(names=[sees_name(item) for item in seen])
    faces = []
    for item in seen:
        shopper = found.get(sees_name(item))
        x = item.get("x") if isinstance(item, dict) else None
        confidence = item.get("confidence", 1.0) if isinstance(item, dict) else 1.0
        if not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
            confidence = 1.0
        faces.append(
            {
                "shopper": shopper.pk if shopper else None,
                "confidence": float(confidence) if shopper else 1.0,
                "distance": None,
                "x": float(x) if isinstance(x, int | float) and 0 <= x <= 1 else None,
            }
        )
    return faces


def shelf_frame_apply(*, frame: Frame, analysis: dict[str, Any]) -> dict[str, Any]:
    if not analysis:
        return {}
    if analysis["source"] == "sees":
        faces = _faces_from_sees(analysis["names"])
    else:
        faces = analysis["faces"]
    seen_at = frame.captured_at
    open_visits = {
        v.shopper_id: v
        for v in _visits_at(seen_at)
        .filter(shopper_id__in=[f["shopper"] for f in faces if f["shopper"]])
        .order_by("entered_at")
    }
    rows, seen = [], []
    for face in faces:
        visit = open_visits.get(face["shopper"]) if face["shopper"] else None
        if face["shopper"] and visit is None:
            continue  # matched someone who is not in the store (any more): no evidence
        rows.append(
            Sighting(
                device=frame.device,
                frame=frame,
                shopper_id=visit.shopper_id if visit else None,
                visit=visit,
                seen_at=seen_at,
                confidence=face["confidence"],
                distance=face["distance"],
                x=face.get("x"),
                source=analysis["source"],
            )
        )
        if visit is not None and face["confidence"] >= MATCH_CONFIDENCE:
            seen.append({"shopper": visit.shopper_id, "confidence": face["confidence"]})
            if visit.last_seen_at is None or visit.last_seen_at <= seen_at:
                Visit.objects.filter(pk=visit.pk).update(
                    last_seen_device=frame.device, last_seen_at=seen_at
                )
    Sighting.objects.bulk_create(rows)
    woken = _wake_waiting_events(frame=frame) if rows else 0
    return {
        "sightings": seen,
        "unknown_faces": sum(1 for r in rows if r.shopper_id is None),
        "woke_events": woken,
    }


def _wake_waiting_events(*, frame: Frame) -> int:
    """Re-run the shelf events at this shelf, inside this frame's window, that are still
    pending (waiting for sightings, or not processed yet): the new evidence may decide them."""
    window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"])
    ids = list(
        ShelfEvent.objects.filter(
            device=frame.device,
            status=EventStatus.PENDING,
            occurred_at__gte=frame.captured_at - window,
            occurred_at__lte=frame.captured_at + window,
        ).values_list("pk", flat=True)
    )
    if ids:
        from store.tasks import process_shelf_event

        for pk in _not_woken_lately(ids):
            transaction.on_commit(lambda pk=pk: process_shelf_event.delay(pk))
    return len(ids)


WAKE_COALESCE_S = 1


def _not_woken_lately(ids: list[int]) -> list[int]:
    """With real workers, at most one wake per event per WAKE_COALESCE_S: a camera sends a
    frame every half second, and under a backlog every frame re-queued every pending event
    of its shelf (the load run saw the queue grow faster than workers could drain it).
    Skipping a wake loses nothing: a wake queued within the last second has not run yet or
    ran moments ago, and the event's own task or its final decision (queued when it started
    waiting) still runs after this frame's sightings are committed."""
    from django.core.cache import cache

    from minigo.celery import app

    if app.conf.task_always_eager:
        return ids
    return [pk for pk in ids if cache.add(f"wake-shelf-event:{pk}", 1, WAKE_COALESCE_S)]
