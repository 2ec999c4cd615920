"""A hardware read that cannot hang the agent.

Some drivers wait for their device without a limit: hx711's `get_raw_data` loops until the
chip has given it every reading it asked for, and gpiozero's `DistanceSensor.distance` waits
until its queue of echoes is full. A chip that lost power or a cut wire would then stop that
slot's sampling for good, and with it the agent's shutdown. `BoundedCall` runs such a read in a
daemon thread and waits for it at most `timeout_s`; a device that does not answer is logged
once (and once again when it answers), and its reads give None meanwhile, which the sampling
loop already treats as "no reading this time".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class DeviceTimeout(TimeoutError):
    """The device did not answer within the time allowed."""


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class BoundedCall:
    """At most one call in flight per device.

    A call that overruns is not started again while it still waits: its thread keeps waiting
    for the device (a thread cannot be stopped from outside), the next `call` waits for that
    same attempt, and only once it has finished does a fresh read begin, so every value
    returned was read during the `call` that returns it and a dead device holds one thread.
    """

    def __init__(self, *, device: str, timeout_s: float):
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.device, self.timeout_s = device, timeout_s
        self._pending: _Pending | None = None
        self._silent_since: float | None = None

    @property
    def answering(self) -> bool:
        return self._silent_since is None

    def call(self, fn: Callable[[], T], *, what: str = "read") -> T:
        """fn's result; raises DeviceTimeout when the device does not answer in time, and
        whatever fn raised otherwise."""
        if self._pending is not None and not self._pending.done.wait(self.timeout_s):
            raise DeviceTimeout(f"{self.device} is still not answering")
        self._pending = pending = _Pending()

        def run() -> None:
            try:
                pending.result = fn()
            except BaseException as exc:  # handed to the waiting caller
                pending.error = exc
            finally:
                pending.done.set()

        threading.Thread(target=run, name=f"{self.device} {what}", daemon=True).start()
        if not pending.done.wait(self.timeout_s):
            if self._silent_since is None:
                self._silent_since = time.monotonic()
                log.error(
                    "%s did not answer within %.1f s (%s); check its power and wiring. "
                    "Its readings are skipped until it answers; the rest of the agent keeps "
                    "running.",
                    self.device,
                    self.timeout_s,
                    what,
                )
            raise DeviceTimeout(f"{self.device} did not answer within {self.timeout_s:g} s")
        self._pending = None
        if self._silent_since is not None:
            log.warning(
                "%s answers again after %.0f s", self.device, time.monotonic() - self._silent_since
            )
            self._silent_since = None
        if pending.error is not None:
            raise pending.error
        return pending.result
