"""Supervised workers (minigo.supervise, as `make run` starts them): Redis killed under load
and a worker killed mid-task. Work resumes by itself: nothing lost, nothing doubled, no person
involved. Each test runs its own redis-server on a free port (never the shared one)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image

from store.models import Frame
from tests.conftest import needs_postgres
from tests.store.test_faults import (
    PrivateRedis,
    _applied,
    _assert_applied_once,
    _publisher,
    _stored_event,
    _until,
    celery_start,
)

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    needs_postgres(),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs the redis-server binary"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
]

FLAGS = ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"]


class Supervised:
    """`python -m minigo.supervise -- celery ...` with the test database and a private Redis."""

    def __init__(self, *, redis_url: str, log: Path, args: list[str], **env: str) -> None:
        self.log = log
        cmd = [sys.executable, "-m", "minigo.supervise", "--name", log.stem, "--",
               sys.executable, "-m", "celery", "-A", "minigo", *args]  # fmt: skip
        self.proc = celery_start(cmd, redis_url=redis_url, log=log, channels="sup", **env)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def child_pids(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for pid in self.child_pids():  # never leave a worker behind
            os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def redis_server(tmp_path):
    r = PrivateRedis(tmp_path)
    r.start()
    yield r
    r.kill()


@pytest.fixture
def supervised(tmp_path):
    started: list[Supervised] = []

    def start(redis_url: str, name: str, args: list[str], **env: str) -> Supervised:
        s = Supervised(redis_url=redis_url, log=tmp_path / f"{name}.log", args=args, **env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
        print(f"--- {s.log.name} ---\n{s.text()[-4000:]}")


@pytest.fixture
def inside(visit):
    from store.models import Visit

    Visit.objects.filter(pk=visit.pk).update(entered_at=timezone.now() - timedelta(minutes=1))
    return visit


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 10)).save(buf, "JPEG")
    return buf.getvalue()


def _stored_frame(store, event_id: str) -> Frame:
    """A frame as the device endpoint stores it before acking (its task is published below,
    to the private Redis, not run here)."""
    jpeg = _jpeg()
    return Frame.objects.create(
        device=store.shelf_device,
        event_id=event_id,
        camera="0",
        seq=1,
        captured_at=timezone.now() - timedelta(seconds=30),
        width=64,
        height=48,
        jpeg=jpeg,
        digest=hashlib.sha256(jpeg).hexdigest(),
    )


def test_redis_killed_under_load_work_resumes_with_nothing_lost_or_doubled(
    store, inside, redis_server, supervised, tmp_path
):
    worker = supervised(
        redis_server.url,
        "worker",
        ["worker", "--concurrency", "1", *FLAGS, "-n", f"sup{os.getpid()}@%h"],
        MINIGO_FAULT_SLEEP_IN="shelf_event_apply:0.3",
        MINIGO_FRAME_RECOVER_AFTER_S="10",
    )
    beat = supervised(
        redis_server.url,
        "beat",
        ["beat", "--loglevel", "INFO", "--schedule", str(tmp_path / "beat-schedule")],
    )
    _until(lambda: "ready." in worker.text(), 120, "the worker to be ready")
    app = _publisher(redis_server.url)
    events = [_stored_event(store, f"load-{i}") for i in range(8)]
    frames = [_stored_frame(store, f"f-load-{i}") for i in range(3)]
    for event in events:
        app.send_task("store.tasks.process_shelf_event", args=[event.pk])
    for frame in frames:
        app.send_task("store.tasks.process_frame", args=[frame.pk])
    _until(lambda: "fault injection: sleeping" in worker.text(), 60, "work to be under way")
    # Redis dies under load, with tasks queued and one running; it keeps nothing.
    redis_server.kill()
    time.sleep(3)
    redis_server.start()
    # The device endpoint keeps storing and publishing once Redis is back.
    later = [_stored_event(store, f"later-{i}", age_s=0.0) for i in range(3)]
    app = _publisher(redis_server.url)
    for event in later:
        app.send_task("store.tasks.process_shelf_event", args=[event.pk])
    every = events + later
    _until(lambda: _applied(every), 180, "every event to be applied after the restart")
    pks = [f.pk for f in frames]
    _until(
        lambda: Frame.objects.filter(pk__in=pks, status="applied").count() == len(pks),
        180,
        "the frames whose tasks were lost to be recovered",
    )
    time.sleep(2)  # a stray second delivery would have landed by now
    _assert_applied_once(store, every, stock_before=12)
    # The frames' tasks were queued behind the events and lost with Redis: the periodic
    # recovery job queued them again.
    assert "recover-frames" in beat.text()
    assert "Unrecoverable error" not in worker.text()
    assert beat.proc.poll() is None and worker.proc.poll() is None


def test_a_worker_killed_mid_task_comes_back_by_itself_and_the_task_is_redelivered(
    store, inside, redis_server, supervised
):
    event = _stored_event(store, "sup-kill-1")
    worker = supervised(
        redis_server.url,
        "killed",
        ["worker", "--concurrency", "1", *FLAGS, "-n", f"supk{os.getpid()}@%h"],
        MINIGO_FAULT_SLEEP_IN="shelf_event_apply:8",
    )
    _until(lambda: "ready." in worker.text(), 120, "the worker to be ready")
    _publisher(redis_server.url).send_task("store.tasks.process_shelf_event", args=[event.pk])
    _until(lambda: "fault injection: sleeping" in worker.text(), 60, "the task to reach the fault")
    first = worker.child_pids()
    assert len(first) == 1
    os.killpg(first[0], signal.SIGKILL)  # the worker and its pool, mid-task; not the supervisor
    _until(lambda: "restarting" in worker.text(), 30, "the supervisor to notice")
    _until(lambda: worker.child_pids() and worker.child_pids() != first, 60, "a new worker process")
    _until(lambda: _applied([event]), 120, "the redelivered task to be applied")
    time.sleep(2)
    _assert_applied_once(store, [event], stock_before=12)
