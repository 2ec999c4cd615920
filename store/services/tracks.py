"""Faces followed across a shelf camera's frames (tracks): the same person turning their head,
half hidden a moment, or once confused with someone else, and whom each track names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from store.models import Sighting
from store.services.pace import Pace
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
    sightings: list[Sighting], *, when: datetime, window_s: float, pace: Pace
) -> list[Track]:
    """Faces followed across frames. A named face's vote counts by its confidence and by how
    close to the event it was seen: the one who stood there at that moment decides the
    track's identity, not someone who stood at the same place seconds before."""
    tracks: list[Track] = []
    for s in sorted(sightings, key=lambda s: (s.seen_at, s.pk or 0)):
        named = s.shopper_id if s.shopper_id and s.confidence >= MATCH_CONFIDENCE else None
        best = None
        for t in tracks:
            last_at, last_x = t.points[-1]
            gap = (s.seen_at - last_at).total_seconds()
            if not 0 < gap <= pace.track_gap_s:
                continue  # one face per person per frame
            if named is None and t.named is not None and gap > pace.unnamed_gap_s:
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
