"""A processed shelf frame wakes only the shelf events that wait for camera evidence, at most
one queued wake per event, and never skips the frame that could decide one."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from store.models import Frame
from store.services import wakes
from store.services.events import event_store
from store.services.frames import frame_process
from store.services.shelf_events import shelf_event_process
from store.services.visits import visit_open


@pytest.fixture
def two_inside(store, visit, other_shopper):
    return visit, visit_open(shopper=other_shopper, device=store.gate_in)[0]


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
