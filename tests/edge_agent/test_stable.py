"""Stable-reading detection: one pick is one event."""

from __future__ import annotations

import pytest

from edge_agent.sensors import ReplaySensor, load_recording
from edge_agent.stable import StableDetector, StableSettings, items_in_lane
from tests.edge_agent.configs import NOISY_PICK


def _changes(series, settings=None):
    detector = StableDetector(settings or StableSettings(noise=4, settle_s=0.8, min_change=175))
    return [c for t, v in series if (c := detector.feed(t, v)) is not None]


def test_a_noisy_recorded_pick_is_exactly_one_event():
    changes = _changes(load_recording(NOISY_PICK))
    assert len(changes) == 1
    assert changes[0].before == pytest.approx(4200, abs=3)
    assert changes[0].after == pytest.approx(3850, abs=3)
    assert 5.0 < changes[0].ts < 7.5  # after the lift, once the bounce died down


def test_the_recording_is_noisy_enough_to_fool_a_naive_threshold():
    # Without the median and the settle time, the glitches and the hand would each count.
    naive = StableDetector(StableSettings(window=1, noise=4, settle_s=0.0, min_change=175))
    assert len([1 for t, v in load_recording(NOISY_PICK) if naive.feed(t, v)]) > 1


def test_a_hand_resting_briefly_is_no_event():
    series = [(i / 10, 4200.0) for i in range(30)]
    series += [(3 + i / 10, 4400.0) for i in range(5)]  # half a second of pressure
    series += [(3.5 + i / 10, 4200.0) for i in range(30)]
    assert _changes(series) == []


def test_slow_drift_is_no_event():
    series = [(i / 10, 4200.0 + i * 0.05) for i in range(600)]  # +30 g over a minute
    assert _changes(series) == []


def test_two_picks_are_two_events():
    series = [(i / 10, 4200.0) for i in range(20)]
    series += [(2 + i / 10, 3850.0) for i in range(20)]
    series += [(4 + i / 10, 3500.0) for i in range(20)]
    assert [(c.before, c.after) for c in _changes(series)] == [(4200, 3850), (3850, 3500)]


def test_a_light_sensor_going_dark_is_one_event():
    series = [(i / 10, 1.0) for i in range(10)] + [(1 + i / 10, 0.0) for i in range(10)]
    settings = StableSettings(window=3, noise=0.4, settle_s=0.3, min_change=0.5)
    assert [(c.before, c.after) for c in _changes(series, settings)] == [(1.0, 0.0)]


def test_the_detector_reports_a_hand_at_the_shelf_while_settling():
    detector = StableDetector(StableSettings(window=1, noise=4, settle_s=0.5, min_change=100))
    for i in range(10):
        detector.feed(i / 10, 4200.0)
    assert not detector.settling
    detector.feed(1.0, 4350.0)
    assert detector.settling


def test_items_in_a_lane_follow_the_distance():
    assert items_in_lane(100, lane_depth_mm=400, item_depth_mm=60) == 5
    assert items_in_lane(400, lane_depth_mm=400, item_depth_mm=60) == 0
    assert items_in_lane(420, lane_depth_mm=400, item_depth_mm=60) == 0


def test_replay_plays_a_recording_back(tmp_path):
    path = tmp_path / "rec.csv"
    path.write_text("seconds,grams\n0,10\n0.1,11\n# comment\n0.2,12\n")
    sensor = ReplaySensor(path=path, realtime=False)
    assert [sensor.read() for _ in range(4)] == [10.0, 11.0, 12.0, 12.0]
    assert sensor.finished


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        StableSettings(min_change=0)
