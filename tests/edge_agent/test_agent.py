"""The agent on its own: config, sensors → events, cameras → frames, calibration, greeting."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from edge_agent import protocol
from edge_agent.__main__ import calibrate
from edge_agent.agent import Agent
from edge_agent.cameras import FolderCamera, MotionGate, encode_jpeg
from edge_agent.config import ConfigError, load
from edge_agent.greet import Greeter
from edge_agent.sensors import ReplaySensor
from tests.edge_agent.configs import agent_config

EXAMPLE = Path(__file__).resolve().parents[2] / "edge_agent" / "agent.example.toml"


class FakeCamera:
    def __init__(self, frames):
        self.frames = list(frames)

    def grab(self):
        return self.frames.pop(0) if self.frames else None

    def close(self):
        pass


def _image(level: int) -> np.ndarray:
    img = np.full((120, 160, 3), 40, np.uint8)
    img[30:90, 40:120] = level
    return img


def test_the_example_config_parses():
    config = load(EXAMPLE)
    assert config.server.device == "shelf-1"
    assert [(s.slot, s.sensor) for s in config.sensors] == [
        ("A1", "load_cell"),
        ("B1", "ultrasonic"),
        ("C1", "light"),
    ]
    assert config.sensors[0].options["dout_pin"] == 5
    assert config.cameras[0].jpeg_quality == 80


@pytest.mark.parametrize(
    "server,match",
    [
        ({"url": "http://x", "token": "t", "device": "d", "kind": "shelf"}, "ws://"),
        ({"url": "ws://x", "token": "t", "device": "d", "kind": "door"}, "kind"),
        ({"url": "ws://x", "device": "d", "kind": "shelf"}, "token"),
        ({"url": "ws://x", "token": "t", "device": "d", "kind": "shelf", "window": "8"}, "window"),
    ],
)
def test_a_bad_config_is_refused_with_the_key_named(tmp_path, server, match):
    with pytest.raises(ConfigError, match=match):
        agent_config(tmp_path, server=server)


def test_a_noisy_replayed_pick_puts_exactly_one_event_in_the_outbox(tmp_path):
    agent = Agent(agent_config(tmp_path))
    agent.on_config({"slots": [{"slot": "A1", "unit_weight_g": 350.0}]})
    watcher = agent.watchers[0]
    assert watcher.detector.settings.min_change == 175.0  # half a can, from the server
    watcher.run(threading.Event())  # plays the whole recording, then returns
    items = agent.outbox.pending()
    assert len(items) == 1
    msg = protocol.parse_text(items[0].payload)
    assert (msg["slot"], msg["sensor"]) == ("A1", "load_cell")
    assert msg["before"] == pytest.approx(4200, abs=3) and msg["after"] == pytest.approx(
        3850, abs=3
    )


def test_the_server_config_is_kept_for_the_next_start(tmp_path):
    agent = Agent(agent_config(tmp_path))
    agent.on_config({"type": "config", "slots": [{"slot": "A1", "unit_weight_g": 45.0}]})
    again = Agent(agent_config(tmp_path))
    assert again.slots["A1"]["unit_weight_g"] == 45.0
    assert again.watchers[0].detector.settings.min_change == 22.5


def test_motion_gating_sends_changed_pictures_only():
    gate = MotionGate(threshold=0.02)
    assert gate.changed(_image(40))  # the first frame always goes
    noisy = np.clip(
        _image(40).astype(int) + np.random.default_rng(1).integers(-6, 7, (120, 160, 3)), 0, 255
    ).astype(np.uint8)
    assert not gate.changed(noisy)  # sensor noise is not motion
    assert gate.changed(_image(200))  # something moved into the picture


def test_frames_around_a_shelf_event_go_out_even_without_motion(tmp_path):
    cams = [
        {"name": "0", "type": "folder", "fps": 100, "before_event_s": 0.05, "after_event_s": 60}
    ]
    agent = Agent(agent_config(tmp_path, cameras=cams), cameras={"0": FakeCamera([_image(40)] * 6)})
    worker = agent.camera_workers[0]
    agent._last_event_ts = -1e9  # no event yet
    for _ in range(3):
        worker.step()
    assert worker.sent == 1  # the first frame; the two still ones are held back
    watcher = agent.watchers[0]
    import time

    from edge_agent.stable import Change

    agent._on_change(watcher, Change(before=4200, after=3850, ts=time.time()))
    # The held frames from just before the event went out, and the ones after it go too.
    held = worker.sent
    assert held >= 2
    worker.step()
    assert worker.sent == held + 1
    kinds = [i.kind for i in agent.outbox.pending(limit=100)]
    assert kinds.count("event") == 1 and kinds.count("frame") == worker.sent
    header, jpeg = protocol.decode_frame(
        [i for i in agent.outbox.pending(limit=100) if i.kind == "frame"][0].payload,
        max_bytes=10**6,
    )
    assert jpeg[:2] == b"\xff\xd8" and header["camera"] == "0"


def test_jpeg_quality_and_size_are_applied():
    img = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    small = encode_jpeg(img, quality=30, max_side=320)
    big = encode_jpeg(img, quality=95)
    assert len(small) < len(big) / 4
    import cv2

    assert cv2.imdecode(np.frombuffer(small, np.uint8), cv2.IMREAD_COLOR).shape == (240, 320, 3)


def test_a_folder_camera_plays_images_in_order(tmp_path):
    import cv2

    for i, level in enumerate([10, 200]):
        cv2.imwrite(str(tmp_path / f"{i:03}.png"), _image(level))
    cam = FolderCamera(path=tmp_path)
    assert cam.grab()[60, 80, 0] == 10 and cam.grab()[60, 80, 0] == 200 and cam.grab() is None


def test_calibration_finds_offset_and_scale():
    readings = iter([8000.0] * 30 + [8000.0 + 21.5 * 500] * 30)
    offset, scale = calibrate(read_raw=lambda: next(readings), known_grams=500, ask=lambda _: "")
    assert offset == 8000.0 and scale == pytest.approx(21.5)


def test_calibration_refuses_a_load_cell_that_does_not_move():
    with pytest.raises(ValueError, match="wiring"):
        calibrate(read_raw=lambda: 8000.0, known_grams=500, ask=lambda _: "")


def test_a_greeting_goes_to_the_screen_and_the_hooks(tmp_path):
    screen = tmp_path / "screen.txt"
    greeter = Greeter(screen=str(screen), template="Welcome, {name}!")
    heard = []
    greeter.hooks.append(lambda name, text: heard.append(text))
    assert greeter.greet("Kit\x1b[2J") == "Welcome, Kit[2J!"
    assert screen.read_text() == "Welcome, Kit[2J!\n" and heard == ["Welcome, Kit[2J!"]
    # The exit gate's own wording (goodbye and total) replaces the template.
    assert greeter.greet("Kit", "Goodbye Kit, 3.00 EUR\x07") == "Goodbye Kit, 3.00 EUR"
    assert screen.read_text().splitlines()[-1] == "Goodbye Kit, 3.00 EUR"


def test_a_replay_sensor_in_realtime_keeps_the_recorded_pace(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("0,1\n0.2,2\n")
    sensor = ReplaySensor(path=path, realtime=True)
    import time

    start = time.monotonic()
    sensor.read(), sensor.read()
    assert time.monotonic() - start >= 0.18


def test_the_agent_imports_no_django():
    code = (
        "import sys, edge_agent.agent, edge_agent.client, edge_agent.__main__; "
        "print('django' in sys.modules, 'cv2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_outbox_command_shows_parked_items(tmp_path):
    toml = tmp_path / "agent.toml"
    toml.write_text(
        '[server]\nurl = "ws://127.0.0.1:1/ws/device/"\ntoken = "t"\ndevice = "gate-in"\n'
        'kind = "entry"\n[outbox]\npath = "box.sqlite3"\n'
    )
    from edge_agent.outbox import Outbox

    box = Outbox(tmp_path / "box.sqlite3")
    box.add(event_id="e1", kind="event", payload=json.dumps({}))
    box.park("e1", code="unknown_slot", message="no slot")
    box.close()
    out = subprocess.run(
        [sys.executable, "-m", "edge_agent", "--config", str(toml), "outbox", "--requeue"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "requeued 1" in out.stdout and "'parked': 0" in out.stdout


def test_an_ultrasonic_lane_logs_its_item_counts(tmp_path, caplog):
    from edge_agent.stable import Change

    rec = tmp_path / "lane.csv"
    rec.write_text("0,100\n")
    sensors = [{"slot": "B1", "type": "replay", "sensor": "ultrasonic", "file": str(rec)}]
    agent = Agent(agent_config(tmp_path, sensors=sensors))
    agent.on_config({"slots": [{"slot": "B1", "lane_depth_mm": 400, "item_depth_mm": 60}]})
    assert agent.watchers[0].detector.settings.min_change == 30.0  # half an item
    with caplog.at_level("INFO", logger="edge_agent.agent"):
        agent._on_change(agent.watchers[0], Change(before=100.0, after=160.0, ts=1e9))
    assert "5 → 4 items" in caplog.text
    msg = protocol.parse_text(agent.outbox.pending()[0].payload)
    assert (msg["sensor"], msg["before"], msg["after"]) == ("ultrasonic", 100.0, 160.0)


def test_frames_are_encoded_to_fit_the_limit_the_server_gave(tmp_path):
    cams = [{"name": "0", "type": "folder", "fps": 100, "jpeg_quality": 95, "max_side": 0}]
    noise = np.random.default_rng(3).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    agent = Agent(agent_config(tmp_path, cameras=cams), cameras={"0": FakeCamera([noise] * 2)})
    assert len(encode_jpeg(noise, quality=95)) > 60_000
    agent.on_config({"type": "config", "slots": [], "frame_max_bytes": 60_000})
    agent.camera_workers[0].step()
    (item,) = [i for i in agent.outbox.pending(limit=10) if i.kind == "frame"]
    assert protocol.frame_fits(item.payload, max_bytes=60_000)
    # Kept for a start without the server.
    assert Agent(agent_config(tmp_path)).frame_limit == 60_000
