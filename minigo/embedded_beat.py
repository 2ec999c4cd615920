"""Celery beat's periodic jobs, run inside the server process when MiniGo runs embedded.

With REDIS_URL, `celery -A minigo worker --beat` (or a separate `celery beat`) runs them.
Embedded there are no workers and no beat, yet a pick that waits for its camera window must
still be decided when the window closes, devices must still go offline and frames expire.
One daemon thread, started with the first request, does that."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)
_started = threading.Event()
_stop = threading.Event()

# (job, every seconds): the same jobs as CELERY_BEAT_SCHEDULE.
INTERVALS = {
    "settle": 1.0,
    "offline": 30.0,
    "expire": 3600.0,
    "stock_report": 900.0,
    "tab_statements": 900.0,
}


def _run_forever() -> None:
    from django.db import close_old_connections, connection

    from store import tasks

    jobs = {
        "settle": tasks.settle_shelf_events,
        "offline": tasks.mark_stale_devices_offline,
        "expire": tasks.expire_frames,
        "stock_report": tasks.send_stock_report,
        "tab_statements": tasks.send_tab_statements,
    }
    last = dict.fromkeys(jobs, 0.0)
    while not _stop.is_set():
        now = time.monotonic()
        for name, job in jobs.items():
            if now - last[name] >= INTERVALS[name]:
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
    from django.conf import settings

    from minigo.celery import app

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
