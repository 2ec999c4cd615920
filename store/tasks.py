"""Celery tasks and the scheduling policy around them.

Tasks are thin wrappers that take ids and call a service. Each is safe to run twice (acks are
late, so a task whose worker died is delivered again). Their live broadcasts go out together
when the task ends (live.batched); no task stores a result unless it says so.

The `enqueue_*`/`schedule_*` helpers hold what the domain services should not know: when a
task runs (after the commit, after a countdown, inline in embedded mode) and how it is queued.
Services import this module at their top and call the helpers; the tasks import their
services inside each function, the one direction of the cycle between the two."""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, transaction
from django.utils import timezone

from minigo.celery import app
from minigo.publish import task_publish
from minigo.trace import trace
from store.models import ShelfEvent

# Lock contention and dropped connections are retried, not failed.
RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 8}

# Queue order. With Redis, kombu serves priority 0 first and a later step only when nothing
# before it waits. What devices send, shelf events and shelf camera frames (the bulk: two a
# second per camera), is queued at INGEST_PRIORITY, first come first served among them (a
# pick needs the frames sent with it), and so is what is due by the clock (a waiting event's
# final run). What someone waits on once something was processed goes ahead of it: wakes of
# waiting events, settling (a receipt), gate frames (a visit's start and end). Those follow
# from processed ingest, so they cannot keep the ingest from running, while ingest ahead of
# them would make a receipt or a woken pick wait for the whole backlog. Anything clock-driven
# ahead of the ingest can: shelf frames queued behind events, or events' final runs ahead of
# frames, starved the frames the events waited for, and no pick was decided until the load
# dropped.
INGEST_PRIORITY = 3
# A look-again at a waiting event is queued once at a time; the mark goes when it starts.
FINAL_MARK = "final-shelf-event:{}"
# A mark outlives its run only if the run's message is lost; the periodic settle then queues
# another once the mark has expired.
FINAL_MARK_TTL_S = 300
LOOK_AGAIN_S = 15.0


@shared_task(**RETRY)
def process_shelf_event(event_id: int, final: bool = False, wake: bool = False) -> None:
    from store.services import live, wakes
    from store.services.shelf_events import shelf_event_process

    if wake:
        # Before anything is read: a frame committed from now on queues a wake of its own.
        wakes.wake_started(event_pk=event_id)
    if final:
        # Likewise: if this run leaves the event waiting, it queues the next look-again.
        cache.delete(FINAL_MARK.format(event_id))
    trace("event_task", event=event_id, final=int(final), wake=int(wake))
    with live.batched():
        try:
            shelf_event_process(event_id=event_id, final=final)
        except ShelfEvent.DoesNotExist:
            pass  # deleted with its store (a replay's temporary database): nothing to decide


# With workers every waiting event has its final run queued for when its window closes; the
# periodic settle only makes sure that an event still pending this long after its window has
# a run queued (its task was lost with the broker). It queues one, behind the ingest, rather
# than deciding the events itself: deciding every pending event every second, ahead of the
# queue, re-ran under a backlog every event still waiting for its queued frames, and grew
# the backlog it waited on.
SETTLE_EVENTS_LAG_S = 30.0


@shared_task
def settle_shelf_events() -> int:
    from store.services.shelf_events import shelf_events_overdue, shelf_events_settle

    if app.conf.task_always_eager:
        return shelf_events_settle()  # embedded: no final runs are queued, this decides them
    m = settings.MINIGO
    lag = m["ATTRIBUTION_WINDOW_S"] + m["ATTRIBUTION_GRACE_S"] + SETTLE_EVENTS_LAG_S
    pks = shelf_events_overdue(before=timezone.now() - timedelta(seconds=lag))
    marked = cache.get_many([FINAL_MARK.format(pk) for pk in pks])
    queued = 0
    for pk in pks:
        mark = FINAL_MARK.format(pk)
        if mark not in marked and cache.add(mark, 1, FINAL_MARK_TTL_S):
            process_shelf_event.apply_async((pk,), {"final": True}, priority=INGEST_PRIORITY)
            queued += 1
    return queued


SETTLE_QUEUED = "settle-receipts-queued"


@shared_task(**RETRY)
def settle_receipts() -> int:
    from store.services import live
    from store.services.settlement import visits_settle

    # Dropped before anything is read: a poke from now on queues a run of its own.
    cache.delete(SETTLE_QUEUED)
    trace("settle_start")
    with live.batched():
        changed = visits_settle()
    trace("settle_end", changed=changed)
    return changed


@shared_task(**RETRY)
def close_idle_visits() -> int:
    from store.services import live
    from store.services.visits import visits_close_idle

    with live.batched():
        return visits_close_idle()


@shared_task(**RETRY)
def process_frame(frame_id: int) -> None:
    from store.services import live
    from store.services.frames import frame_process

    with live.batched():
        frame_process(frame_id=frame_id)


@shared_task
def expire_frames() -> int:
    from store.services.dataset import dataset_expire
    from store.services.frames import frames_expire

    expired = frames_expire()
    dataset_expire()  # unreviewed training images taken from frames go with them
    return expired


@shared_task
def recover_frames() -> int:
    from store.services.frames import frames_recover

    return frames_recover()


@shared_task
def mark_stale_devices_offline() -> int:
    from store.services.devices import device_mark_stale_offline

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


def enqueue_shelf_event(*, event_pk: int) -> None:
    """Process a stored shelf event once the transaction that stored it commits."""
    transaction.on_commit(
        lambda: task_publish(process_shelf_event, event_pk, priority=INGEST_PRIORITY)
    )


def enqueue_frame(*, frame_pk: int, ingest: bool = False) -> None:
    """Process a stored frame once the transaction that stored it commits; an `ingest` frame
    (a shelf camera's) in arrival order with the shelf events, a gate frame ahead of them."""
    priority = INGEST_PRIORITY if ingest else 0
    transaction.on_commit(lambda: task_publish(process_frame, frame_pk, priority=priority))


def requeue_frame(*, frame_pk: int) -> None:
    """Queue a frame again now (its first task was lost)."""
    process_frame.delay(frame_pk)


def schedule_final_decision(*, event: ShelfEvent) -> None:
    """Come back to a waiting shelf event when its camera window has closed. Eager (embedded)
    mode has no delay: the next sighting at this shelf or the periodic settle decides it."""
    if app.conf.task_always_eager:
        return
    from store.services.shelf_events import window_deadline

    delay = (window_deadline(event) - timezone.now()).total_seconds()
    # Past its window it waits for its window's queued frames, and each of them wakes it when
    # processed (wakes.py): this look-again is only the net for a frame whose task was lost,
    # so it is not frequent (polling every waiting event every few seconds grew a backlog).
    # One final run queued at a time (an event woken ten times needs one): the mark is dropped
    # when it starts, so a run that leaves the event waiting always queues the next.
    countdown = delay if delay > 0 else LOOK_AGAIN_S
    event_pk = event.pk
    trace("final_scheduled", event=event_pk, countdown=f"{countdown:.3f}")

    def queue() -> None:
        # Marked once committed: a wait rolled back (and retried) leaves no mark without a run.
        if cache.add(FINAL_MARK.format(event_pk), 1, FINAL_MARK_TTL_S):
            # Queued with the ingest, not ahead of it: it is due by the clock, not because
            # something was processed, and ahead of a backlog of frames every waiting
            # event's look-again kept the workers from the very frames the events waited for.
            process_shelf_event.apply_async(
                (event_pk,),
                {"final": True},
                countdown=max(0.1, countdown),
                priority=INGEST_PRIORITY,
            )

    transaction.on_commit(queue)


def enqueue_wakes(*, device_pk: int, when: datetime, evidence: bool) -> None:
    """Once the current transaction commits (a processed shelf frame; `evidence`: it recorded
    sightings), re-run the shelf events at this shelf that wait for its evidence or for their
    window to close (store/services/wakes.py: which, and why none is skipped). One wake queued
    per event at a time."""
    from store.services import wakes

    def wake() -> None:
        for pk in wakes.waiting_to_wake(device_pk=device_pk, when=when, evidence=evidence):
            claimed = wakes.wake_claim(event_pk=pk)
            trace("wake", event=pk, queued=int(claimed), frame_at=f"{when.timestamp():.4f}")
            if claimed:
                process_shelf_event.delay(pk, wake=True)

    transaction.on_commit(wake)


def settle_receipts_soon() -> None:
    """Run the settle job now: inline when embedded, else on a worker. With workers, one run
    queued at a time: every decided pick pokes it, and a run that has not started yet will
    see what the poke was about (the mark goes when the run starts, as for wakes)."""
    if app.conf.task_always_eager:
        settle_receipts()
    elif cache.add(SETTLE_QUEUED, 1, 60):
        settle_receipts.delay()
