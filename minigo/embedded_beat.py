"""Celery beat's periodic jobs, run inside the server process when MiniGo runs embedded.

With REDIS_URL, `celery -A minigo worker --beat` (or a separate `celery beat`) runs them.
Embedded there are no workers and no beat, yet a pick that waits for its camera window must
still be decided when the window closes, devices must still go offline and frames expire.
One daemon thread, started with the first request, does that."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.module_loading import import_string

from minigo.celery import app

log = logging.getLogger(__name__)
_started = threading.Event()
_stop = threading.Event()


def schedule() -> dict[str, tuple[Any, float]]:
    """{name: (task, every seconds)}: Celery beat's own table (CELERY_BEAT_SCHEDULE), so both
    ways of running MiniGo run the same jobs at the same pace."""
    return {
        name: (import_string(entry["task"]), float(entry["schedule"]))
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
    }


def _run_forever() -> None:
    jobs = schedule()
    last = dict.fromkeys(jobs, 0.0)
    while not _stop.is_set():
        now = time.monotonic()
        for name, (job, every) in jobs.items():
            if now - last[name] >= every:
                last[name] = now
                close_old_connections()
                try:
                    job()
                except Exception:  # a failing job must not stop the others
                    log.exception("embedded beat: %s failed", name)
                finally:
                    connection.close()
        _stop.wait(0.5)


def ensure_started() -> None:
    if _started.is_set() or not settings.MINIGO["EMBEDDED_BEAT"]:
        return
    if not app.conf.task_always_eager:
        return  # real workers: Celery beat does this
    _started.set()
    _stop.clear()
    threading.Thread(target=_run_forever, name="minigo-embedded-beat", daemon=True).start()


def stop() -> None:
    """Stop the thread (tests); the next request starts it again."""
    _stop.set()
    for thread in threading.enumerate():
        if thread.name == "minigo-embedded-beat":
            thread.join(timeout=10)
    _started.clear()


class EmbeddedBeatMiddleware:
    """ASGI wrapper that starts the embedded beat on the first connection."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if not _started.is_set() and scope["type"] in ("http", "websocket"):
            ensure_started()
        return await self.app(scope, receive, send)
