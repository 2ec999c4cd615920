"""Shelf sensors. Each has `read() -> float | None` (None: no reading this time) and `close()`.

Hardware libraries are imported only when a sensor of that kind is built, so the agent (and
its tests) run on any machine; on a Pi they come from Raspberry Pi OS (gpiozero) or pip (hx711).

- load_cell: an HX711 amplifier (the `hx711` package); grams = (raw - offset) / scale, with
  offset and scale from `minigo-agent calibrate`.
- ultrasonic: an HC-SR04 through gpiozero's DistanceSensor; millimetres to the first item.
- light: a light sensor (LDR module's digital output, or a break-beam) through gpiozero's
  DigitalInputDevice; 1 while an item is there, 0 when the slot is empty.
- replay: values recorded in a file, one "seconds,value" (or just "value") per line, read at
  the recorded pace (or as fast as asked); for testing a shelf without hardware.

Drivers that can wait for their device without a limit (hx711, gpiozero's DistanceSensor) are
read through edge_agent.bounded: a device that never answers gives None after `timeout_s`.
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path
from typing import Any, Protocol

from edge_agent.bounded import BoundedCall, DeviceTimeout

log = logging.getLogger(__name__)


class Sensor(Protocol):
    def read(self) -> float | None: ...

    def close(self) -> None: ...


class HX711LoadCell:
    """A load cell on an HX711 amplifier, through the `hx711` package (1.1.2.x).

    That driver's `get_raw_data` and `reset` loop until the chip has answered as often as
    asked, so both run through a BoundedCall: a chip that never becomes ready costs
    `timeout_s` per reading and one log line, never the sampling loop."""

    def __init__(
        self,
        *,
        dout_pin: int,
        sck_pin: int,
        offset: float = 0.0,
        scale: float = 1.0,
        gain: int = 128,
        channel: str = "A",
        samples: int = 3,
        timeout_s: float = 2.0,
        driver: Any = None,
    ):
        if scale == 0:
            raise ValueError("a load cell's scale cannot be 0; run the calibrate command")
        if not 2 <= samples <= 100:
            raise ValueError("samples is 2..100, the range the hx711 driver accepts")
        self.pins = (dout_pin, sck_pin)
        self.offset, self.scale, self.samples = offset, scale, samples
        self.bounded = BoundedCall(
            device=f"load cell (HX711 on GPIO {dout_pin}/{sck_pin})", timeout_s=timeout_s
        )
        # Pins are released on close only when this object set them up.
        self._owns_pins = driver is None
        if driver is None:
            from hx711 import HX711  # imported here: only a Pi with a load cell needs it

            driver = HX711(dout_pin=dout_pin, pd_sck_pin=sck_pin, gain=gain, channel=channel)
            try:
                self.bounded.call(driver.reset, what="reset")
            except DeviceTimeout:
                pass  # logged; every read tries again, so a chip powered later is picked up
        self.driver = driver

    def read_raw(self, samples: int | None = None) -> float | None:
        count = samples or self.samples
        try:
            values = self.bounded.call(lambda: self.driver.get_raw_data(count))
        except DeviceTimeout:
            return None
        # hx711 marks a failed conversion with False or -1; such values are not weights.
        good = [
            v
            for v in (values or [])
            if isinstance(v, int | float) and not isinstance(v, bool) and v != -1
        ]
        return float(statistics.median(good)) if good else None

    def read(self) -> float | None:
        raw = self.read_raw()
        return None if raw is None else (raw - self.offset) / self.scale

    def close(self) -> None:
        if not self._owns_pins:
            return
        try:
            import RPi.GPIO as GPIO  # noqa: N814
        except ImportError:
            return
        try:
            # Only this cell's two pins: a bare GPIO.cleanup() would reset every pin of the
            # process, the other load cells' and gpiozero's sensors' included.
            GPIO.cleanup(list(self.pins))
        except RuntimeError as exc:  # already released
            log.debug("releasing GPIO %s: %s", self.pins, exc)


class UltrasonicLane:
    """An HC-SR04 through gpiozero's DistanceSensor, in millimetres.

    `distance` waits until gpiozero has a full queue of echoes, for ever if none comes back (a
    sensor unplugged or without power), so it is read through a BoundedCall."""

    def __init__(
        self,
        *,
        trigger_pin: int,
        echo_pin: int,
        max_distance_m: float = 2.0,
        timeout_s: float = 1.0,
    ):
        from gpiozero import DistanceSensor

        self.device = DistanceSensor(
            echo=echo_pin, trigger=trigger_pin, max_distance=max_distance_m, queue_len=5
        )
        self.bounded = BoundedCall(
            device=f"distance sensor (HC-SR04 on GPIO {trigger_pin}/{echo_pin})",
            timeout_s=timeout_s,
        )

    def read(self) -> float | None:
        try:
            distance = self.bounded.call(lambda: self.device.distance)
        except DeviceTimeout:
            return None
        # metres, the median of the last queue_len echoes
        return None if distance is None else distance * 1000.0

    def close(self) -> None:
        self.device.close()


class LightSensor:
    def __init__(self, *, pin: int, present_when_high: bool = True):
        from gpiozero import DigitalInputDevice

        self.device = DigitalInputDevice(pin, pull_up=None, active_state=present_when_high)

    def read(self) -> float | None:
        return 1.0 if self.device.is_active else 0.0

    def close(self) -> None:
        self.device.close()


def load_recording(path: str | Path) -> list[tuple[float | None, float]]:
    """Read a recording: "t,value" or "value" per line; '#' comments and a header line with
    letters are skipped."""
    rows: list[tuple[float | None, float]] = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or any(c.isalpha() for c in line):
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 1:
            rows.append((None, float(parts[0])))
        else:
            rows.append((float(parts[0]), float(parts[1])))
    return rows


class ReplaySensor:
    """Plays back a recording. With `realtime` the agent's sampling loop is slowed to the
    recorded timestamps; `loop` starts over at the end (otherwise it keeps the last value)."""

    def __init__(self, *, path: str | Path, realtime: bool = True, loop: bool = False):
        self.rows = load_recording(path)
        if not self.rows:
            raise ValueError(f"{path} holds no readings")
        self.realtime, self.loop = realtime, loop
        self._i = 0
        self._start = time.monotonic()
        self._start_wall = time.time()
        # The recorded time of the last reading, on the wall clock: without `realtime` the
        # recording plays as fast as it is read, and its own timestamps still drive the
        # settle times of the stable-reading detector.
        self.last_ts: float | None = None

    @property
    def finished(self) -> bool:
        return not self.loop and self._i >= len(self.rows)

    def read(self) -> float | None:
        if self._i >= len(self.rows):
            if not self.loop:
                return self.rows[-1][1]
            self._i, self._start = 0, time.monotonic()
            self._start_wall = (self.last_ts or time.time()) + 0.1
        t, value = self.rows[self._i]
        if t is not None:
            self.last_ts = self._start_wall + t - (self.rows[0][0] or 0.0)
        if self.realtime and t is not None:
            wait = self._start + (t - (self.rows[0][0] or 0.0)) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._i += 1
        return value

    def close(self) -> None:
        pass


def build_sensor(spec: dict[str, Any]) -> Sensor:
    """A sensor from one [[sensors]] table of the agent config (see agent.example.toml)."""
    kind = spec["type"]
    if kind == "hx711":
        return HX711LoadCell(
            dout_pin=int(spec["dout_pin"]),
            sck_pin=int(spec["sck_pin"]),
            offset=float(spec.get("offset", 0.0)),
            scale=float(spec.get("scale", 1.0)),
            gain=int(spec.get("gain", 128)),
            channel=str(spec.get("channel", "A")),
            samples=int(spec.get("samples", 3)),
            timeout_s=float(spec.get("timeout_s", 2.0)),
        )
    if kind == "hcsr04":
        return UltrasonicLane(
            trigger_pin=int(spec["trigger_pin"]),
            echo_pin=int(spec["echo_pin"]),
            max_distance_m=float(spec.get("max_distance_m", 2.0)),
            timeout_s=float(spec.get("timeout_s", 1.0)),
        )
    if kind == "light":
        return LightSensor(
            pin=int(spec["pin"]), present_when_high=bool(spec.get("present_when_high", True))
        )
    if kind == "replay":
        return ReplaySensor(
            path=spec["file"],
            realtime=bool(spec.get("realtime", True)),
            loop=bool(spec.get("loop", False)),
        )
    raise ValueError(f"unknown sensor type {kind!r}: use hx711, hcsr04, light or replay")


# Which protocol sensor kind (what the server counts with) each driver reports.
PROTOCOL_SENSOR = {"hx711": "load_cell", "hcsr04": "ultrasonic", "light": "light"}
