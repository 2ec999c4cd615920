"""Timing lines for the load bench: when a task ran, what it decided, when a wake was queued
or a watermark moved. Off unless MINIGO_TRACE is set (then logged at DEBUG on the
`minigo.trace` logger); when off, a call costs one logger level check.

A line is `trace <what> t=<unix time> key=value …`, read back by bench/loadrun/breakdown.py."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("minigo.trace")


def trace(what: str, **fields: object) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "trace %s t=%.4f %s", what, time.time(), " ".join(f"{k}={v}" for k, v in fields.items())
        )


def stamp(value) -> str:
    """A datetime as a Unix time, for a trace field."""
    return f"{value.timestamp():.4f}" if value is not None else "-"
