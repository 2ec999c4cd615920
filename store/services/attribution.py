"""Who took it: ranking the shoppers in the store for one shelf event.

Evidence, strongest first:
1. faces seen by that shelf's camera within MINIGO["ATTRIBUTION_WINDOW_S"] of the event, on
   both sides of it (the frame is often processed after the weight change). Each shopper scores
   their best sighting, weighted by how close in time it was; their confidence is the face
   match's confidence times their share of all scores (unknown faces take a share too), so two
   shoppers seen together split it and go to review, while one seen at the moment of the pick
   and another seconds later do not.
2. the only shopper in the store (for a return: the only one holding that product).
3. where a shopper was last seen (Visit.last_seen_device): weak, never enough on its own, but
   it ranks the candidates a manager sees in the review queue.
For a return only shoppers holding the product are candidates: a return comes off the
returning shopper's cart and never takes it below zero."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, Sum

from store.models import CartEntry, Device, Product, Sighting, Visit

ONLY_SHOPPER = 0.9
LAST_SEEN = 0.6
LAST_SEEN_HORIZON_S = 60.0
UNKNOWN_FACE_WEIGHT = 0.5
UNSEEN = 0.01
# Visits are stamped by the server when the gate frame is processed, a little after the
# device's clock says the shopper walked in; a pick that soon after counts as inside.
ENTRY_SLACK_S = 5.0


@dataclass
class Candidate:
    visit: Visit
    confidence: float = 0.0
    evidence: str = "in_store"
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "visit": self.visit.pk,
            "shopper": self.visit.shopper_id,
            "name": self.visit.shopper.display_name,
            "confidence": round(self.confidence, 4),
            "evidence": self.evidence,
            **self.detail,
        }


def visits_at(*, when: datetime) -> list[Visit]:
    """Visits in the store at `when`: entered by then and not yet left (a visit closed after
    `when` still counts: the item goes on it and amends its receipt)."""
    return list(
        Visit.objects.filter(entered_at__lte=when + timedelta(seconds=ENTRY_SLACK_S))
        .filter(Q(exited_at__isnull=True) | Q(exited_at__gte=when))
        .select_related("shopper")
        .order_by("pk")
    )


def holdings(*, visits: list[Visit]) -> dict[int, dict[int, int]]:
    """{visit id: {product id: quantity in the cart}} for the given visits."""
    rows = (
        CartEntry.objects.filter(visit__in=visits)
        .values("visit_id", "product_id")
        .annotate(q=Sum("quantity"))
        .filter(q__gt=0)
    )
    out: dict[int, dict[int, int]] = {}
    for row in rows:
        out.setdefault(row["visit_id"], {})[row["product_id"]] = row["q"]
    return out


def _closeness(dt_s: float, window_s: float) -> float:
    # Sharp: the frame nearest the event (cameras send about one a second) shows who was
    # there at that moment; the next shopper at that slot a second later hardly counts.
    sigma = max(window_s / 6.0, 0.05)
    return math.exp(-0.5 * (dt_s / sigma) ** 2)


def sightings_near(*, device: Device, when: datetime) -> list[Sighting]:
    window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"])
    return list(
        Sighting.objects.filter(
            device=device, seen_at__gte=when - window, seen_at__lte=when + window
        )
    )


def rank(
    *,
    device: Device,
    when: datetime,
    visits: list[Visit],
    pool: list[Visit],
    sightings: list[Sighting],
    settled: bool = True,
    slot_x: tuple[float, float] | None = None,
) -> list[Candidate]:
    """Candidates from `pool` (the visits that could have done it), best first. `visits` are
    all the visits in the store at `when`. While the window is still open (`settled` False)
    a sighting also has to be close in time to count fully: someone else may yet show up in
    a frame that has not arrived, so an early decision needs the picker caught in the act."""
    window_s = settings.MINIGO["ATTRIBUTION_WINDOW_S"]
    pool_ids = {v.pk for v in pool}
    by_shopper = {v.shopper_id: v for v in pool}
    score: dict[int, float] = {}
    face: dict[int, float] = {}
    nearest: dict[int, float] = {}
    before: dict[int, float] = {}
    after: dict[int, float] = {}
    unknown = 0.0
    bystander = 0.0  # the strongest sighting of a shopper outside the pool
    for s in sightings:
        dt = (s.seen_at - when).total_seconds()
        # Faces in front of another slot count for little (two shoppers at one shelf).
        space = _in_front(s.x, slot_x)
        weight = s.confidence * _closeness(dt, window_s) * space
        if s.shopper_id is None:
            unknown = max(unknown, weight * UNKNOWN_FACE_WEIGHT)
            continue
        visit = by_shopper.get(s.shopper_id)
        if visit is None:
            bystander = max(bystander, weight)
            continue
        if weight > score.get(visit.pk, 0.0):
            score[visit.pk] = weight
        face[visit.pk] = max(face.get(visit.pk, 0.0), s.confidence)
        nearest[visit.pk] = min(nearest.get(visit.pk, 1e9), abs(dt))
        if space >= 0.5:
            side = before if dt < 0 else after
            side[visit.pk] = min(side.get(visit.pk, 1e9), abs(dt))
    for pk in set(before) & set(after):
        # Seen in front of the slot just before and just after the event (a frame or two
        # in between missed the face): they were there all along.
        if before[pk] + after[pk] <= window_s * 0.8:
            score[pk] = max(score[pk], face[pk])
            nearest[pk] = 0.0
    candidates = [Candidate(visit=v) for v in pool]
    # UNSEEN: the picker may be a face the camera missed; a lone weak sighting (someone
    # in front of another slot, or long before) must not take the whole share.
    total = sum(score.values()) + unknown + UNSEEN
    if score:
        for c in candidates:
            if c.visit.pk in score:
                share = score[c.visit.pk] / total
                c.confidence = face[c.visit.pk] * share
                if not settled:
                    c.confidence *= _closeness(nearest[c.visit.pk], window_s * 2.0)
                c.evidence = "camera"
                c.detail = {"share": round(share, 3), "dt_s": round(nearest[c.visit.pk], 2)}
    only = len(pool) == 1 and (len(visits) == 1 or len(pool) < len(visits))
    if only:
        # Nobody else was in the store (or, for a return, nobody else holds the product).
        c = candidates[0]
        if c.confidence < ONLY_SHOPPER:
            c.confidence = ONLY_SHOPPER if not unknown else ONLY_SHOPPER * 0.8
            c.evidence = "only_shopper" if len(visits) == 1 else "only_holder"
            if len(visits) > 1 and not settled:
                # Others are in the store: wait for the camera's whole window first (the
                # returner may be someone whose item was given to another by mistake).
                c.confidence = min(c.confidence, LAST_SEEN)
            elif bystander > 0.3 and score.get(c.visit.pk, 0.0) < 0.3:
                # The camera shows someone else putting it back and not the only holder:
                # the holder's item may have been someone else's all along. A person decides.
                c.confidence = LAST_SEEN
    if not score and not only:
        _rank_by_last_seen(candidates, device=device, when=when)
    candidates.sort(key=lambda c: (-c.confidence, c.visit.pk))
    assert all(c.visit.pk in pool_ids for c in candidates)
    return candidates


def slot_position(*, slot_codes: list[str], code: str) -> tuple[float, float]:
    """Where a slot sits across its shelf camera's view, and its width. The camera faces the
    shelf and slots run left to right in code order (A1, A2, …), so no calibration is needed;
    each slot takes 1/n of the view."""
    codes = sorted(slot_codes)
    n = max(1, len(codes))
    i = codes.index(code) if code in codes else 0
    return (i + 0.5) / n, 1.0 / n


def _in_front(x: float | None, slot_x: tuple[float, float] | None) -> float:
    """≈1 for a face in front of the slot (its share of the view), ≈0 in front of the next
    slot; 1 when the position is unknown."""
    if x is None or slot_x is None:
        return 1.0
    centre, width = slot_x
    return 1.0 / (1.0 + math.exp((abs(x - centre) - 0.5 * width) / (0.06 * width)))


def _rank_by_last_seen(candidates: list[Candidate], *, device: Device, when: datetime) -> None:
    weights = {}
    for c in candidates:
        seen_at = c.visit.last_seen_at
        if c.visit.last_seen_device_id != device.pk or seen_at is None:
            continue
        age = (when - seen_at).total_seconds()
        if -settings.MINIGO["ATTRIBUTION_WINDOW_S"] <= age <= LAST_SEEN_HORIZON_S:
            weights[c.visit.pk] = math.exp(-max(age, 0.0) / 30.0)
    total = sum(weights.values())
    for c in candidates:
        if c.visit.pk in weights:
            c.confidence = LAST_SEEN * weights[c.visit.pk] * weights[c.visit.pk] / total
            c.evidence = "last_seen"


def product_holders(
    *, visits: list[Visit], held: dict[int, dict[int, int]], product: Product, quantity: int
) -> list[Visit]:
    return [v for v in visits if held.get(v.pk, {}).get(product.pk, 0) >= quantity]
