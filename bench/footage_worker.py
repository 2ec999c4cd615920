"""The Celery app of bench/real_footage.py's workers: MiniGo's own app, plus a record of the CPU
each task took (this process's user + system time around the task, from the task's start to
its end, its on-commit work included) and its wall time, written one JSON line per task to
$FOOTAGE_TASK_LOG.<pid>. A frame task's line also says whether its faces were computed
(or deferred) and whether it came from a gate or a shelf, read after the CPU is taken.

    PYTHONPATH=bench:. celery -A footage_worker worker …
"""

from __future__ import annotations

import json
import os
import time

from celery.signals import task_postrun, task_prerun

from minigo.celery import app

__all__ = ["app"]

_started: dict[str, tuple[float, float]] = {}
_out = None


def _log():
    global _out
    if _out is None:
        _out = open(f"{os.environ['FOOTAGE_TASK_LOG']}.{os.getpid()}", "a", buffering=1)  # noqa: SIM115
    return _out


@task_prerun.connect
def _before(task_id=None, **_kw) -> None:
    _started[task_id] = (time.process_time(), time.monotonic())


@task_postrun.connect
def _after(task_id=None, task=None, args=None, kwargs=None, **_kw) -> None:
    cpu0, wall0 = _started.pop(task_id, (time.process_time(), time.monotonic()))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    name = task.name.rsplit(".", 1)[-1] if task else "?"
    record = {
        "task": name,
        "cpu": round(cpu, 5),
        "wall": round(wall, 5),
        "at": round(time.time(), 3),
    }
    args = list(args or [])
    if name == "process_frame" and args:
        from store.models import Frame

        row = (
            Frame.objects.filter(pk=args[0]).values_list("device__kind", "result", "status").first()
        )
        if row is not None:
            kind, result, status = row
            record.update(
                frame=args[0],
                kind=kind,
                status=status,
                deferred=bool((result or {}).get("faces_deferred")),
                faces=len((result or {}).get("faces") or []),
            )
    elif name == "process_shelf_event" and args:
        record["event"] = args[0]
        record["wake"] = bool((kwargs or {}).get("wake"))
        record["final"] = bool((kwargs or {}).get("final") or (len(args) > 1 and args[1]))
    _log().write(json.dumps(record) + "\n")
