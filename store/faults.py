"""Fault injection for the fault tests: off unless MINIGO_FAULT_SLEEP_IN is set.

MINIGO_FAULT_SLEEP_IN=shelf_event_apply:5 makes `fault_point("shelf_event_apply")` sleep 5 s
where it is called (inside the transaction that writes a cart entry and moves the stock), so a
test can kill the worker or drop its database connection in the middle of a task. Several
points: "a:5,b:2". Never set it in production; with it unset a fault point is one dict lookup.
"""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger(__name__)


def _parse(value: str) -> dict[str, float]:
    points = {}
    for part in value.split(","):
        name, _, seconds = part.strip().partition(":")
        if name:
            points[name] = float(seconds or 1)
    return points


_POINTS = _parse(os.environ.get("MINIGO_FAULT_SLEEP_IN", ""))


def fault_point(name: str) -> None:
    seconds = _POINTS.get(name)
    if seconds:
        log.warning("fault injection: sleeping %.1f s in %s (pid %d)", seconds, name, os.getpid())
        time.sleep(seconds)
