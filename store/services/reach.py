"""Calibrated reach bands: where across a shelf camera's view the face of someone taking from a
slot appears (Slot.reach, drawn by the manager on the camera's latest frame). How plausibly a
face at some position stands at a slot, shared with the camera's other calibrated slots, and
the weight changes at those other slots around a shelf event (a person's own pick next door
explains why they stood on a band's border)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings

from store.models import ShelfEvent, Slot

# How sharply a calibrated reach band's edges tell faces apart (fractions of the view): at most
# about the jitter of a face's measured position between frames on a steady camera; and the
# faint tail beyond them.
REACH_EDGE_S = 0.012
REACH_TAIL_S = 0.06
# The most in_front's faint tail gives a face outside a band.
TAIL_FIT = 0.1
# A face whose fit to a band is at least this is plainly in front of that slot.
PLAINLY = 0.9
# A band drawn to within this of the picture's left or right edge reaches it: nobody stands in
# that sliver but at that slot, and a face there, cut off by the picture's edge, is measured
# at the edge however far beyond the band its owner stands.
PICTURE_MARGIN = 0.06
# A gap the manager left between two bands narrower than this (about half a face) holds nobody
# at no slot: a face in it is someone at one of the two, reaching into the nearer one as far as
# the camera can tell which that is.
NARROW_GAP = 0.05


def plainly(fit: float) -> float:
    """How plainly a face with this fit to a band stands in front of it: 0 on its border
    (half at each of two slots), 1 well inside."""
    return max(0.0, (fit - 0.5) / (PLAINLY - 0.5)) if fit < PLAINLY else 1.0


def at_slot(
    x: float | None,
    reach: tuple[float, float] | None,
    others: Sequence[tuple[tuple[float, float], float]],
    *,
    edge: float = REACH_EDGE_S,
) -> float:
    """How plausibly a face at `x` is someone at this slot rather than at another calibrated
    slot of the same camera: its fit to this band, shared with the other bands it fits.
    `others`: (band, how free that slot is: 0 when someone else plainly stands there); `edge`:
    as in in_front."""
    here = in_front(x, reach, edge=edge)
    if x is None or reach is None or not others:
        return here
    fits = [(in_front(x, band, edge=edge), free) for band, free in others]
    # On the border of two bands a face is half at each (all of it here when someone else
    # stands at the other); outside every band, only its own fit. A face well inside another
    # band where someone else stands is a second person there, not someone at this slot: the
    # share moves only to a face near enough to this band (its fit at least the faint tail's).
    outside = max(0.0, 1.0 - here - sum(f for f, _ in fits))
    if in_narrow_gap(x, [reach, *(band for band, _ in others)]):
        outside = 0.0
    shared = here / (here + sum(f * free for f, free in fits) + outside)
    return min(shared, here / TAIL_FIT)


def in_front(
    x: float | None, reach: tuple[float, float] | None, *, edge: float = REACH_EDGE_S
) -> float:
    """How plausibly a face at `x` belongs to someone reaching into a slot with this reach band:
    ≈1 well inside it, 0.5 on its edge, falling off over about `edge` outside it (how far off a
    face's measured position may be: REACH_EDGE_S, or more on a camera whose faces jitter more,
    see store/services/pace.py), then a faint tail over REACH_TAIL_S (a band
    drawn a little narrow still names a lone picker, never one standing before another slot).
    A band drawn to within PICTURE_MARGIN of the picture's edge reaches past it.
    1 when the slot is uncalibrated or the face's position unknown: position then says
    nothing."""
    if x is None or reach is None:
        return 1.0
    lo, hi = reach
    if lo <= PICTURE_MARGIN:
        lo = -math.inf
    if hi >= 1.0 - PICTURE_MARGIN:
        hi = math.inf
    fit = _phi((x - lo) / edge) * _phi((hi - x) / edge)
    outside = max(lo - x, x - hi, 0.0)
    return max(fit, TAIL_FIT * math.exp(-0.5 * (outside / REACH_TAIL_S) ** 2) if outside else 0.0)


def nearer_border(x: float | None, reach: tuple[float, float] | None) -> float | None:
    """The border of the band nearer a face measured inside it; None for a face outside it
    (or with no position), and never a border drawn to the picture's edge (which reaches
    past it: nobody stands beyond)."""
    if x is None or reach is None or not reach[0] <= x <= reach[1]:
        return None
    lo, hi = reach
    borders = [b for b, real in ((lo, lo > PICTURE_MARGIN), (hi, hi < 1 - PICTURE_MARGIN)) if real]
    return min(borders, key=lambda b: abs(x - b), default=None)


def in_narrow_gap(x: float | None, bands: Sequence[tuple[float, float]]) -> bool:
    """Whether a face at `x` is inside none of `bands` but between two of them less than
    NARROW_GAP apart."""
    if x is None or any(lo <= x <= hi for lo, hi in bands):
        return False
    left = max((hi for _lo, hi in bands if hi < x), default=-math.inf)
    right = min((lo for lo, _hi in bands if lo > x), default=math.inf)
    return right - left < NARROW_GAP


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def next_door_changes(*, event: ShelfEvent, slot: Slot, shelf_slots: list[Slot]) -> list:
    """(seconds from the event, reach band) of the weight changes of about an item or more at
    the other calibrated slots under this camera, from two windows before the event (whoever
    made them may still stand there) to one window after it (a settled decision has them all).
    What they moved is read off the raw change, not off how they were decided: the answer
    does not depend on which event a worker got to first."""
    window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"])
    bands = {
        s.code: (s.reach, s.product.unit_weight_g)
        for s in shelf_slots
        if s.pk != slot.pk and s.reach is not None and s.product is not None
    }
    rows = ShelfEvent.objects.filter(
        device=event.device,
        slot_code__in=list(bands),
        occurred_at__gte=event.occurred_at - 2 * window,
        occurred_at__lte=event.occurred_at + window,
    ).values_list("slot_code", "occurred_at", "before", "after")
    return [
        ((at - event.occurred_at).total_seconds(), bands[code][0])
        for code, at, before, after in rows
        if abs(after - before) >= 0.5 * bands[code][1]
    ]
