"""What a task costs: SQL statements per frame, one channel-layer trip per task, worker
connections kept between tasks, no stored results."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from store.models import Frame, Sighting, Visit
from store.services import live
from store.services.events import event_store
from store.services.frames import frame_process, frame_store
from store.services.pixels import pixels_get
from store.services.shelf_events import shelf_event_process
from store.services.visits import visit_open
from tests.conftest import needs_postgres


@pytest.fixture
def two_inside(store, visit, other_shopper):
    # Named by `sees` frames: only consenting shoppers can be.
    type(other_shopper).objects.filter(pk__in=[visit.shopper_id, other_shopper.pk]).update(
        face_consent=True
    )
    return visit, visit_open(shopper=other_shopper, device=store.gate_in)[0]


@pytest.fixture
def sees(settings):
    settings.MINIGO = {**settings.MINIGO, "ACCEPT_SEES": True}


def _store_sees_frame(store, event_id, at, names):
    header = {"event_id": event_id, "camera": "0", "seq": 1, "ts": at.timestamp(),
              "sees": {"shoppers": names}}  # fmt: skip
    return frame_store(device=store.shelf_device, header=header, jpeg=b"\xff\xd8", width=4,
                       height=4)[0]  # fmt: skip


@pytest.mark.django_db(transaction=True)  # as in a worker: the task's transaction is outermost
def test_a_shelf_frame_task_runs_at_most_five_sql_statements(store, two_inside, sees):
    kit, ana = two_inside
    now = timezone.now()
    msg = {"event_id": "e1", "slot": "A1", "sensor": "load_cell", "before": 4200.0,
           "after": 3850.0, "ts": now.timestamp()}  # fmt: skip
    event = event_store(device=store.shelf_device, msg=msg)[0]
    shelf_event_process(event_id=event.pk)  # waits for a face
    frame = _store_sees_frame(store, "f1", now, [{"id": "kit", "x": 0.2}, "ana", "unknown-7"])
    with CaptureQueriesContext(connection) as queries:
        frame_process(frame_id=frame.pk)
    assert len(queries) <= 5, [q["sql"][:70] for q in queries]
    frame.refresh_from_db()
    assert frame.status == "applied" and len(frame.result["sightings"]) == 2
    assert Sighting.objects.filter(frame=frame).count() == 3  # two shoppers, one unknown face
    assert Visit.objects.get(pk=kit.pk).last_seen_device_id == store.shelf_device.pk


def test_a_frame_processed_twice_is_applied_once(store, two_inside, sees):
    frame = _store_sees_frame(store, "f1", timezone.now(), ["kit"])
    frame_process(frame_id=frame.pk)
    frame_process(frame_id=frame.pk)
    assert Sighting.objects.filter(frame=frame).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_run_that_loses_the_race_rolls_its_writes_back(store, two_inside, sees):
    frame = Frame.objects.create(
        device=store.shelf_device, event_id="f1", captured_at=timezone.now(), width=4,
        height=4, result={"sees": {"shoppers": ["kit"]}},
    )  # fmt: skip
    # Another run marks the frame processed while this one is between vision and writing.
    real_apply = __import__("store.services.sightings", fromlist=["x"]).shelf_frame_apply

    def apply_after_the_other_run(**kw):
        Frame.objects.filter(pk=frame.pk).update(status="applied")
        return real_apply(**kw)

    with mock.patch("store.services.sightings.shelf_frame_apply", apply_after_the_other_run):
        frame_process(frame_id=frame.pk)
    assert not Sighting.objects.filter(frame=frame).exists()


def test_pixels_wait_outside_the_database_and_go_once_processed(
    store, django_capture_on_commit_callbacks
):
    header = {"event_id": "f1", "camera": "0", "seq": 1, "ts": timezone.now().timestamp()}
    with django_capture_on_commit_callbacks(execute=False):
        frame = frame_store(device=store.gate_in, header=header, jpeg=b"not a jpeg",
                            width=4, height=4)[0]  # fmt: skip
    assert Frame.objects.filter(pk=frame.pk, jpeg__isnull=True).exists()
    assert pixels_get(frame=frame) == b"not a jpeg"
    with django_capture_on_commit_callbacks(execute=True):
        frame_process(frame_id=frame.pk)
    frame.refresh_from_db()
    assert frame.status == "failed" and frame.result["error"]  # not a JPEG: refused, recorded
    assert pixels_get(frame=frame) is None


def test_a_frame_whose_pixels_expired_is_recorded_as_failed(store):
    frame = Frame.objects.create(
        device=store.gate_in, event_id="f1", captured_at=timezone.now(), width=4, height=4
    )
    frame_process(frame_id=frame.pk)
    frame.refresh_from_db()
    assert frame.status == "failed" and frame.result == {"error": "pixels_expired"}


@pytest.mark.django_db(transaction=True)
def test_broadcasts_of_one_task_go_out_in_one_trip():
    sent = []
    with mock.patch.object(live, "_flush", side_effect=lambda batch: sent.append(list(batch))):
        with live.batched():
            for n in range(3):
                with transaction.atomic():
                    live.to_managers("ping", {"n": n})
    assert [[m["data"]["n"] for _, m in batch] for batch in sent] == [[0, 1, 2]]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_adds_nothing_to_the_batch():
    sent = []
    with mock.patch.object(live, "_flush", side_effect=lambda batch: sent.append(list(batch))):
        with live.batched():
            with transaction.atomic():
                live.to_managers("kept", {})
            try:
                with transaction.atomic():
                    live.to_managers("rolled_back", {})
                    raise RuntimeError
            except RuntimeError:
                pass
    assert [[m["event"] for _, m in batch] for batch in sent] == [["kept"]]


def test_tasks_store_no_results_except_the_ping():
    from store import tasks

    assert tasks.process_frame.ignore_result and tasks.process_shelf_event.ignore_result
    assert tasks.settle_shelf_events.ignore_result and not tasks.ping.ignore_result


class FakeRequest:
    is_eager = False


class FakeTask:
    request = FakeRequest()


def test_a_worker_keeps_its_connection_between_tasks(db):
    from minigo import worker_db

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    raw = connection.connection
    worker_db.after_task(sender=FakeTask())
    worker_db.before_task(sender=FakeTask())
    assert connection.connection is raw and connection.health_check_done


def test_a_worker_replaces_a_connection_that_failed(db):
    from minigo import worker_db

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.errors_occurred = True
    with (
        mock.patch.object(connection, "is_usable", return_value=False),
        mock.patch.object(connection, "in_atomic_block", False),
        mock.patch.object(connection, "close") as close,
    ):
        worker_db.after_task(sender=FakeTask())
    close.assert_called_once()
    connection.errors_occurred = False


def test_a_worker_checks_a_connection_idle_for_long(db):
    from minigo import worker_db

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    worker_db._last_used[connection.alias] = 0.0  # idle since long ago
    with mock.patch.object(connection, "close_if_unusable_or_obsolete") as check:
        worker_db.before_task(sender=FakeTask())
    check.assert_called_once()


def test_the_django_fixup_no_longer_closes_connections_per_task():
    from celery import signals

    from minigo import worker_db
    from minigo.celery import app

    fixup = next(f for f in app._fixups if hasattr(f, "worker_fixup"))
    worker_fixup = fixup.worker_fixup
    signals.task_prerun.connect(worker_fixup.on_task_prerun)
    worker_db.install(app)
    from celery.utils.dispatch.signal import _make_id

    keys = [key[0] for key, _ in signals.task_prerun.receivers]
    assert _make_id(worker_db.before_task) in keys
    assert _make_id(worker_fixup.on_task_prerun) not in keys
    signals.task_prerun.disconnect(worker_db.before_task)
    signals.task_postrun.disconnect(worker_db.after_task)


class FakeConnection:
    def __init__(self, *, errors=False, close_at=None):
        self.errors_occurred, self.close_at, self.checked = errors, close_at, 0

    def close_if_unusable_or_obsolete(self):
        self.checked += 1


def test_the_device_endpoint_replaces_a_connection_only_after_an_error_or_old_age():
    import time

    from asgiref.sync import async_to_sync

    from store import consumers

    fine, failed = FakeConnection(), FakeConnection(errors=True)
    old = FakeConnection(close_at=time.monotonic() - 1)
    with mock.patch.object(consumers, "connections") as conns:
        conns.all.return_value = [fine, failed, old]
        async_to_sync(consumers._parallel_db(lambda: None))()
    assert (fine.checked, failed.checked, old.checked) == (0, 1, 1)


def test_one_settle_run_is_queued_at_a_time_and_a_started_run_lets_the_next_poke_queue():
    from django.core.cache import cache

    from minigo.celery import app
    from store import tasks

    cache.delete(tasks.SETTLE_QUEUED)
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with mock.patch.object(tasks.settle_receipts, "delay") as delay:
            tasks.settle_receipts_soon()
            tasks.settle_receipts_soon()  # the first run has not started: it covers this
            assert delay.call_count == 1
            with mock.patch("store.services.settlement.visits_settle", return_value=0):
                tasks.settle_receipts.run()  # the run starts
            tasks.settle_receipts_soon()
            assert delay.call_count == 2
    finally:
        app.conf.task_always_eager = before


@pytest.mark.django_db(transaction=True)
def test_a_pick_decided_by_the_face_next_to_it_reads_its_shelfs_slots_once(store, two_inside, sees):
    from store.models import CartEntry, ShelfEvent

    kit, _ana = two_inside
    now = timezone.now()
    # The camera's frames of the moment, on both sides of the pick, are in (their faces
    # analysed, as they are when a pick already waits at the shelf).
    with mock.patch("store.services.ondemand.vision_wanted", return_value=True):
        for k in range(4):
            at = now + timedelta(seconds=k / 2)
            frame_process(
                frame_id=_store_sees_frame(store, f"f{k}", at, [{"id": "kit", "x": 0.2}]).pk
            )
    # Stored without its task, so that the task's own statements are counted here.
    event = ShelfEvent.objects.create(
        device=store.shelf_device, event_id="e1", slot_code="A1", sensor="load_cell",
        before=4200.0, after=3850.0, occurred_at=now,
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        shelf_event_process(event_id=event.pk)
    statements = [
        q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN"))
    ]
    statements = [s for s in statements if s != "COMMIT"]
    assert CartEntry.objects.get(shelf_event=event).visit_id == kit.pk
    # One read of the shelf's slots and the slot's row lock for the stock move.
    assert sum(1 for s in statements if s.startswith("SELECT") and 'FROM "store_slot"' in s) <= 2
    # Everything else once: the sightings and the capture times of the camera's frames around
    # the event (its pace) among them.
    assert len(statements) <= 22, [s[:70] for s in statements]


@needs_postgres()
@pytest.mark.django_db(transaction=True)
def test_deciding_a_pick_locks_the_event_not_its_shelf_device(store, two_inside, sees):
    from store.models import ShelfEvent

    event = ShelfEvent.objects.create(
        device=store.shelf_device, event_id="e1", slot_code="A1", sensor="load_cell",
        before=4200.0, after=3850.0, occurred_at=timezone.now(),
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        shelf_event_process(event_id=event.pk)
    locks = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
    event_lock = next(s for s in locks if 'FROM "store_shelfevent"' in s)
    # The device endpoint locks the device row for heartbeats: the decision must not hold it.
    assert 'FOR UPDATE OF "store_shelfevent"' in event_lock
