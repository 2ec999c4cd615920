"""Celery tasks: thin wrappers that take ids and call a service. Each is safe to run twice
(acks are late, so a task whose worker died is delivered again). Their live broadcasts go out
together when the task ends (live.batched); no task stores a result unless it says so."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from store.models import ShelfEvent
from store.services import live, wakes
from store.services.devices import device_mark_stale_offline
from store.services.events import frames_expire, frames_recover
from store.services.frames import frame_process
from store.services.shelf_events import shelf_event_process, shelf_events_settle

# Lock contention and dropped connections are retried, not failed.
RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 8}


@shared_task(**RETRY)
def process_shelf_event(event_id: int, final: bool = False, wake: bool = False) -> None:
    if wake:
        # Before anything is read: a frame committed from now on queues a wake of its own.
        wakes.wake_started(event_pk=event_id)
    with live.batched():
        try:
            shelf_event_process(event_id=event_id, final=final)
        except ShelfEvent.DoesNotExist:
            pass  # deleted with its store (a replay's temporary database): nothing to decide


@shared_task
def settle_shelf_events() -> int:
    return shelf_events_settle()


SETTLE_QUEUED = "settle-receipts-queued"


@shared_task(**RETRY)
def settle_receipts() -> int:
    from django.core.cache import cache

    from store.services.settlement import visits_settle

    # Dropped before anything is read: a poke from now on queues a run of its own.
    cache.delete(SETTLE_QUEUED)
    with live.batched():
        return visits_settle()


def settle_receipts_soon() -> None:
    """Run the settle job now: inline when embedded, else on a worker. With workers, one run
    queued at a time: every decided pick pokes it, and a run that has not started yet will
    see what the poke was about (the mark goes when the run starts, as for wakes)."""
    from django.core.cache import cache

    from minigo.celery import app

    if app.conf.task_always_eager:
        settle_receipts()
    elif cache.add(SETTLE_QUEUED, 1, 60):
        settle_receipts.delay()


@shared_task(**RETRY)
def process_frame(frame_id: int) -> None:
    with live.batched():
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
def send_stock_report() -> bool:
    from store.services.restock import stock_report_send

    return stock_report_send()


@shared_task
def send_tab_statements() -> int:
    from store.services.account_ledger import tab_statements_send

    return tab_statements_send()


@shared_task(ignore_result=False)
def ping() -> str:
    return "pong"
