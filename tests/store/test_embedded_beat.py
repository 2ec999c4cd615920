"""Embedded mode has no Celery beat: the server process runs the periodic jobs itself."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from minigo import embedded_beat
from store.models import ReviewItem
from store.services.events import event_store
from store.services.visits import visit_open


@pytest.mark.django_db(transaction=True)
def test_a_waiting_pick_is_decided_when_its_window_closes(
    store, shopper, other_shopper, settings, monkeypatch
):
    for s in (shopper, other_shopper):
        visit_open(shopper=s)
    when = timezone.now() - timedelta(seconds=1)
    event, _ = event_store(
        device=store.shelf_device,
        msg={
            "event_id": "e1",
            "slot": "A1",
            "sensor": "load_cell",
            "before": 4200,
            "after": 3850,
            "ts": when.timestamp(),
        },
    )
    event.refresh_from_db()
    assert event.status == "pending"  # two shoppers, no face yet: it waits for the camera

    settings.MINIGO = {**settings.MINIGO, "EMBEDDED_BEAT": True}
    embedded_beat.ensure_started()
    try:
        assert any(t.name == "minigo-embedded-beat" for t in threading.enumerate())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            event.refresh_from_db()
            if event.status != "pending":
                break
            time.sleep(0.5)
    finally:
        embedded_beat.stop()
    assert not any(t.name == "minigo-embedded-beat" for t in threading.enumerate())
    assert event.status == "review"
    assert ReviewItem.objects.get(shelf_event=event).reason == "who_unknown"


def test_it_stays_off_with_real_workers(settings):
    from minigo.celery import app

    settings.MINIGO = {**settings.MINIGO, "EMBEDDED_BEAT": True}
    app.conf.task_always_eager = False
    try:
        embedded_beat.ensure_started()
    finally:
        app.conf.task_always_eager = True
    assert not embedded_beat._started.is_set()


def test_it_runs_celery_beats_own_jobs_at_the_same_pace():
    from minigo.celery import app

    embedded = {name: (job.name, every) for name, (job, every) in embedded_beat.schedule().items()}
    celery = {
        name: (entry["task"], float(entry["schedule"]))
        for name, entry in app.conf.beat_schedule.items()
    }
    assert embedded == celery
    assert embedded["settle-shelf-events"][0] == "store.tasks.settle_shelf_events"
