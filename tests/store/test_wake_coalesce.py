"""A processed shelf frame wakes only the shelf events that wait for camera evidence, at most
one queued wake per event, and never skips the frame that could decide one."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from store.models import CartEntry, Frame, ShelfEvent
from store.services import wakes
from store.services.events import event_store
from store.services.frames import frame_process
from store.services.shelf_events import shelf_event_process


@pytest.fixture
def sees(settings):
    settings.MINIGO = {**settings.MINIGO, "ACCEPT_SEES": True}


def _event(store, event_id, at):
    msg = {"event_id": event_id, "slot": "A1", "sensor": "load_cell", "before": 4200.0,
           "after": 3850.0, "ts": at.timestamp()}  # fmt: skip
    return event_store(device=store.shelf_device, msg=msg)[0]


def _sees_frame(store, event_id, at, names):
    return Frame.objects.create(
        device=store.shelf_device, event_id=event_id, captured_at=at, width=4, height=4,
        result={"sees": {"shoppers": names}},
    )  # fmt: skip


def _woken(django_capture_on_commit_callbacks, frame) -> list:
    with mock.patch("store.tasks.process_shelf_event.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            frame_process(frame_id=frame.pk)
    return [c.args for c in delay.call_args_list]


def test_only_an_event_that_waits_is_woken(
    store, two_inside, sees, django_capture_on_commit_callbacks
):
    now = timezone.now()
    waiting = _event(store, "e1", now)
    shelf_event_process(event_id=waiting.pk)  # two shoppers, no face yet: it waits
    waiting.refresh_from_db()
    assert waiting.status == "pending" and waiting.result["waiting"] == "sightings"
    not_yet_run = _event(store, "e2", now + timedelta(seconds=0.5))  # its task has not run
    frame = _sees_frame(store, "f1", now + timedelta(seconds=0.2), ["kit"])
    assert _woken(django_capture_on_commit_callbacks, frame) == [(waiting.pk,)]
    assert not_yet_run.pk not in wakes.waiting_near(device_pk=store.shelf_device.pk, when=now)


def test_a_queued_wake_that_has_not_started_takes_the_next_frame_along(
    store, two_inside, sees, django_capture_on_commit_callbacks
):
    now = timezone.now()
    event = _event(store, "e1", now)
    shelf_event_process(event_id=event.pk)
    first = _sees_frame(store, "f1", now, ["unknown-1"])
    second = _sees_frame(store, "f2", now + timedelta(seconds=0.5), ["kit"])
    assert _woken(django_capture_on_commit_callbacks, first) == [(event.pk,)]
    # The first wake has not started: it will read the second frame's sightings too.
    assert _woken(django_capture_on_commit_callbacks, second) == []


def test_a_frame_committed_after_the_wake_started_queues_another(
    store, two_inside, sees, django_capture_on_commit_callbacks
):
    now = timezone.now()
    event = _event(store, "e1", now)
    shelf_event_process(event_id=event.pk)
    first = _sees_frame(store, "f1", now, ["unknown-1"])
    second = _sees_frame(store, "f2", now + timedelta(seconds=0.5), ["kit"])
    assert _woken(django_capture_on_commit_callbacks, first) == [(event.pk,)]
    wakes.wake_started(event_pk=event.pk)  # the wake began and read the sightings so far
    assert _woken(django_capture_on_commit_callbacks, second) == [(event.pk,)]


def test_a_decided_event_leaves_the_registry(store, two_inside, sees):
    now = timezone.now()
    event = _event(store, "e1", now)
    shelf_event_process(event_id=event.pk)
    assert wakes.waiting_near(device_pk=store.shelf_device.pk, when=now) == [event.pk]
    shelf_event_process(event_id=event.pk, final=True)
    assert wakes.waiting_near(device_pk=store.shelf_device.pk, when=now) == []


def test_the_registry_answers_only_within_the_window(store):
    now = timezone.now()
    wakes.waiting_add(device_pk=store.shelf_device.pk, event_pk=991, occurred_at=now)
    assert wakes.waiting_near(device_pk=store.shelf_device.pk, when=now + timedelta(seconds=2))
    assert not wakes.waiting_near(device_pk=store.shelf_device.pk, when=now + timedelta(seconds=10))
    assert not wakes.waiting_near(device_pk=store.gate_in.pk, when=now)


def test_the_frame_that_closes_a_waiting_events_window_wakes_it(
    store, two_inside, sees, settings, django_capture_on_commit_callbacks
):
    window = settings.MINIGO["ATTRIBUTION_WINDOW_S"]
    now = timezone.now()
    event = _event(store, "e1", now)
    shelf_event_process(event_id=event.pk)  # two shoppers, no face: it waits
    # Nobody in view, captured just past the window: no evidence, but the window is closed.
    closing = _sees_frame(store, "f1", now + timedelta(seconds=window + 0.2), [])
    assert _woken(django_capture_on_commit_callbacks, closing) == [(event.pk,)]
    wakes.wake_started(event_pk=event.pk)
    event = shelf_event_process(event_id=event.pk)  # what the wake does: decided now
    assert event.status == "review" and event.result["reason"] == "who_unknown"


def test_on_a_calibrated_slot_a_frame_without_faces_inside_the_window_wakes_nobody(
    store, two_inside, sees, django_capture_on_commit_callbacks
):
    store.a1.reach_from, store.a1.reach_to = 0.0, 0.5
    store.a1.save(update_fields=["reach_from", "reach_to"])
    now = timezone.now()
    event = _event(store, "e1", now)
    shelf_event_process(event_id=event.pk)
    empty = _sees_frame(store, "f1", now + timedelta(seconds=1), [])
    assert _woken(django_capture_on_commit_callbacks, empty) == []


def test_on_a_slot_without_a_reach_band_frames_showing_nobody_wake_the_pick_and_decide_it(
    store, two_inside, sees, django_capture_on_commit_callbacks
):
    kit, _ana = two_inside
    type(kit.shopper).objects.filter(pk=kit.shopper_id).update(face_consent=True)
    now = timezone.now()
    for k, dt in enumerate((-0.5, -0.02)):
        frame_process(frame_id=_sees_frame(store, f"b{k}", now + timedelta(seconds=dt), ["kit"]).pk)
    # Those frames' faces were deferred; the pick has them analysed.
    with mock.patch("store.tasks.process_shelf_event.delay"):
        with django_capture_on_commit_callbacks(execute=True):
            event = shelf_event_process(event_id=_event(store, "e1", now).pk)
    wakes.wake_started(event_pk=event.pk)  # the wake those frames queued runs
    event = shelf_event_process(event_id=event.pk)
    # A lone face, but the frames just after the pick (where someone else may turn to the
    # camera) are not in yet.
    assert event.status == "pending" and event.result["best"]["name"] == "Kit"
    # Kit walked off with it: the next frames show nobody, and each one wakes the pick.
    for k, dt in enumerate((0.5, 1.0, 1.5)):
        frame = _sees_frame(store, f"a{k}", now + timedelta(seconds=dt), [])
        assert _woken(django_capture_on_commit_callbacks, frame) == [(event.pk,)]
        wakes.wake_started(event_pk=event.pk)
        event = shelf_event_process(event_id=event.pk)
        assert event.status == ("applied" if dt >= 1.5 else "pending")
    assert CartEntry.objects.get(shelf_event=event).visit_id == kit.pk


def test_frames_long_past_the_window_leave_the_event_to_its_final_run(store, settings):
    window = settings.MINIGO["ATTRIBUTION_WINDOW_S"]
    grace = settings.MINIGO["ATTRIBUTION_GRACE_S"]
    now = timezone.now()
    device = store.shelf_device.pk
    wakes.waiting_add(device_pk=device, event_pk=992, occurred_at=now)
    past = now + timedelta(seconds=window + 0.1)
    late = now + timedelta(seconds=window + grace + 0.5)
    assert wakes.waiting_to_wake(device_pk=device, when=past, evidence=False) == [992]
    assert wakes.waiting_to_wake(device_pk=device, when=now, evidence=True) == [992]
    assert wakes.waiting_to_wake(device_pk=device, when=now, evidence=False) == []
    assert wakes.waiting_to_wake(device_pk=device, when=late, evidence=True) == []


def test_an_event_waiting_only_for_queued_frames_is_woken_by_any_of_them(
    store, two_inside, sees, settings, django_capture_on_commit_callbacks
):
    window = settings.MINIGO["ATTRIBUTION_WINDOW_S"]
    now = timezone.now()
    event = _event(store, "e1", now)
    queued = _sees_frame(store, "f1", now + timedelta(seconds=1), [])  # not processed yet
    closing = _sees_frame(store, "f2", now + timedelta(seconds=window + 0.5), [])
    Frame.objects.filter(pk=closing.pk).update(status="applied")
    event = shelf_event_process(event_id=event.pk)
    assert event.status == "pending"  # its window is closed, but a frame of it is queued
    # That frame shows no face, yet it is what the event waits for.
    assert _woken(django_capture_on_commit_callbacks, queued) == [(event.pk,)]
    wakes.wake_started(event_pk=event.pk)
    assert shelf_event_process(event_id=event.pk).status == "review"


def test_one_final_run_is_queued_at_a_time_behind_the_ingest_and_a_started_one_lets_the_next(
    store, two_inside, sees, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from minigo.celery import app
    from store import tasks

    event = _event(store, "e1", timezone.now())
    cache.delete(tasks.FINAL_MARK.format(event.pk))
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with mock.patch.object(tasks.process_shelf_event, "apply_async") as apply_async:
            with django_capture_on_commit_callbacks(execute=True):
                tasks.schedule_final_decision(event=event)
                tasks.schedule_final_decision(event=event)  # woken again meanwhile: no second
            assert apply_async.call_count == 1
            assert apply_async.call_args.kwargs["priority"] == tasks.INGEST_PRIORITY
            with mock.patch("store.services.shelf_events.shelf_event_process"):
                tasks.process_shelf_event.run(event.pk, final=True)  # the final run starts
            with django_capture_on_commit_callbacks(execute=True):
                tasks.schedule_final_decision(event=event)  # it left the event waiting
            assert apply_async.call_count == 2
    finally:
        app.conf.task_always_eager = before


def test_with_workers_the_periodic_settle_queues_a_run_for_an_overdue_event_once(store):
    from django.core.cache import cache

    from minigo.celery import app
    from store import tasks

    long_ago = timezone.now() - timedelta(minutes=5)
    lost = _event(store, "e1", long_ago)  # its tasks were lost: pending, nothing queued
    queued = _event(store, "e2", long_ago)
    # Both reached the server when they happened, five minutes ago.
    ShelfEvent.objects.filter(pk__in=[lost.pk, queued.pk]).update(received_at=long_ago)
    cache.delete(tasks.FINAL_MARK.format(lost.pk))
    cache.set(tasks.FINAL_MARK.format(queued.pk), 1, 60)  # its final run is queued
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with mock.patch.object(tasks.process_shelf_event, "apply_async") as apply_async:
            assert tasks.settle_shelf_events.run() == 1
            assert tasks.settle_shelf_events.run() == 0  # queued: not again
        assert [c.args[0] for c in apply_async.call_args_list] == [(lost.pk,)]
        assert apply_async.call_args.kwargs["priority"] == tasks.INGEST_PRIORITY
    finally:
        app.conf.task_always_eager = before
    lost.refresh_from_db()
    assert lost.status == "pending"  # queued behind the ingest, not decided ahead of it
