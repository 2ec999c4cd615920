"""The device endpoint's one-LPUSH task publish writes what Celery itself writes."""

from __future__ import annotations

import base64
import json
from unittest import mock

import pytest
from django.conf import settings

from minigo.celery import app
from minigo.publish import queue_key, task_message, task_publish
from store.tasks import process_frame, process_shelf_event
from tests.conftest import needs_redis


def _shape(value):
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__ if value is not None else None


@needs_redis()
def test_the_message_is_the_one_celery_writes(settings):
    import redis

    r = redis.Redis.from_url(settings.REDIS_URL)
    queue = f"publish-test-{id(r)}"
    before = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    try:
        process_shelf_event.apply_async((41,), queue=queue, routing_key=queue)
        theirs = json.loads(r.rpop(queue))
    finally:
        app.conf.task_always_eager = before[0]
        r.delete(queue)
    ours = task_message(process_shelf_event.name, (41,), ignore_result=True, queue=queue)
    assert _shape(ours) == _shape(theirs) | {"properties": _shape(ours["properties"])}
    assert set(ours["properties"]) == set(theirs["properties"])
    assert ours["properties"]["delivery_info"] == theirs["properties"]["delivery_info"]
    assert base64.b64decode(ours["body"]) == base64.b64decode(theirs["body"])
    for key in ("lang", "task", "retries", "timelimit", "argsrepr", "ignore_result", "eta"):
        assert ours["headers"][key] == theirs["headers"][key], key


@needs_redis()
def test_it_pushes_to_the_default_queue():
    import redis

    r = redis.Redis.from_url(settings.REDIS_URL)
    queue = app.conf.task_default_queue
    before = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager, app.conf.broker_url = False, settings.REDIS_URL
    length = r.llen(queue)
    try:
        task_publish(process_frame, 7)
        message = json.loads(r.lpop(queue))
    finally:
        app.conf.task_always_eager, app.conf.broker_url = before
    assert r.llen(queue) == length
    assert message["headers"]["task"] == "store.tasks.process_frame"
    assert json.loads(base64.b64decode(message["body"]))[0] == [7]


def test_eager_mode_runs_the_task_through_celery():
    assert app.conf.task_always_eager
    with mock.patch.object(process_frame, "apply_async") as apply_async:
        task_publish(process_frame, 7)
    apply_async.assert_called_once_with((7,), priority=0)


@pytest.mark.parametrize("url", ["memory://", "amqp://guest@localhost//"])
def test_another_broker_goes_through_celery(url):
    before = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager, app.conf.broker_url = False, url
    try:
        with mock.patch.object(process_frame, "apply_async") as apply_async:
            task_publish(process_frame, 8, priority=6)
    finally:
        app.conf.task_always_eager, app.conf.broker_url = before
    apply_async.assert_called_once_with((8,), priority=6)


@needs_redis()
def test_a_lower_priority_goes_to_the_list_celery_itself_uses_for_it():
    import redis

    r = redis.Redis.from_url(settings.REDIS_URL)
    queue = app.conf.task_default_queue
    low = queue_key(queue, 6)
    before = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager, app.conf.broker_url = False, settings.REDIS_URL
    try:
        lengths = (r.llen(queue), r.llen(low))
        process_frame.apply_async((5,), priority=6)
        assert (r.llen(queue), r.llen(low)) == (lengths[0], lengths[1] + 1)
        theirs = json.loads(r.lpop(low))
        task_publish(process_frame, 9, priority=6)
        assert (r.llen(queue), r.llen(low)) == (lengths[0], lengths[1] + 1)
        ours = json.loads(r.lpop(low))
    finally:
        app.conf.task_always_eager, app.conf.broker_url = before
    assert ours["properties"]["priority"] == theirs["properties"]["priority"] == 6
    assert json.loads(base64.b64decode(ours["body"]))[0] == [9]


def test_shelf_frames_and_events_queue_together_behind_gate_frames(
    store, django_capture_on_commit_callbacks
):
    from store import tasks
    from store.services.events import event_store
    from store.services.frames import frame_store

    def store_frame(device, event_id):
        header = {"event_id": event_id, "camera": "0", "seq": 1, "ts": 1.0e9}
        frame_store(device=device, header=header, jpeg=b"\xff\xd8", width=4, height=4)

    msg = {"event_id": "e1", "slot": "A1", "sensor": "load_cell", "before": 4200.0,
           "after": 3850.0, "ts": 1.0e9}  # fmt: skip
    with mock.patch.object(tasks, "task_publish") as publish:
        with django_capture_on_commit_callbacks(execute=True):
            store_frame(store.shelf_device, "s1")
            event_store(device=store.shelf_device, msg=msg)
            store_frame(store.gate_out, "g1")
    priorities = [c.kwargs["priority"] for c in publish.call_args_list]
    assert priorities == [tasks.INGEST_PRIORITY, tasks.INGEST_PRIORITY, 0]
    assert tasks.INGEST_PRIORITY > 0
