"""A shelf camera's pace: how often it catches a person's face, measured for each event from
its frames around it, and the time scales of following faces that follow from it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from store.models import Device, Frame, Sighting

# How often a shelf camera sends a frame differs between stores (the agent sends two a second
# by default; a slower camera, or motion gating, sends fewer) and is measured for each event
# from the camera's frames around it (pace_of). No time scale assumes a camera faster than
# the default.
DEFAULT_FRAME_S = 0.5
# Faces in consecutive frames at most this many intervals apart in time (two missed frames in
# a row, and some jitter) and close across the view are taken to be one person (people
# move little meanwhile).
TRACK_GAP_FRAMES = 3.2
# The interval is measured from at least this many gaps between frames, else the default
# stands.
PACE_GAPS = 3


@dataclass(frozen=True)
class Pace:
    """How often the camera sends a frame around one event (`frame_s`, seconds),
    and the time scales that follow from it."""

    frame_s: float = DEFAULT_FRAME_S

    @property
    def track_gap_s(self) -> float:
        return TRACK_GAP_FRAMES * max(self.frame_s, DEFAULT_FRAME_S)

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
        sigma = max(window_s / 6.0 * self.frame_s / DEFAULT_FRAME_S, 0.05)
        return math.exp(-0.5 * (dt_s / sigma) ** 2)


def pace_of(sightings: list[Sighting], frame_times: Sequence[datetime], *, window_s: float) -> Pace:
    """The camera's interval: the median gap between its consecutive frames around the event
    (those that showed a face, and those that showed none)."""
    times = sorted({s.seen_at for s in sightings} | set(frame_times))
    gaps = sorted(
        gap for a, b in zip(times, times[1:]) if 0 < (gap := (b - a).total_seconds()) <= window_s
    )
    if len(gaps) < PACE_GAPS:
        return Pace()
    return Pace(frame_s=max(gaps[len(gaps) // 2], DEFAULT_FRAME_S))


def frame_times_near(*, device: Device, when: datetime) -> list[datetime]:
    """When the camera's frames around `when` were captured (its pace, see pace_of)."""
    window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"])
    return list(
        Frame.objects.filter(
            device=device, captured_at__gte=when - window, captured_at__lte=when + window
        ).values_list("captured_at", flat=True)
    )
