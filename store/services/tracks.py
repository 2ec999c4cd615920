"""Faces followed across a shelf camera's frames (tracks): the same person turning their head,
half hidden a moment, or once confused with someone else, and whom each track names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from store.models import Sighting
from store.services.pace import TRACK_DX, Pace
from vision.faces import MATCH_CONFIDENCE

# A name this far over MATCH_CONFIDENCE is a clear match; nearer the bar, an early decision
# (before the camera's window closed) waits for more frames. A clear match at a shelf also
# opens a visit for a shopper whom no gate saw come in (store/services/sightings.py).
CLEAR_MATCH_MARGIN = 0.3
CLEAR_MATCH = MATCH_CONFIDENCE + CLEAR_MATCH_MARGIN
# The least a face's vote on a track's identity counts (a name at MATCH_CONFIDENCE).
MIN_VOTE = 0.02**2
# What a face that matched nobody counts against a track's names: as much as a name this far
# over MATCH_CONFIDENCE counts for one. A few such faces outweigh a name the recognizer gave
# once near the bar (a stranger, or a shopper without face consent, taken for someone); they
# never outweigh a clear match.
NOBODY_MARGIN = 0.1
# Nobody is at two shelves at once: walking from one camera's view into another's takes
# longer than this (and two cameras' clocks agree far better).
ELSEWHERE_S = 1.0


@dataclass
class Track:
    """One face followed across consecutive frames (same place in the view, no long gap): the
    same person turning their head, half hidden a moment, or once confused with someone else.
    Its identity is the shopper its accepted faces name most, unless its faces that matched
    nobody outweigh that name (someone nobody enrolled, or without face consent, taken once
    for a shopper near the bar); `strength` is that shopper's share of the names (1 when every
    named frame agrees)."""

    points: list[tuple[datetime, float | None]] = field(default_factory=list)
    # When each accepted name was seen, and whose it was.
    names: list[tuple[datetime, int]] = field(default_factory=list)
    votes: dict[int, float] = field(default_factory=dict)
    # The votes of its faces that matched nobody.
    nobody: float = 0.0
    confidences: dict[int, float] = field(default_factory=dict)

    @property
    def best(self) -> float:
        """The clearest match of the shopper its faces name most."""
        return self.confidences.get(self.named, 0.0) if self.votes else 0.0

    @property
    def named(self) -> int | None:
        """The shopper its accepted faces name most (None: none named anyone)."""
        return max(self.votes, key=lambda k: (self.votes[k], -k)) if self.votes else None

    @property
    def shopper(self) -> int | None:
        named = self.named
        return named if named is not None and self.votes[named] > self.nobody else None

    @property
    def strength(self) -> float:
        if self.shopper is None:
            return 1.0
        return self.votes[self.shopper] / sum(self.votes.values())


def face_tracks(
    sightings: list[Sighting],
    *,
    when: datetime,
    window_s: float,
    pace: Pace,
    elsewhere: frozenset[int] = frozenset(),
) -> list[Track]:
    """Faces followed across frames. A named face's vote counts by its confidence and by how
    close to the event it was seen: the one who stood there at that moment decides the
    track's identity, not someone who stood at the same place seconds before. `elsewhere`:
    id() of the faces whose name is of someone seen clearly elsewhere at that moment
    (seen_elsewhere): a recognizable face, followed by its place as a named one is, that
    votes for nobody."""
    tracks: list[Track] = []
    ordered = sorted(sightings, key=lambda s: (s.seen_at, s.pk or 0))
    misnamed = _misnamed(ordered, pace=pace)
    for s in ordered:
        named = s.shopper_id if s.shopper_id and s.confidence >= MATCH_CONFIDENCE else None
        # Someone's face, taken for a person who was elsewhere at that moment: its name votes
        # for nobody, but it is followed by its place as a recognized face is.
        confused = id(s) in elsewhere and id(s) not in misnamed
        if confused:
            named = None
        # The shopper whose name flickered on this face: it continues their track, and says
        # they were there then, but its name is no vote for anyone.
        person = misnamed.get(id(s))
        if person is not None:
            named = None
        best = None
        for t in tracks:
            if person is not None and t.named != person:
                continue
            last_at, last_x = t.points[-1]
            gap = (s.seen_at - last_at).total_seconds()
            if not 0 < gap <= pace.track_gap_s:
                continue  # one face per person per frame
            if named is None and not confused and t.named is not None and gap > pace.unnamed_gap_s:
                continue  # followed by its place alone: after a longer gap, anybody's
            if named is not None and t.named not in (None, named):
                if min(s.confidence, t.best) >= CLEAR_MATCH:
                    continue  # two clear faces of two people: the next one stepped in
            if s.x is None or last_x is None:
                # No position to follow: only a face naming the same shopper continues it.
                if named is None or t.named != named:
                    continue
                dx = 0.0
            else:
                dx = abs(s.x - last_x)
                if dx > pace.track_dx:
                    continue
            if best is None or dx < best[0]:
                best = (dx, t)
        track = best[1] if best else Track()
        if best is None:
            tracks.append(track)
        track.points.append((s.seen_at, s.x))
        near = pace.closeness((s.seen_at - when).total_seconds(), window_s * 2.0)
        if person is not None:
            track.names.append((s.seen_at, person))
        if s.shopper_id is None:
            # A face that matched nobody counts against the track's names (NOBODY_MARGIN).
            track.nobody += NOBODY_MARGIN**2 * near
        if named is not None:
            # A name barely over the bar is weak evidence against a clear one.
            vote = max((s.confidence - MATCH_CONFIDENCE) ** 2, MIN_VOTE) * near
            track.votes[named] = track.votes.get(named, 0.0) + vote
            track.names.append((s.seen_at, named))
            track.confidences[named] = max(track.confidences.get(named, 0.0), s.confidence)
    return tracks


def seen_elsewhere(sightings: list[Sighting], *, device_id: int) -> frozenset[int]:
    """id() of the faces in `sightings` (one shelf camera's) that name someone only near the
    bar (under CLEAR_MATCH) while that same person was matched clearly, and more surely, by
    another shelf's camera within ELSEWHERE_S or as another face in the same frame: nobody
    stands at two shelves at once, nor twice in one picture, so the recognizer took someone
    else for them here. Two clear matches at two cameras are both kept (views can overlap at
    a shelf's end)."""
    doubtful = [
        s
        for s in sightings
        if s.shopper_id is not None and MATCH_CONFIDENCE <= s.confidence < CLEAR_MATCH
    ]
    if not doubtful:
        return frozenset()
    clearest: dict[tuple[datetime, int], float] = {}  # (frame, shopper): clearest match
    for s in sightings:
        if s.shopper_id is not None and s.confidence >= CLEAR_MATCH:
            key = (s.seen_at, s.shopper_id)
            clearest[key] = max(clearest.get(key, 0.0), s.confidence)
    confused = {
        id(s) for s in doubtful if clearest.get((s.seen_at, s.shopper_id), 0.0) > s.confidence
    }
    slack = timedelta(seconds=ELSEWHERE_S)
    clear: dict[int, list[tuple[datetime, float]]] = {}
    for shopper, seen_at, confidence in (
        Sighting.objects.filter(
            shopper_id__in={s.shopper_id for s in doubtful},
            confidence__gte=CLEAR_MATCH,
            seen_at__gte=min(s.seen_at for s in doubtful) - slack,
            seen_at__lte=max(s.seen_at for s in doubtful) + slack,
        )
        .exclude(device_id=device_id)
        .values_list("shopper_id", "seen_at", "confidence")
    ):
        clear.setdefault(shopper, []).append((seen_at, confidence))
    confused.update(
        id(s)
        for s in doubtful
        if any(
            abs(at - s.seen_at) <= slack and confidence > s.confidence
            for at, confidence in clear.get(s.shopper_id, ())
        )
    )
    return frozenset(confused)


def _misnamed(ordered: list[Sighting], *, pace: Pace) -> dict[int, int]:
    """Faces the recognizer named wrongly for one frame: a face naming someone at the place
    where, in the frames just before and just after it, another shopper's face stood, named
    at least as surely, while no other face is at that place in its own frame and the name it
    gives is seen in neither of those frames. Nobody steps into someone's place for one frame
    and out again with that person still there; the same person whose name flickered is far
    likelier (recognizers do that between frames). Only on a camera measured to keep a still
    face within TRACK_DX between frames: on a rougher one "the same place" reaches the person
    beside them. Returns {id() of each such face (a sighting may not be saved yet): the shopper
    it is}."""
    if not pace.x_sd_known or pace.track_dx > TRACK_DX:
        return {}
    placed = [s for s in ordered if s.x is not None]
    named_at: dict[datetime, set[int]] = {}
    frame_of: dict[datetime, list[Sighting]] = {}
    for s in ordered:
        if s.shopper_id is not None and s.confidence >= MATCH_CONFIDENCE:
            named_at.setdefault(s.seen_at, set()).add(s.shopper_id)
    for s in placed:
        frame_of.setdefault(s.seen_at, []).append(s)
    misnamed: dict[int, int] = {}
    for i, s in enumerate(placed):
        if s.shopper_id is None or s.confidence < MATCH_CONFIDENCE:
            continue
        # Walked outward from s by index: no copy of the list per face.
        before = _next_at_place(s, (placed[j] for j in range(i - 1, -1, -1)), pace=pace)
        after = _next_at_place(s, (placed[j] for j in range(i + 1, len(placed))), pace=pace)
        if before is None or after is None:
            continue
        who = before.shopper_id
        if (
            who is None
            or who == s.shopper_id
            or after.shopper_id != who
            or min(before.confidence, after.confidence) < s.confidence
            or who in named_at.get(s.seen_at, set())
            or s.shopper_id in named_at.get(before.seen_at, set())
            or s.shopper_id in named_at.get(after.seen_at, set())
        ):
            continue
        # Any other face at that place in its frame (however named, or unnamed) may be the
        # person who stood there: then this one is somebody else beside them.
        if not any(
            o is not s and min(abs(o.x - before.x), abs(o.x - after.x)) <= pace.track_dx
            for o in frame_of[s.seen_at]
        ):
            misnamed[id(s)] = who
    return misnamed


def _next_at_place(s: Sighting, others: Iterable[Sighting], *, pace: Pace) -> Sighting | None:
    """The nearest face in time among `others` (ordered away from `s`) at `s`'s place, from
    another frame within a track's gap; None if there is none."""
    for o in others:
        gap = abs((o.seen_at - s.seen_at).total_seconds())
        if gap > pace.track_gap_s:
            return None
        if gap > 0 and abs(o.x - s.x) <= pace.track_dx:
            return o
    return None


def walking_past(tracks: list[Track], *, pace: Pace) -> set[int]:
    """Indices of the named tracks of one frame whose shopper the camera saw at another place
    in the view (farther than a face is followed between frames) within a track's gap before
    or after it: they were walking past, and nobody reaches into a shelf while walking by. A
    person who stops to take something is seen there in the frames around it. Only on a camera
    whose jitter is measured: until then a still face's readings may stray that far."""
    out: set[int] = set()
    if not pace.x_sd_known:
        return out
    for i, track in enumerate(tracks):
        if track.shopper is None or len(track.points) != 1 or track.points[0][1] is None:
            continue
        at, x = track.points[0]
        if any(
            0 < abs((seen_at - at).total_seconds()) <= pace.track_gap_s
            and abs(px - x) > pace.track_dx
            for j, other in enumerate(tracks)
            if j != i and other.shopper == track.shopper
            for seen_at, px in other.points
            if px is not None
        ):
            out.add(i)
    return out
