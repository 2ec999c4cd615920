"""A shelf camera's pace and steadiness at one shelf event, measured from its frames and faces
around it and its faces of the last HISTORY_S: how often it sends a frame (and the time scales
of following faces that follow from it), and how far a face's measured position jitters
between frames (and how sharply a reach band's edge can tell faces apart); and which of its
frames around the event are in (analysed) and which still wait for their faces."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from store.models import Device, EventStatus, Frame, ShelfEvent, Sighting
from store.services.ondemand import DEFERRED
from store.services.reach import REACH_EDGE_S
from vision.faces import MATCH_CONFIDENCE

# How often a shelf camera sends a frame differs between stores (the agent sends two a second
# by default; a slower camera, or motion gating, sends fewer) and is measured for each event
# from the camera's frames around it (pace_of). No time scale assumes a camera faster than
# the default.
DEFAULT_FRAME_S = 0.5
# Faces in consecutive frames at most this many intervals apart in time (two missed frames in
# a row, and some jitter) and at most TRACK_DX across the view (or TRACK_DX_SD times the
# camera's jitter, where that is more) are taken to be one person (people move little
# meanwhile).
TRACK_GAP_FRAMES = 3.2
TRACK_DX = 0.05
TRACK_DX_SD = 3.5
# Each is measured from at least this many gaps (between frames; between one named shopper's
# positions in consecutive frames), else its default stands.
PACE_GAPS = 3
# The median of |a - b| for two readings of one position with Gaussian jitter σ each is this
# many σ (0.6745 × √2); the median of n such readings is off by about MEDIAN_SE σ / √n.
MEDIAN_DIFF_SD = 0.954
MEDIAN_SE = 1.2533
# The jitter is the camera's: measured over its faces this far back too (a window alone often
# holds too few, and an early decision has only part of one).
HISTORY_S = 30.0
# A face seen later than this fits the moment of an event too little to change who did it.
MOMENT_WEIGHT = 0.05


@dataclass(frozen=True)
class Pace:
    """How often the camera sends a frame around one event (`frame_s`, seconds), how far a
    face's measured position jitters between frames (`x_sd`, fractions of the view; 0 for a
    camera as steady as REACH_EDGE_S assumes), whether that jitter was measured at all
    (`x_sd_known`: too few faces yet leaves it at the steady default), and the scales that
    follow from them."""

    frame_s: float = DEFAULT_FRAME_S
    x_sd: float = 0.0
    x_sd_known: bool = True

    @property
    def steady(self) -> bool:
        """Measured, and as steady as REACH_EDGE_S assumes: a few frames of one face already
        show plainly where it stands."""
        return self.x_sd_known and self.x_sd == 0.0

    @property
    def track_dx(self) -> float:
        return max(TRACK_DX, TRACK_DX_SD * self.x_sd)

    def edge(self, n: int = 1) -> float:
        """How far off the median of n measured positions of one face may be: how softly a
        reach band's edge tells faces apart (never sharper than on a steady camera)."""
        return max(REACH_EDGE_S, MEDIAN_SE * self.x_sd / math.sqrt(max(n, 1)))

    @property
    def track_gap_s(self) -> float:
        return TRACK_GAP_FRAMES * self.frame_s

    @property
    def unnamed_gap_s(self) -> float:
        # A face nobody could name continues a named face's track only across a short gap:
        # with no identity to go by, only its place follows it, and someone else may have
        # stepped there.
        return self.track_gap_s / 2

    def closeness(self, dt_s: float, window_s: float) -> float:
        # Sharp: the frame nearest the event shows who was there at that moment; the next
        # shopper at that slot a few frames later hardly counts. As much wider as the camera
        # is slower, or a picker whose nearest face is a frame away would hardly count either.
        return math.exp(-0.5 * (dt_s / self._sigma(window_s)) ** 2)

    def moment_s(self, window_s: float) -> float:
        """How far from an event a face still counts for more than MOMENT_WEIGHT (closeness):
        who else could have been there at that moment is known once the faces this far on
        both sides of it are in."""
        return self._sigma(window_s) * math.sqrt(-2.0 * math.log(MOMENT_WEIGHT))

    def _sigma(self, window_s: float) -> float:
        return max(window_s / 6.0 * self.frame_s / DEFAULT_FRAME_S, 0.05)


def pace_of(sightings: list[Sighting], frame_times: Sequence[datetime], *, window_s: float) -> Pace:
    """The camera's interval, the median gap between its consecutive frames (`frame_times`,
    those that showed a face and those that showed none, and the times of `sightings`), never
    under DEFAULT_FRAME_S; and its jitter, from how far one named shopper's face moved between
    consecutive frames (people stand still while reaching in; a camera that measures
    positions roughly shows it there)."""
    times = sorted({s.seen_at for s in sightings} | set(frame_times))
    gaps = sorted(
        gap for a, b in zip(times, times[1:]) if 0 < (gap := (b - a).total_seconds()) <= window_s
    )
    enough = len(gaps) >= PACE_GAPS
    frame_s = max(gaps[len(gaps) // 2], DEFAULT_FRAME_S) if enough else DEFAULT_FRAME_S
    track_gap_s = Pace(frame_s=frame_s).track_gap_s
    by_shopper: dict[int, list[Sighting]] = {}
    for s in sorted(sightings, key=lambda s: (s.seen_at, s.pk or 0)):
        if s.shopper_id and s.confidence >= MATCH_CONFIDENCE and s.x is not None:
            by_shopper.setdefault(s.shopper_id, []).append(s)
    moves = sorted(
        abs(b.x - a.x)
        for seen in by_shopper.values()
        for a, b in zip(seen, seen[1:])
        if 0 < (b.seen_at - a.seen_at).total_seconds() <= track_gap_s
    )
    known = len(moves) >= PACE_GAPS
    x_sd = moves[len(moves) // 2] / MEDIAN_DIFF_SD if known else 0.0
    return Pace(frame_s=frame_s, x_sd=x_sd if x_sd > REACH_EDGE_S else 0.0, x_sd_known=known)


def frames_near(*, device: Device, when: datetime) -> list[tuple[datetime, bool]]:
    """The camera's frames around `when`: when each was captured (its pace, see pace_of) and
    whether its faces are in (analysed; not queued, nor deferred until an event asks)."""
    window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"])
    rows = Frame.objects.filter(
        device=device, captured_at__gte=when - window, captured_at__lte=when + window
    ).values_list("captured_at", "status", f"result__{DEFERRED}")
    return [
        (at, status != EventStatus.PENDING and deferred is not True)
        for at, status, deferred in rows
    ]


def covered_s(
    frames: Sequence[tuple[datetime, bool]],
    *,
    when: datetime,
    window_s: float,
    reported: datetime | None = None,
) -> float:
    """How far on both sides of `when` the faces are all in (`frames`: frames_near): up to the
    nearest frame still waiting for its faces, and after `when` up to the latest frame
    received or the shelf's watermark (`reported`), whichever is later: the shelf sends what
    it produced in order, so no frame of its camera before either is still to come."""
    before = [(when - at).total_seconds() for at, done in frames if at <= when and not done]
    after = sorted(((at - when).total_seconds(), done) for at, done in frames if at > when)
    waiting = [dt for dt, done in after if not done]
    sent = after[-1][0] if after else 0.0
    if reported is not None:
        sent = max(sent, (reported - when).total_seconds())
    reach_after = waiting[0] if waiting else sent
    return min(min(before, default=window_s), reach_after)


def sightings_near(*, device: Device, when: datetime) -> list[Sighting]:
    """The camera's faces within the window around `when`, and HISTORY_S further back: its
    steadiness is the camera's, measured over more faces than one window holds (and before an
    early decision has the window's). in_window() keeps those of the window."""
    window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"])
    since = when - max(window, timedelta(seconds=HISTORY_S))
    return list(
        Sighting.objects.filter(device=device, seen_at__gte=since, seen_at__lte=when + window)
    )


def in_window(sightings: list[Sighting], *, when: datetime) -> list[Sighting]:
    window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"])
    return [s for s in sightings if when - window <= s.seen_at <= when + window]


def waiting_before(
    frames: Sequence[tuple[datetime, bool]], *, when: datetime, seconds: float
) -> bool:
    """True while a frame of the `seconds` before `when` (`frames`: frames_near) has arrived
    without its faces: queued, or deferred until an event asks (store/services/ondemand.py)."""
    return any(not done and 0.0 <= (when - at).total_seconds() <= seconds for at, done in frames)


# The longest a decided-in-doubt event waits for its camera's queued frames.
FRAME_BACKLOG_WAIT_S = 300


def frames_pending(event: ShelfEvent) -> bool:
    """True while frames from this shelf's camera around the event were received but not
    processed yet (a worker backlog): deciding now would ignore their sightings and send the
    pick to review (under load, most doubtful picks would go to review this way). Bounded
    by FRAME_BACKLOG_WAIT_S, so a frame that never gets processed cannot hold an event.
    Frames whose faces were deferred (store/services/ondemand.py) count too, whatever the
    event's age: waiting on them analyses them at once."""

    window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"])
    frames = Frame.objects.filter(
        device=event.device,
        captured_at__gte=event.occurred_at - window,
        captured_at__lte=event.occurred_at + window,
    )
    if frames.filter(status=EventStatus.APPLIED, **{f"result__{DEFERRED}": True}).exists():
        return True
    if timezone.now() - event.occurred_at > timedelta(seconds=FRAME_BACKLOG_WAIT_S):
        return False
    return frames.filter(status=EventStatus.PENDING).exists()
