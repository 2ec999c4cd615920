"""Celery tasks: thin wrappers that take ids and call a service. Each is safe to run twice
(acks are late, so a task whose worker died is delivered again)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from store.services.devices import device_mark_stale_offline
from store.services.events import frames_expire, frames_recover
from store.services.frames import frame_process
from store.services.shelf_events import shelf_event_process, shelf_events_settle

# Lock contention and dropped connections are retried, not failed.
RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 8}


@shared_task(**RETRY)
def process_shelf_event(event_id: int, final: bool = False) -> None:
    shelf_event_process(event_id=event_id, final=final)


@shared_task
def settle_shelf_events() -> int:
    return shelf_events_settle()


@shared_task(**RETRY)
def settle_receipts() -> int:
    from store.services.settlement import visits_settle

    return visits_settle()


def settle_receipts_soon() -> None:
    """Run the settle job now: inline when embedded, else on a worker."""
    from minigo.celery import app

    if app.conf.task_always_eager:
        settle_receipts()
    else:
        settle_receipts.delay()


@shared_task(**RETRY)
def process_frame(frame_id: int) -> None:
    frame_process(frame_id=frame_id)


@shared_task
def expire_frames() -> int:
    from store.services.dataset import dataset_expire

    expired = frames_expire()
    dataset_expire()  # unreviewed training images taken from frames go with them
    return expired


@shared_task
def recover_frames() -> int:
    return frames_recover()


@shared_task
def mark_stale_devices_offline() -> int:
    return device_mark_stale_offline()


@shared_task
def ping() -> str:
    return "pong"
