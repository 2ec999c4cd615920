"""The Pi camera driver against a small fake of picamera2 (Picamera2, its jobs and wait)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.cameras import PiCamera, build_camera
from tests.edge_agent.fakes import install_picamera2


@pytest.fixture
def picamera2(monkeypatch):
    return install_picamera2(monkeypatch)


def _frame(value: int) -> np.ndarray:
    return np.full((4, 6, 3), value, dtype=np.uint8)


def test_the_pi_camera_is_configured_for_bgr_video_and_gives_its_frames_in_order(picamera2):
    camera = build_camera({"type": "picamera2", "width": 640, "height": 480, "camera_num": 1})
    cam = picamera2.instances[0]
    assert cam.camera_num == 1 and cam.started
    assert cam.config["main"] == {"format": "RGB888", "size": (640, 480)}
    cam.deliver(_frame(1))
    cam.deliver(_frame(2))
    assert camera.grab()[0, 0, 0] == 1
    assert camera.grab()[0, 0, 0] == 2
    camera.close()
    assert not cam.started and cam.closed


def test_a_camera_that_stops_delivering_frames_times_out_and_comes_back(picamera2, caplog):
    camera = PiCamera(timeout_s=0.1)
    cam = picamera2.instances[0]
    with caplog.at_level("WARNING", logger="edge_agent.cameras"):
        assert camera.grab() is None
        assert camera.grab() is None
        assert len(cam.jobs) == 1  # the second grab waits for the same capture
        cam.deliver(_frame(7))
        assert camera.grab()[0, 0, 0] == 7
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [
        "Pi camera 0 gave no frame within 0.1 s; check its cable. The agent keeps running "
        "and takes frames again as soon as it delivers them."
    ]
    assert "Pi camera 0 delivers frames again" in caplog.text


def test_a_stalled_camera_still_closes(picamera2):
    camera = PiCamera(timeout_s=0.05)
    cam = picamera2.instances[0]
    assert camera.grab() is None  # its capture stays queued
    camera.close()
    assert not cam.jobs and not cam.started and cam.closed


def test_auto_uses_the_pi_camera_when_picamera2_is_there(picamera2):
    camera = build_camera({"type": "auto"})
    assert isinstance(camera, PiCamera)
    assert picamera2.instances[0].started
