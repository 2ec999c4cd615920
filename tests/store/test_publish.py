"""The device endpoint's one-LPUSH task publish writes what Celery itself writes."""

from __future__ import annotations

import base64
import json
from unittest import mock

import pytest
from django.conf import settings

from minigo.celery import app
from minigo.publish import task_message, task_publish
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
    with mock.patch.object(process_frame, "delay") as delay:
        task_publish(process_frame, 7)
    delay.assert_called_once_with(7)


@pytest.mark.parametrize("url", ["memory://", "amqp://guest@localhost//"])
def test_another_broker_goes_through_celery(url):
    before = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager, app.conf.broker_url = False, url
    try:
        with mock.patch.object(process_frame, "delay") as delay:
            task_publish(process_frame, 8)
    finally:
        app.conf.task_always_eager, app.conf.broker_url = before
    delay.assert_called_once_with(8)
