"""Database connections in Celery workers: kept open across tasks, checked when in doubt.

Celery's Django fix-up closes every connection before and after each task, so each task paid
a new PostgreSQL connection (and, with CONN_HEALTH_CHECKS, a `SELECT 1` on top): several
milliseconds of a worker's time per task, more than most tasks' own work. A worker instead
keeps its connection, the way a web server with CONN_MAX_AGE does between requests, and
replaces it when it cannot be trusted:

- after a task whose queries failed (`errors_occurred`): the connection is tested and closed if
  it no longer works (tasks retry OperationalError, so the retry gets a fresh one);
- after a task that left a transaction or autocommit in an unexpected state: closed;
- past CONN_MAX_AGE: closed, so connections are recycled as on the web side;
- before a task, when the connection has been idle longer than IDLE_CHECK_S: tested with one
  cheap query (a firewall or PgBouncer may have dropped an idle connection). A connection busy
  with tasks a moment ago is not tested again for every task.
"""

from __future__ import annotations

import time
from typing import Any

from celery import signals

# A connection unused this long is tested before the next task uses it.
IDLE_CHECK_S = 30.0

_last_used: dict[str, float] = {}


def _connections():
    from django.db import connections

    return connections.all(initialized_only=True)


def before_task(sender: Any = None, **kwargs: Any) -> None:
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    now = time.monotonic()
    for conn in _connections():
        if conn.connection is None:
            continue
        if now - _last_used.get(conn.alias, now) > IDLE_CHECK_S:
            # Django runs its health check (one `SELECT 1`) on the next use and reconnects
            # if the server dropped the connection.
            conn.close_if_unusable_or_obsolete()
        else:
            conn.health_check_done = True


def after_task(sender: Any = None, **kwargs: Any) -> None:
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    now = time.monotonic()
    for conn in _connections():
        _last_used[conn.alias] = now
        if conn.connection is None:
            continue
        if conn.in_atomic_block or conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"]:
            conn.close()
        elif conn.errors_occurred:
            if conn.is_usable():
                conn.errors_occurred = False
            else:
                conn.close()
        elif conn.close_at is not None and now >= conn.close_at:
            conn.close()


def install(app: Any) -> None:
    """Replace the Django fix-up's close-per-task handlers with the policy above. Called when
    a worker starts (the fix-up has installed its handlers by then)."""
    for fixup in getattr(app, "_fixups", []):
        worker_fixup = getattr(fixup, "_worker_fixup", None)
        if worker_fixup is None:
            continue
        signals.task_prerun.disconnect(worker_fixup.on_task_prerun)
        signals.task_postrun.disconnect(worker_fixup.on_task_postrun)
    signals.task_prerun.connect(before_task, weak=False)
    signals.task_postrun.connect(after_task, weak=False)
