"""Settlement with PostgreSQL and real Celery workers (a private Redis, a worker with beat):
the exit, the picks and the camera frames are processed by the worker in whatever order it
gets to them, and the receipt still waits for its evidence or is amended by it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from store.models import Device, Frame, Receipt, ReviewItem, ShelfEvent, Visit
from store.replay.frames import sees_jpeg
from store.services.visits import visit_close, visit_open
from tests.conftest import at_once
from tests.store import test_faults as faults
from tests.store.test_attribution import _event, _process, _seen

# PostgreSQL, the redis-server binary and real transactions, as the fault tests.
pytestmark = faults.pytestmark
private_redis = faults.private_redis
workers = faults.workers
_publisher, _until = faults._publisher, faults._until

FAST = {"MINIGO_ACCEPT_SEES": "true", "MINIGO_SETTLE_DEADLINE_S": "3"}


@pytest.fixture
def shelf_online(store):
    now = timezone.now()
    Device.objects.filter(pk=store.shelf_device.pk).update(
        last_seen=now, online=True, watermark=now - timedelta(minutes=1)
    )
    return store.shelf_device


@pytest.fixture
def two_inside(store, shopper, other_shopper):
    # The cameras name them (their `sees` frames): only a consenting shopper can be named.
    type(shopper).objects.filter(pk__in=[shopper.pk, other_shopper.pk]).update(face_consent=True)
    ago = timezone.now() - timedelta(minutes=2)
    return tuple(
        visit_open(shopper=s, device=store.gate_in, at=ago)[0] for s in (shopper, other_shopper)
    )


def _frame(device, event_id: str, at, names: list[str]) -> Frame:
    """A frame as the device endpoint stores it (its vision result is the `sees` list)."""
    return Frame.objects.create(
        device=device, event_id=event_id, captured_at=at, width=8, height=8, jpeg=sees_jpeg(),
        result={"sees": {"shoppers": names}},
    )  # fmt: skip


def _shelf_event(store, event_id: str, at, *, slot="A1", before=4200, after=3850) -> ShelfEvent:
    return ShelfEvent.objects.create(
        device=store.shelf_device, event_id=event_id, slot_code=slot, sensor="load_cell",
        before=before, after=after, occurred_at=at,
    )  # fmt: skip


def _receipt(visit) -> Receipt | None:
    return Receipt.objects.filter(visit=visit).first()


def test_a_shopper_who_walks_out_a_second_after_a_pick_gets_it_on_the_receipt(
    store, shelf_online, two_inside, private_redis, workers
):
    kit, ana = two_inside
    worker = workers(private_redis.url, "walkout", beat=True, **FAST)
    worker.wait_ready()
    broker = _publisher(private_redis.url)
    picked = timezone.now() - timedelta(seconds=1.5)  # its camera window is still open
    event = _shelf_event(store, "pick-1", picked)
    broker.send_task("store.tasks.process_shelf_event", (event.pk,))
    exit_frame = _frame(
        store.gate_out, "exit-1", picked + timedelta(seconds=1), [kit.shopper.user.username]
    )
    broker.send_task("store.tasks.process_frame", (exit_frame.pk,))
    _until(lambda: Visit.objects.get(pk=kit.pk).status == "closed", 30, "the exit")
    assert Visit.objects.get(pk=kit.pk).exited_at == exit_frame.captured_at
    assert _receipt(kit) is None  # the pick is undecided and the shelf has not reported
    # The shelf reports past the exit; the camera frame of the pick arrives late.
    Device.objects.filter(pk=shelf_online.pk).update(watermark=timezone.now())
    shelf_frame = _frame(
        store.shelf_device, "cam-1", picked + timedelta(seconds=0.4), [kit.shopper.user.username]
    )
    broker.send_task("store.tasks.process_frame", (shelf_frame.pk,))
    _until(lambda: _receipt(kit) is not None, 30, "the receipt")
    receipt = _receipt(kit)
    assert [(x.sku, x.quantity) for x in receipt.lines.all()] == [("COLA", 1)]
    assert receipt.revision == 1 and not receipt.provisional
    assert not ReviewItem.objects.exists()


def test_a_shelf_offline_for_90s_while_two_shoppers_pick_and_leave(
    store, shelf_online, two_inside, private_redis, workers
):
    kit, ana = two_inside
    worker = workers(private_redis.url, "offline", beat=True, **FAST)
    worker.wait_ready()
    broker = _publisher(private_redis.url)
    t0 = timezone.now() - timedelta(seconds=90)
    # The shelf went silent at t0: its last word is "everything up to t0 is sent".
    Device.objects.filter(pk=shelf_online.pk).update(watermark=t0)
    for visit, left in ((kit, t0 + timedelta(seconds=20)), (ana, t0 + timedelta(seconds=25))):
        frame = _frame(store.gate_out, f"exit-{visit.pk}", left, [visit.shopper.user.username])
        broker.send_task("store.tasks.process_frame", (frame.pk,))
    # Past the (3 s) deadline the beat issues both receipts provisional.
    _until(lambda: Receipt.objects.filter(provisional=True).count() == 2, 30, "provisional")
    assert Receipt.objects.get(visit=kit).waiting_for == ["shelf-1"]
    stock = store.a1.stock, store.a2.stock
    # The shelf is back: its outbox delivers the frames and picks it recorded meanwhile.
    names = {kit.pk: kit.shopper.user.username, ana.pk: ana.shopper.user.username}
    for visit, at, slot, before, after in (
        (kit, t0 + timedelta(seconds=5), "A1", 4200, 3850),
        (ana, t0 + timedelta(seconds=9), "A2", 900, 855),
    ):
        frame = _frame(store.shelf_device, f"cam-{visit.pk}", at, [names[visit.pk]])
        event = _shelf_event(
            store,
            f"pick-{visit.pk}",
            at + timedelta(seconds=0.2),
            slot=slot,
            before=before,
            after=after,
        )
        broker.send_task("store.tasks.process_frame", (frame.pk,))
        broker.send_task("store.tasks.process_shelf_event", (event.pk,))
    Device.objects.filter(pk=shelf_online.pk).update(watermark=timezone.now())

    def final() -> bool:
        return Receipt.objects.filter(provisional=False, revision__gte=3).count() == 2

    _until(final, 40, "the amended, final receipts")
    kit_receipt, ana_receipt = _receipt(kit), _receipt(ana)
    assert [(x.sku, x.quantity) for x in kit_receipt.lines.all()] == [("COLA", 1)]
    assert [(x.sku, x.quantity) for x in ana_receipt.lines.all()] == [("CHIPS", 1)]
    for receipt in (kit_receipt, ana_receipt):
        reasons = [r.reason for r in receipt.revisions.all()]
        assert reasons == ["issued", "late_event", "settled"]
    store.a1.refresh_from_db()
    store.a2.refresh_from_db()
    assert (store.a1.stock, store.a2.stock) == (stock[0] - 1, stock[1] - 1)
    assert Receipt.objects.count() == 2 and not ReviewItem.objects.exists()


def test_two_exit_frames_racing_with_a_pending_pick_issue_one_receipt_with_the_pick(
    store, shelf_online, two_inside
):
    kit, ana = two_inside
    picked = timezone.now() - timedelta(seconds=1)
    event = _process(_event(store, "e1", 4200, 3850, at=picked))
    assert event.status == "pending"
    exit_at = timezone.now()
    Device.objects.filter(pk=shelf_online.pk).update(watermark=exit_at + timedelta(seconds=1))
    results, errors = at_once(
        *[lambda: visit_close(visit=Visit.objects.get(pk=kit.pk), at=exit_at)] * 4
    )
    assert errors == [] and results == [None] * 4  # all wait for the pending pick
    _seen(store, kit, picked + timedelta(seconds=0.3))
    assert _process(event).status == "applied"
    assert Receipt.objects.filter(visit=kit).count() == 1
    receipt = Receipt.objects.get(visit=kit)
    assert [(x.sku, x.quantity) for x in receipt.lines.all()] == [("COLA", 1)]
    assert receipt.revision == 1
