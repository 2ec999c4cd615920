"""Small stand-ins for the Pi-only libraries the drivers use: RPi.GPIO, hx711 and picamera2.

Each keeps the real library's names, signatures and the behaviour the drivers depend on:
hx711 1.1.2.3's `get_raw_data` loops until it has as many good readings as asked (so a chip
that never becomes ready keeps it looping), RPi.GPIO refuses to read a pin that was never set
up or was cleaned up, and picamera2 hands back a job whose result is waited for with a timeout.
gpiozero needs no fake: its own MockFactory is used instead.
"""

from __future__ import annotations

import sys
import threading
import time
import types
from collections import deque
from concurrent.futures import CancelledError, Future
from typing import Any


class FakeGPIO(types.ModuleType):
    """RPi.GPIO: BCM numbering, setup/input/output/cleanup."""

    BCM, BOARD, IN, OUT = 11, 10, 1, 0

    def __init__(self) -> None:
        super().__init__("RPi.GPIO")
        self.pins: dict[int, int] = {}  # pin -> mode, for pins set up and not cleaned up
        self.levels: dict[int, int] = {}  # what an input pin reads (a chip drives it)
        self.cleanups: list[Any] = []
        self.lock = threading.Lock()

    def setmode(self, mode: int) -> None:
        self.mode = mode

    def setup(self, channel: int, direction: int, **_: Any) -> None:
        with self.lock:
            self.pins[channel] = direction

    def _check(self, channel: int) -> None:
        if channel not in self.pins:
            raise RuntimeError("You must setup() the GPIO channel first")

    def input(self, channel: int) -> int:
        with self.lock:
            self._check(channel)
            return self.levels.get(channel, 1)

    def output(self, channel: int, value: Any) -> None:
        with self.lock:
            self._check(channel)

    def cleanup(self, channel: Any = None) -> None:
        with self.lock:
            self.cleanups.append(channel)
            if channel is None:
                self.pins.clear()
                return
            for pin in channel if isinstance(channel, list | tuple) else [channel]:
                self.pins.pop(pin, None)


class FakeChip:
    """What an HX711 on a given DOUT pin answers while ready: the queued raw values, then the
    last one again (a load that does not change); nothing while not ready."""

    def __init__(self, gpio: FakeGPIO, dout: int) -> None:
        self.gpio, self.dout = gpio, dout
        self.values: deque[int] = deque()
        self.last = 0
        self.ready(False)

    def ready(self, ready: bool, values: list[int] | None = None) -> None:
        self.values.extend(values or [])
        # The HX711 pulls DOUT low when a conversion is ready.
        self.gpio.levels[self.dout] = 0 if ready else 1

    def convert(self) -> int:
        if self.values:
            self.last = self.values.popleft()
        return self.last


def hx711_module(gpio: FakeGPIO, chips: dict[int, FakeChip]) -> types.ModuleType:
    """The `hx711` package, 1.1.2.3: HX711(dout_pin, pd_sck_pin, gain=128, channel='A')."""

    class ParameterValidationError(Exception):
        pass

    class GenericHX711Exception(Exception):
        pass

    class HX711:
        min_measures, max_measures = 2, 100

        def __init__(self, dout_pin: int, pd_sck_pin: int, gain: int = 128, channel: str = "A"):
            if not isinstance(dout_pin, int) or not isinstance(pd_sck_pin, int):
                raise TypeError("dout_pin and pd_sck_pin have to be integer numbers.")
            self._dout, self._pd_sck = dout_pin, pd_sck_pin
            gpio.setmode(gpio.BCM)
            gpio.setup(pd_sck_pin, gpio.OUT)
            gpio.setup(dout_pin, gpio.IN)
            self.channel, self.channel_a_gain = channel, gain
            self._read()  # applies channel and gain: one bounded attempt, as the library does

        def reset(self) -> bool:
            gpio.output(self._pd_sck, True)
            gpio.output(self._pd_sck, False)
            if self.get_raw_data(6) is False:
                raise GenericHX711Exception("failed to reset HX711")
            return True

        def _read(self, max_tries: int = 40) -> int | bool:
            gpio.output(self._pd_sck, False)
            tries = 0
            while gpio.input(self._dout) != 0:
                time.sleep(0.001)  # the library waits 10 ms a try; a test need not
                tries += 1
                if tries >= max_tries:
                    return False
            return chips[self._dout].convert()

        def get_raw_data(self, times: int = 5) -> list[int]:
            if not self.min_measures <= times <= self.max_measures:
                raise ParameterValidationError(f"{times} is not within the min/max range")
            data: list[int] = []
            while len(data) < times:  # no limit: the reason the agent bounds this call
                value = self._read()
                if value not in [False, -1]:
                    data.append(value)
            return data

    module = types.ModuleType("hx711")
    module.HX711 = HX711
    module.ParameterValidationError = ParameterValidationError
    module.GenericHX711Exception = GenericHX711Exception
    return module


def install_hx711(monkeypatch: Any) -> tuple[FakeGPIO, dict[int, FakeChip]]:
    """Puts fake RPi.GPIO and hx711 modules in sys.modules; returns the GPIO and a dict that
    makes (on first use) the chip on each DOUT pin."""
    gpio = FakeGPIO()

    class Chips(dict):
        def __missing__(self, dout: int) -> FakeChip:
            self[dout] = chip = FakeChip(gpio, dout)
            return chip

    chips = Chips()
    rpi = types.ModuleType("RPi")
    rpi.GPIO = gpio
    monkeypatch.setitem(sys.modules, "RPi", rpi)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", gpio)
    monkeypatch.setitem(sys.modules, "hx711", hx711_module(gpio, chips))
    return gpio, chips


class FakeJob:
    """picamera2.job.Job: a concurrent.futures Future underneath."""

    def __init__(self) -> None:
        self._future: Future[Any] = Future()

    def get_result(self, timeout: float | None = None) -> Any:
        return self._future.result(timeout=timeout)


class FakePicamera2:
    """picamera2.Picamera2: configure, start, capture_array (blocking or as a job), wait,
    stop, close. Frames are handed out in order; with none queued a capture waits for
    `deliver`, as the real one waits for the camera's next completed request."""

    instances: list[FakePicamera2] = []

    def __init__(self, camera_num: int = 0, verbose_console: Any = None, tuning: Any = None):
        self.camera_num = camera_num
        self.config: dict[str, Any] | None = None
        self.started = self.closed = False
        self.frames: deque[Any] = deque()
        self.jobs: deque[FakeJob] = deque()
        self.lock = threading.Lock()
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main: dict | None = None, **_: Any) -> dict[str, Any]:
        return {"use_case": "video", "main": {"format": "XBGR8888", **(main or {})}}

    def configure(self, camera_config: dict[str, Any] | None = None) -> None:
        self.config = camera_config

    def start(self, config: Any = None, show_preview: bool = False) -> None:
        if self.config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True

    def _serve(self) -> None:
        with self.lock:
            while self.jobs and self.frames:
                self.jobs.popleft()._future.set_result(self.frames.popleft())

    def deliver(self, frame: Any) -> None:
        self.frames.append(frame)
        self._serve()

    def capture_array(self, name: str = "main", wait: Any = None, signal_function: Any = None):
        if not self.started:
            raise RuntimeError("Camera is not running")
        job = FakeJob()
        self.jobs.append(job)
        self._serve()
        if wait is None:
            wait = signal_function is None
        if wait is False:
            return job
        return job.get_result(timeout=None if wait is True else wait)

    def wait(self, job: FakeJob, timeout: float | None = None) -> Any:
        return job.get_result(timeout=timeout)

    def cancel_all_and_flush(self) -> None:
        with self.lock:
            for job in self.jobs:
                job._future.set_exception(CancelledError())
            self.jobs.clear()

    def stop(self) -> None:
        # Like the real one (its event loop runs the NULL preview), stop is a job on the queue:
        # behind a capture that never completes it would wait for ever.
        if self.jobs:
            raise AssertionError("stop() would wait behind a capture that never completes")
        self.started = False

    def close(self) -> None:
        self.closed = True


def install_picamera2(monkeypatch: Any) -> type[FakePicamera2]:
    FakePicamera2.instances = []
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return FakePicamera2
