"""Faults: real Celery workers against a private Redis and the test PostgreSQL
database, killed, cut off and restarted mid-run. Nothing acked is lost, nothing is applied
twice.

Each test runs its own redis-server on a free loopback port (never the shared one) and
starts `celery -A minigo worker` subprocesses on the test database (through
tests/edge_agent/daphne_settings.py). The task is made slow INSIDE the service's
transaction with the fault hook `MINIGO_FAULT_SLEEP_IN=shelf_event_apply:N` (store/faults.py,
off by default), so a kill or a dropped connection lands mid-task.

Daphne restarts are covered by tests/edge_agent/test_against_daphne.py
(test_events_sent_across_a_server_restart_all_arrive_exactly_once) and the agent's full disk
by tests/edge_agent/test_faults_disk.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from store.models import CartEntry, ShelfEvent
from tests.conftest import needs_postgres
from tests.edge_agent.daphne_server import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    needs_postgres(),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs the redis-server binary"),
    pytest.mark.django_db(transaction=True),
]


class PrivateRedis:
    """A throwaway redis-server on a free loopback port, no persistence."""

    def __init__(self, tmp: Path) -> None:
        self.port, self.tmp = free_port(), tmp
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        _until(lambda: _ping(redis, self.url), 20, "redis-server to answer")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _ping(redis, url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.exceptions.ConnectionError:
        return False


def _until(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def celery_start(cmd: list[str], *, redis_url: str, log: Path, channels: str, **env: str):
    """Start a Celery process (or its supervisor) on the test database and the given Redis,
    in its own session so that a kill takes its children too, logging to `log`."""
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.edge_agent.daphne_settings",
        "MINIGO_TEST_SERVER_DB": connection.settings_dict["NAME"],
        "REDIS_URL": redis_url,
        "MINIGO_CHANNEL_PREFIX": f"{channels}{os.getpid()}",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "LOG_LEVEL": "INFO",
        **env,
    }
    with log.open("ab") as fh:
        return subprocess.Popen(
            cmd, cwd=ROOT, env=full_env, stdout=fh, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


class Worker:
    def __init__(self, *, redis_url: str, log: Path, beat: bool = False, **env: str) -> None:
        self.log = log
        cmd = [sys.executable, "-m", "celery", "-A", "minigo", "worker", "--concurrency", "1",
               "--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n",
               f"fault{os.getpid()}-{log.stem}@%h"]  # fmt: skip
        if beat:
            cmd += ["--beat", "--schedule", str(log.with_suffix(".beat"))]
        self.proc = celery_start(cmd, redis_url=redis_url, log=log, channels="faults", **env)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        _until(lambda: "ready." in self.text(), 120, f"worker ready ({self.log})")

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool child."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def private_redis(tmp_path):
    r = PrivateRedis(tmp_path)
    r.start()
    yield r
    r.kill()


@pytest.fixture
def inside(visit):
    """The shopper walked in a minute ago: before every event of these tests."""
    from store.models import Visit

    Visit.objects.filter(pk=visit.pk).update(entered_at=timezone.now() - timedelta(minutes=1))
    return visit


@pytest.fixture
def workers(tmp_path):
    started: list[Worker] = []

    def start(redis_url: str, name: str, **kw) -> Worker:
        w = Worker(redis_url=redis_url, log=tmp_path / f"{name}.log", **kw)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()
        print(f"--- {w.log.name} ---\n{w.text()[-4000:]}")


def _publisher(url: str) -> Celery:
    return Celery("fault-test", broker=url, set_as_current=False)


def _stored_event(store, event_id: str, *, age_s: float = 30.0) -> ShelfEvent:
    """A shelf event as the device endpoint stores it before acking: one cola taken. Its
    camera window has passed (age_s) since it happened and reached the server, so the only
    shopper in the store gets it."""
    at = timezone.now() - timedelta(seconds=age_s)
    event = ShelfEvent.objects.create(
        device=store.shelf_device,
        event_id=event_id,
        slot_code="A1",
        sensor="load_cell",
        before=4200,
        after=3850,
        occurred_at=at,
    )
    ShelfEvent.objects.filter(pk=event.pk).update(received_at=at)
    event.received_at = at
    return event


def _assert_applied_once(store, events: list[ShelfEvent], stock_before: int) -> None:
    for event in events:
        event.refresh_from_db()
        assert event.status == "applied", (event.event_id, event.status, event.result)
        assert CartEntry.objects.filter(shelf_event=event).count() == 1
    store.a1.refresh_from_db()
    assert store.a1.stock == stock_before - len(events)


def _applied(events: list[ShelfEvent]) -> bool:
    pks = [e.pk for e in events]
    return ShelfEvent.objects.filter(pk__in=pks, status="applied").count() == len(pks)


def test_a_worker_killed_mid_task_leaves_the_event_to_be_applied_exactly_once(
    store, inside, private_redis, workers
):
    event = _stored_event(store, "kill-1")
    first = workers(private_redis.url, "first", MINIGO_FAULT_SLEEP_IN="shelf_event_apply:60")
    first.wait_ready()
    _publisher(private_redis.url).send_task("store.tasks.process_shelf_event", args=[event.pk])
    _until(lambda: "fault injection: sleeping" in first.text(), 60, "the task to reach the fault")
    # Mid-task: the entry and the stock move exist only inside the open transaction.
    assert CartEntry.objects.filter(shelf_event=event).count() == 0
    first.kill()
    time.sleep(3.5)  # past the visibility timeout: the next worker restores the message
    second = workers(private_redis.url, "second")
    second.wait_ready()
    _until(lambda: _applied([event]), 90, "the event to be applied by the second worker")
    time.sleep(2)  # a stray second delivery would have landed by now
    _assert_applied_once(store, [event], stock_before=12)


def test_the_database_connection_dropped_mid_task_is_retried_and_applied_once(
    store, inside, private_redis, workers
):
    events = [_stored_event(store, f"drop-{i}") for i in range(3)]
    w = workers(private_redis.url, "dropped", MINIGO_FAULT_SLEEP_IN="shelf_event_apply:3")
    w.wait_ready()
    app = _publisher(private_redis.url)
    for event in events:
        app.send_task("store.tasks.process_shelf_event", args=[event.pk])
    _until(lambda: "fault injection: sleeping" in w.text(), 60, "the task to reach the fault")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cur.fetchall(), "no worker connection to drop"
    _until(lambda: _applied(events), 120, "every event to be applied after the retry")
    assert "Retry" in w.text() or "OperationalError" in w.text()
    _assert_applied_once(store, events, stock_before=12)


def test_a_redis_restart_loses_no_acked_event(store, inside, private_redis, workers, tmp_path):
    """Redis here keeps nothing across a restart, so queued tasks vanish with it. The events
    themselves were stored in PostgreSQL before they were acked; the periodic settle task
    (beat) decides every event still pending after its window. Meanwhile the worker
    reconnects to the new Redis by itself."""
    queued = [_stored_event(store, f"redis-{i}") for i in range(2)]
    app = _publisher(private_redis.url)
    for event in queued:  # queued while no worker runs ...
        app.send_task("store.tasks.process_shelf_event", args=[event.pk])
    w = workers(private_redis.url, "beat", beat=True)
    private_redis.kill()  # ... and lost with Redis
    time.sleep(2)
    private_redis.start()
    w.wait_ready()
    _until(lambda: _applied(queued), 90, "the settle task to apply the lost events")
    # The worker survived the restart and takes new work from the new Redis.
    later = _stored_event(store, "redis-later", age_s=0.0)
    app = _publisher(private_redis.url)
    app.send_task("store.tasks.process_shelf_event", args=[later.pk])
    private_redis.kill()
    time.sleep(2)
    private_redis.start()
    _until(lambda: _applied(queued + [later]), 90, "the event published before a restart")
    _assert_applied_once(store, queued + [later], stock_before=12)
