"""Who took it: ranking the shoppers in the store for one shelf event.

Evidence, strongest first:
1. faces seen by that shelf's camera within MINIGO["ATTRIBUTION_WINDOW_S"] of the event, on
   both sides of it (the frame is often processed after the weight change), followed across
   frames as tracks (store/services/tracks.py). A face names a shopper when its confidence
   reaches MATCH_CONFIDENCE, the same bar that opens a visit at the gate (doubtful faces count
   as unknown; faces that matched nobody count against a name near the bar on their track).
   Each shopper scores their best track, weighted by how close in time it came and, for a slot
   with a calibrated reach band, by whether the face was inside that band; their confidence is
   their share of all scores (unknown faces take a share too), so two plausible shoppers
   split it and go to review, while one seen at the moment of the pick and another seconds
   later (or, on a calibrated slot, in front of another slot) do not. A shopper seen in front
   of the slot shortly before and after the event, nobody else plainly there in between, was
   there all along (a face seen there once, its person elsewhere in the view a moment before
   or after, was walking past and stands in nobody's place); a face on a band's border loses
   to one plainly in front (as far as it may stand at a neighbouring slot: beside a band with
   no band next to it, or in a narrow gap between two, the two share), and is charged only
   once the whole window is in. A face on the border of two bands stands at this slot when
   someone else plainly stands at the other; it names nobody for sure when its person was seen
   while the other slot's weight changed too (they did that, maybe this as well, and someone
   unseen may have done this).
2. the only shopper in the store (for a return: the only one holding that product; another
   light product put down on a slot of heavier items, or anything put down on a slot whose
   pick moments ago nobody could name, also needs its holder seen there).
3. where a shopper was last seen (Visit.last_seen_device): weak, never enough on its own, but
   it ranks the candidates a manager sees in the review queue.
For a return only shoppers holding the product are candidates: a return comes off the
returning shopper's cart and never takes it below zero."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q

from store.models import Device, Sighting, Visit
from store.services.pace import DEFAULT_FRAME_S, TRACK_GAP_FRAMES, Pace, in_window, pace_of
from store.services.reach import (
    PLAINLY,
    at_slot,
    in_front,
    in_narrow_gap,
    nearer_border,
    plainly,
)
from store.services.tracks import (
    CLEAR_MATCH_MARGIN,
    Track,
    face_tracks,
    seen_elsewhere,
    walking_past,
)
from vision.faces import MATCH_CONFIDENCE

ONLY_SHOPPER = 0.9
LAST_SEEN = 0.6
LAST_SEEN_HORIZON_S = 60.0
UNKNOWN_FACE_WEIGHT = 0.5
UNKNOWN_FACE_FRAMES = 3
# The share kept for a picker the camera did not see (faces are missed: turned away, hidden
# behind an arm): a face that fits the event only weakly (seen long before, or in front of
# another slot) must not take the pick for being the only face around.
UNSEEN = 0.05
# A face on the border of two bands loses to one plainly in front of the slot at the same
# moment: its fit to the slot counts to this power (people do not stand in one another's
# place), as far as that other face is plainly there (one jittery reading may not be).
RIVAL_POWER = 8
# What a face counts for, as a picker and as someone in another's place, when its person was
# walking past: seen once there, and elsewhere in the view a moment before or after. Nobody
# reaches into a shelf while walking by; they may have stopped between two frames.
WALKING_PAST = 0.1
# Seen in front of the slot before and after the event, at most this many windows apart with
# nobody else there in between: there all along (faces are missed for a few frames running).
ALL_ALONG_SPAN = 1.2
# A face that fits a neighbouring slot's band at least this well may stand at that slot: if
# its weight changed while that person was seen there, they may have done that and not this
# (see _busy_next_door).
NEXT_DOOR_FIT = 0.3
# Someone else seen within this long of that neighbouring change stood there at it (however
# slow the camera: the longer ago, the less it says about who made that change).
NEXT_DOOR_MOMENT_S = TRACK_GAP_FRAMES * DEFAULT_FRAME_S
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


def rank(
    *,
    device: Device,
    when: datetime,
    visits: list[Visit],
    pool: list[Visit],
    sightings: list[Sighting],
    settled: bool = True,
    reach: tuple[float, float] | None = None,
    others: Sequence[tuple[float, float]] = (),
    unseen_holder: bool = False,
    seen_needed: bool = False,
    next_door: Callable[[], Sequence[tuple[float, tuple[float, float]]]] = tuple,
    pace: Pace | None = None,
    covered_s: float,
) -> list[Candidate]:
    """Candidates from `pool` (the visits that could have done it), best first. `visits` are
    all the visits in the store at `when`. `reach` is the slot's calibrated reach band in its
    camera's view (`others`: the bands of the other calibrated slots under that camera);
    without one a face's position says nothing. While the window is still open
    (`settled` False) a face also has to be close in time to count fully: someone else may yet
    show up in a frame that has not arrived, so an early decision needs the picker caught in
    the act, plainly in front of the slot, by a camera measured to be steady. `next_door()`:
    (seconds from `when`, reach band) of the weight changes at the camera's other calibrated
    slots around the event, read only if a border face needs it.
    `sightings`: the camera's faces around the event (store/services/pace.py sightings_near):
    those of the window rank the shoppers; those from before it too say who stood at a
    neighbouring slot when its weight changed, which may be before the window opened.
    `pace`: the camera's pace and steadiness (store/services/pace.py; else measured from
    `sightings`). `covered_s`: how far on both sides of the event the camera's faces are in so
    far (pace.covered_s), for a decision before the window closes."""
    window_s = settings.MINIGO["ATTRIBUTION_WINDOW_S"]
    pool_ids = {v.pk for v in pool}
    by_shopper = {v.shopper_id: v for v in pool}
    score: dict[int, float] = {}
    track_of: dict[int, int] = {}  # each visit's best track
    unknown = 0.0
    bystander = 0.0  # the strongest track of a shopper outside the pool
    pace = pace or pace_of(sightings, (), window_s=window_s)
    # A name near the bar for someone seen clearly elsewhere at that moment (another shelf,
    # another face in the same frame) is someone else's face.
    window_faces = in_window(sightings, when=when)
    elsewhere = seen_elsewhere(window_faces, device_id=device.pk)
    tracks = face_tracks(window_faces, when=when, window_s=window_s, pace=pace, elsewhere=elsewhere)
    # Followed only if a border face needs them (most decisions do not).
    wide = functools.cache(
        lambda: face_tracks(
            sightings,
            when=when,
            window_s=window_s,
            pace=pace,
            elsewhere=seen_elsewhere(sightings, device_id=device.pk),
        )
    )
    # Someone reaching in stands there for seconds; an unknown face in one or two frames is
    # a passer-by glimpsed (or the detector's false alarm): it counts that much less, also
    # as someone standing in another's place. A named face is a person however briefly seen,
    # but one seen once where they were not a moment before or after was walking past (known
    # once the whole window is in: the next frames may show them staying).
    seen_for = [_seen_for(t) for t in tracks]
    for i in walking_past(tracks, pace=pace) if settled else ():
        seen_for[i] = WALKING_PAST
    timing = [_timing(t, when=when, window_s=window_s, pace=pace) for t in tracks]
    for i in _there_all_along(
        tracks, seen_for, when=when, window_s=window_s, reach=reach, pace=pace
    ):
        timing[i] = (1.0, 0.0)
    positions = [_position(t, when=when, window_s=window_s) for t in tracks]
    xs = [x for x, _n in positions]
    # How far off each track's position may be: the camera's jitter, less for a face seen in
    # more frames.
    edges = [pace.edge(n) for _x, n in positions]

    def someone_else(i: int, j: int) -> bool:
        # A person's face split into two tracks (missed frames, a jumpy position) is still one
        # person: never in their own way.
        return j != i and (tracks[i].shopper is None or tracks[j].shopper != tracks[i].shopper)

    def taken(band: tuple[float, float], i: int) -> float:
        """How plainly someone other than track i stands in front of `band` at the moment."""
        return max(
            (
                plainly(in_front(xs[j], band, edge=edges[j])) * timing[j][0] * seen_for[j]
                for j in range(len(tracks))
                if someone_else(i, j) and xs[j] is not None
            ),
            default=0.0,
        )

    # A face on the border of this band and another stands here when someone else plainly
    # stands in front of that other slot: people do not stand in one another's place.
    place = [
        at_slot(xs[i], reach, [(band, 1.0 - taken(band, i)) for band in others], edge=edges[i])
        for i in range(len(tracks))
    ]
    for i, track in enumerate(tracks):
        when_w, space = timing[i][0], place[i]
        # People do not stand in one another's place: a face on the border between two bands
        # loses to one plainly in front of the slot at the same moment (and two plainly in
        # front of it both keep their weight, and share). `rival` is how sure that is: where
        # it may be wrong (a face placed by one jittery reading), the border face keeps that
        # much of its own weight rather than losing it all to the exponent.
        rival = max(
            (
                plainly(place[j]) * timing[j][0] * seen_for[j]
                for j in range(len(tracks))
                if someone_else(i, j)
            ),
            default=0.0,
        )
        # ... and, for a face measured inside this band, as far as someone at another slot
        # could be measured at the band's border nearer it: where another band adjoins that
        # border, or the gap to it is within the camera's jitter, fully; where none does (the
        # shelf's end, a wider gap) it is someone at this slot too, side by side: they share.
        side = nearer_border(xs[i], reach)
        if side is not None:
            beside = max((in_front(side, band, edge=edges[i]) for band in others), default=0.0)
            rival *= min(1.0, 4.0 * beside)
        elif reach is not None and in_narrow_gap(xs[i], [reach, *others]):
            # A face in a narrow gap beside this band stands in nobody's place: its fit already
            # says how likely it is at this slot rather than the other, and there it may reach
            # in past whoever stands plainly in front (a companion). They share.
            rival = 0.0
        weight = when_w * space * ((1.0 - rival) + rival * space**RIVAL_POWER) * track.strength
        if track.shopper is not None:
            weight *= seen_for[i]
        shopper = track.shopper
        if shopper is None:
            unknown = max(unknown, weight * UNKNOWN_FACE_WEIGHT * seen_for[i])
            continue
        visit = by_shopper.get(shopper)
        if visit is None:
            bystander = max(bystander, weight)
            continue
        if weight > score.get(visit.pk, 0.0):
            score[visit.pk] = weight
            track_of[visit.pk] = i
    candidates = [Candidate(visit=v) for v in pool]
    # UNSEEN: the picker may be a face the camera missed; a lone weak sighting (someone
    # in front of another slot, or long before) must not take the whole share.
    total = sum(score.values()) + unknown + UNSEEN
    if seen_needed and bystander >= max(score.values(), default=0.0):
        # Something else explains this change as well (see below): someone who holds none of
        # the product but stands at the slot more plainly than any holder (maybe the picker
        # nobody could name, bringing it back) weighs against the holder too.
        total += bystander
    if score:
        for c in candidates:
            if c.visit.pk in score:
                i = track_of[c.visit.pk]
                near = timing[i][1]
                share = score[c.visit.pk] / total
                c.confidence = tracks[i].strength * share
                if not settled:
                    c.confidence *= pace.closeness(near, window_s * 2.0)
                    c.confidence *= _clearness(tracks[i].best)
                    # Deciding before the window closes needs the picker plainly in front of
                    # the slot: a face on the band's border may be someone beside it. The few
                    # frames in so far show that only on a camera measured to be steady; on a
                    # rougher one (or one not yet measured) a few readings of a face stray
                    # into the next slot's band, and the whole window decides. Where position
                    # says nothing (an uncalibrated slot, a face with no position), only time
                    # does: the faces of the moment on both sides of the event have to be in,
                    # since the picker may turn to the camera a frame after someone else was
                    # seen, and two faces at the moment are a person's call.
                    if reach is not None and xs[i] is not None:
                        c.confidence *= plainly(place[i]) if pace.steady else 0.0
                    elif covered_s < pace.moment_s(window_s):
                        c.confidence = 0.0
                c.evidence = "camera"
                c.detail = {"share": round(share, 3), "dt_s": round(near, 2)}
                if _busy_next_door(
                    tracks[i],
                    wide,
                    xs[i],
                    edge=edges[i],
                    when=when,
                    reach=reach,
                    next_door=next_door,
                    pace=pace,
                ):
                    # Two weight changes at two neighbouring slots, one person seen between
                    # them: they did one of them or both, and someone unseen the other. A
                    # person decides.
                    c.confidence = min(c.confidence, LAST_SEEN)
                    c.detail["next_door"] = True
    # `unseen_holder`: someone nobody could name holds the product too (a pick in review).
    # Alone in the store only by the gates' record, and only while that record shows no gap:
    # a lone visit that a shelf camera opened is someone the gates never saw come in (walking
    # in behind another, or through a gate whose agent is offline and sends its frames
    # later), so others may be inside unrecorded too.
    alone = len(visits) == 1 and visits[0].entry_method != "shelf"
    only = len(pool) == 1 and (alone or len(pool) < len(visits)) and not unseen_holder
    if only:
        # Nobody else was in the store (or, for a return, nobody else holds the product).
        c = candidates[0]
        camera = (c.confidence, c.evidence)
        held = score.get(c.visit.pk, 0.0)
        if c.confidence < ONLY_SHOPPER:
            # An unknown face seen standing there (not one glimpsed in a frame or two) may be
            # someone nobody could name doing it.
            c.confidence = ONLY_SHOPPER * (1.0 - 0.2 * min(1.0, unknown / UNKNOWN_FACE_WEIGHT))
            c.evidence = "only_shopper" if len(visits) == 1 else "only_holder"
            if len(visits) > 1 and not settled:
                # Others are in the store: wait for the camera's whole window first (the
                # returner may be someone whose item was given to another by mistake).
                c.confidence = min(c.confidence, LAST_SEEN)
            elif seen_needed and len(visits) > 1 and held < max(0.3, bystander):
                # `seen_needed`: another product put down here that something else explains
                # as well (a knock, a slip of the slot's own items, or the return of the
                # one someone unseen took moments ago): holding one is not enough, the holder
                # has to be the one seen at the slot, more plainly than anyone else there.
                # A person decides.
                c.confidence = LAST_SEEN
            elif bystander > 0.3 and held < 0.3:
                # The camera shows someone else putting it back and not the only holder:
                # the holder's item may have been someone else's all along. A person decides.
                c.confidence = LAST_SEEN
            if camera[0] > c.confidence:
                # Being the only one adds to what the camera shows, never takes from it.
                c.confidence, c.evidence = camera
    if not score and not only:
        _rank_by_last_seen(candidates, device=device, when=when)
    candidates.sort(key=lambda c: (-c.confidence, c.visit.pk))
    assert all(c.visit.pk in pool_ids for c in candidates)
    return candidates


def _clearness(best: float) -> float:
    """0 for a name just at MATCH_CONFIDENCE, 1 from CLEAR_MATCH_MARGIN over it."""
    return max(0.0, min(1.0, (best - MATCH_CONFIDENCE) / CLEAR_MATCH_MARGIN))


def _seen_for(track: Track) -> float:
    """1 for a named face; for an unknown one, how long it was seen, up to a few frames."""
    if track.shopper is not None:
        return 1.0
    return min(1.0, len(track.points) / UNKNOWN_FACE_FRAMES)


def _timing(track: Track, *, when: datetime, window_s: float, pace: Pace) -> tuple[float, float]:
    """(how well the track's timing fits the event, 0..1; seconds from the event to its
    nearest face that named its shopper). A face nobody could name continues the track by its
    place (the same person, most likely), but only a named one shows who was there at the
    moment: an early decision needs that."""
    weight = 0.0
    for seen_at, _x in track.points:
        weight = max(weight, pace.closeness((seen_at - when).total_seconds(), window_s))
    named = [at for at, who in track.names if who == track.shopper]
    near = min(abs((at - when).total_seconds()) for at in named or [at for at, _ in track.points])
    return weight, near


def _there_all_along(
    tracks: list[Track],
    seen_for: list[float],
    *,
    when: datetime,
    window_s: float,
    reach: tuple[float, float] | None,
    pace: Pace,
) -> set[int]:
    """Indices of the tracks of a shopper seen in front of the slot shortly before and shortly
    after the event, with nobody else seen in front of it in between: that shopper stood
    there the whole time, even when the frames at the moment missed their face (a face on
    the band's border meanwhile is someone beside them, not in their place). One person's
    identity joins the tracks a longer run of missed frames split (a face is followed across
    frames only while they come close together)."""
    # An unknown face is followed only along its own track.
    who = [t.shopper if t.shopper is not None else -1 - i for i, t in enumerate(tracks)]
    spans: dict[int, list[float]] = {}  # person: [latest before, earliest after] (seconds)
    there: set[int] = set()  # the tracks with a face in front of the slot
    for i, (person, track) in enumerate(zip(who, tracks)):
        span = spans.setdefault(person, [-1e9, 1e9])
        for seen_at, x in track.points:
            if in_front(x, reach, edge=pace.edge()) < 0.5:
                continue
            there.add(i)
            dt = (seen_at - when).total_seconds()
            if dt < 0:
                span[0] = max(span[0], dt)
            else:
                span[1] = min(span[1], dt)
    out: set[int] = set()
    for person, (before, after) in spans.items():
        if after - before > window_s * ALL_ALONG_SPAN:
            continue
        # A glimpse (an unknown face in a frame or two, someone walking past) is nobody
        # standing in their place.
        between = (
            before < (seen_at - when).total_seconds() < after
            and in_front(x, reach, edge=pace.edge()) >= PLAINLY
            for other, track, glimpse in zip(who, tracks, seen_for)
            if other != person and glimpse >= 1.0
            for seen_at, x in track.points
        )
        if not any(between):
            # Their tracks in front of the slot: the same person seen elsewhere in the view
            # (walking up, or at another slot before) was not standing here then.
            out |= {i for i, p in enumerate(who) if p == person and i in there}
    return out


def _busy_next_door(
    track: Track,
    around: Callable[[], list[Track]],
    x: float | None,
    *,
    edge: float,
    when: datetime,
    reach: tuple[float, float] | None,
    next_door: Callable[[], Sequence[tuple[float, tuple[float, float]]]],
    pace: Pace,
) -> bool:
    """Whether `track`'s face (at `x` around the event, off by up to `edge`), not plainly in
    front of this slot, may stand in front of a neighbouring slot whose weight changed while
    that person was seen there, with nobody else more plainly in front of that slot then (in
    `around()`, the camera's faces from before the window too: that change may be older than
    it; the same person's other tracks are not somebody else): their own pick or put-back
    next door explains why they stood there."""
    here = in_front(x, reach, edge=edge)
    if x is None or reach is None or here >= PLAINLY:
        return False
    first = (track.points[0][0] - when).total_seconds()
    last = (track.points[-1][0] - when).total_seconds()
    for dt, band in next_door():
        there = in_front(x, band, edge=edge)
        if there < NEXT_DOOR_FIT:
            continue
        if not first - pace.track_gap_s <= dt <= last + pace.track_gap_s:
            continue  # that change came before they stood there, or after they left
        moment = when + timedelta(seconds=dt)
        someone_else = any(
            in_front(px, band, edge=pace.edge()) > max(there, 0.5)
            and abs((seen_at - moment).total_seconds()) <= NEXT_DOOR_MOMENT_S
            for other in around()
            if other.shopper != track.shopper and _seen_for(other) >= 1.0
            for seen_at, px in other.points
        )
        if not someone_else:
            return True
    return False


def _position(track: Track, *, when: datetime, window_s: float) -> tuple[float | None, int]:
    """Where the track's face was around the event: the median of its positions within the
    window (one jittery frame does not move it), and how many positions that is."""
    xs = sorted(
        x
        for seen_at, x in track.points
        if x is not None and abs((seen_at - when).total_seconds()) <= window_s
    )
    if not xs:
        return None, 0
    mid = len(xs) // 2
    return (xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2), len(xs)


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
