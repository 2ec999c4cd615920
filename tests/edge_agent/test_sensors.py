"""The shelf sensor drivers against their libraries: gpiozero's own MockFactory for the
HC-SR04 and the light sensor, small fakes of hx711 1.1.2.3 and RPi.GPIO for the load cell."""

from __future__ import annotations

import threading
import time

import pytest

from edge_agent import protocol
from edge_agent.agent import Agent
from edge_agent.bounded import BoundedCall, DeviceTimeout
from edge_agent.sensors import HX711LoadCell, build_sensor
from tests.edge_agent.configs import NOISY_PICK, agent_config
from tests.edge_agent.fakes import install_hx711

# gpiozero warns that mock pins are not pigpio, and about each echo a lane without a sensor
# does not receive; both are what these tests set up.
pytestmark = [
    pytest.mark.filterwarnings("ignore::gpiozero.PWMSoftwareFallback"),
    pytest.mark.filterwarnings("ignore::gpiozero.DistanceSensorNoEcho"),
]


@pytest.fixture
def hx711(monkeypatch):
    return install_hx711(monkeypatch)


@pytest.fixture
def mock_pins():
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    saved = Device.pin_factory
    Device.pin_factory = factory = MockFactory()
    yield factory
    factory.reset()
    Device.pin_factory = saved


# --- load cell (HX711) ---------------------------------------------------------------------


def test_a_load_cell_gives_grams_from_the_median_of_its_readings(hx711):
    gpio, chips = hx711
    chips[5].ready(True, [1000] * 7)  # the six readings of the reset, and one more
    cell = build_sensor({"type": "hx711", "dout_pin": 5, "sck_pin": 6, "offset": 1000, "scale": 2})
    chips[5].values.extend([1400, 9999, 1420])  # one spike among three readings
    assert cell.read() == pytest.approx(210.0)
    assert gpio.pins == {5: gpio.IN, 6: gpio.OUT}


def test_a_load_cell_that_never_becomes_ready_times_out_with_one_clear_log_line(hx711, caplog):
    _, chips = hx711
    with caplog.at_level("WARNING", logger="edge_agent.bounded"):
        started = time.monotonic()
        cell = HX711LoadCell(dout_pin=5, sck_pin=6, timeout_s=0.2)  # its reset times out
        assert cell.read() is None
        assert cell.read() is None
        assert time.monotonic() - started < 5
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "load cell (HX711 on GPIO 5/6) did not answer within 0.2 s" in errors[0].getMessage()
    assert "check its power and wiring" in errors[0].getMessage()

    chips[5].ready(True, [1234] * 20)  # powered at last
    deadline = time.monotonic() + 5
    while (value := cell.read()) is None and time.monotonic() < deadline:
        pass
    assert value == pytest.approx(1234.0)
    assert "answers again" in caplog.text
    assert cell.bounded.answering


def test_closing_a_load_cell_releases_only_its_own_pins(hx711):
    gpio, chips = hx711
    gpio.setup(26, gpio.OUT)  # a pin someone else in the process uses
    stuck = HX711LoadCell(dout_pin=5, sck_pin=6, timeout_s=0.1)
    chips[13].ready(True, [500] * 10)
    working = HX711LoadCell(dout_pin=13, sck_pin=19, timeout_s=1.0)

    stuck.close()

    assert gpio.cleanups == [[5, 6]]
    assert set(gpio.pins) == {13, 19, 26}
    assert working.read_raw() == pytest.approx(500.0)
    # The read still waiting for the dead chip ends once its pins are gone.
    assert stuck.bounded._pending.done.wait(2)


def test_a_load_cell_built_around_a_given_driver_leaves_the_pins_alone(hx711):
    gpio, _ = hx711

    class Driver:
        def get_raw_data(self, times=5):
            return [False, 10, -1, 12, 11][:times]

    cell = HX711LoadCell(dout_pin=5, sck_pin=6, samples=5, driver=Driver())
    assert cell.read_raw() == pytest.approx(11.0)  # False and -1 are failed conversions
    cell.close()
    assert gpio.cleanups == []


@pytest.mark.parametrize("samples", [1, 101])
def test_a_load_cell_refuses_a_sample_count_the_driver_would_refuse(hx711, samples):
    with pytest.raises(ValueError, match="samples is 2..100"):
        HX711LoadCell(dout_pin=5, sck_pin=6, samples=samples)


def test_a_dead_load_cell_does_not_stop_the_other_slots(hx711, tmp_path, caplog):
    config = agent_config(
        tmp_path,
        sensors=[
            {"slot": "A1", "type": "hx711", "dout_pin": 5, "sck_pin": 6, "timeout_s": 0.2},
            {
                "slot": "A2",
                "type": "replay",
                "sensor": "load_cell",
                "file": NOISY_PICK,
                "realtime": False,
            },
        ],
    )
    halt = threading.Event()
    with caplog.at_level("INFO"):
        agent = Agent(config)
        dead, replayed = agent.watchers
        threads = [
            threading.Thread(target=w.run, args=(halt,), daemon=True) for w in agent.watchers
        ]
        for thread in threads:
            thread.start()
        threads[1].join(timeout=30)  # the recording plays to its end
        assert not threads[1].is_alive()
        time.sleep(0.5)  # the dead cell's loop goes on meanwhile, a read every timeout
        halt.set()
        threads[0].join(timeout=5)
    assert not threads[0].is_alive()  # and it stops when asked
    events = [protocol.parse_text(item.payload) for item in agent.outbox.pending()]
    assert [e["slot"] for e in events] == ["A2"]
    assert sum("did not answer" in r.getMessage() for r in caplog.records) == 1
    dead.sensor.close()
    agent.outbox.close()


def test_a_bounded_call_passes_on_the_device_error_and_a_result_in_time():
    bounded = BoundedCall(device="thing", timeout_s=1.0)
    assert bounded.call(lambda: 42) == 42

    def broken():
        raise OSError("bus error")

    with pytest.raises(OSError, match="bus error"):
        bounded.call(broken)
    with pytest.raises(ValueError):
        BoundedCall(device="thing", timeout_s=0)


def test_a_bounded_call_waits_for_the_attempt_in_flight_instead_of_starting_another():
    release = threading.Event()
    started = []

    def slow():
        started.append(1)
        release.wait()
        return "late"

    bounded = BoundedCall(device="thing", timeout_s=0.05)
    with pytest.raises(DeviceTimeout):
        bounded.call(slow)
    with pytest.raises(DeviceTimeout):
        bounded.call(slow)
    assert len(started) == 1
    release.set()
    assert bounded.call(lambda: "fresh") == "fresh"  # the late answer is not handed out


# --- ultrasonic lane (HC-SR04 through gpiozero) --------------------------------------------


def test_an_ultrasonic_lane_turns_the_echo_time_into_millimetres(mock_pins):
    from gpiozero.pins.mock import MockTriggerPin

    echo = mock_pins.pin(24)
    # Sound covers 343.26 m/s, there and back: a 6 ms echo is 1.03 m. The mock times the echo
    # with a sleep, which on a busy machine can only run long, so the reading can only be more.
    mock_pins.pin(23, pin_class=MockTriggerPin, echo_pin=echo, echo_time=0.006)
    lane = build_sensor(
        {"type": "hcsr04", "trigger_pin": 23, "echo_pin": 24, "max_distance_m": 4.0}
    )
    try:
        assert 1025 <= lane.read() <= 2000
    finally:
        lane.close()
    assert mock_pins.pin(23).function == "input"  # closed: the trigger is released


def test_an_unplugged_ultrasonic_sensor_gives_no_reading_instead_of_hanging(mock_pins, caplog):
    mock_pins.pin(24)  # no trigger pin echoing back: nothing is wired
    lane = build_sensor({"type": "hcsr04", "trigger_pin": 23, "echo_pin": 24, "timeout_s": 0.3})
    try:
        with caplog.at_level("ERROR", logger="edge_agent.bounded"):
            assert lane.read() is None
            assert lane.read() is None
    finally:
        lane.close()
    assert sum("HC-SR04 on GPIO 23/24" in r.getMessage() for r in caplog.records) == 1


# --- light sensor (gpiozero DigitalInputDevice) --------------------------------------------


@pytest.mark.parametrize(
    ("present_when_high", "high", "low"), [(True, 1.0, 0.0), (False, 0.0, 1.0)]
)
def test_a_light_sensor_reports_whether_an_item_is_there(mock_pins, present_when_high, high, low):
    pin = mock_pins.pin(17)
    sensor = build_sensor({"type": "light", "pin": 17, "present_when_high": present_when_high})
    pin.drive_high()
    assert sensor.read() == high
    pin.drive_low()
    assert sensor.read() == low
    sensor.close()
    # Closed, the pin is free for another device.
    again = build_sensor({"type": "light", "pin": 17})
    again.close()


def test_calibrating_a_load_cell_that_does_not_answer_stops_at_once(hx711, tmp_path, capsys):
    from edge_agent.__main__ import main

    config = tmp_path / "agent.toml"
    config.write_text(
        '[server]\nurl = "ws://127.0.0.1:1/ws/device/"\ntoken = "t"\ndevice = "shelf-1"\n'
        'kind = "shelf"\n[[sensors]]\nslot = "A1"\ntype = "hx711"\ndout_pin = 5\nsck_pin = 6\n'
        "timeout_s = 0.2\n"
    )
    started = time.monotonic()
    code = main(["--config", str(config), "calibrate", "--slot", "A1", "--grams", "500"])
    assert code == 1
    assert time.monotonic() - started < 5  # not 30 readings × the timeout
    assert "the load cell of slot A1 is not answering" in capsys.readouterr().err
    gpio, _ = hx711
    assert gpio.cleanups == [[5, 6]]
