"""Turning a stored shelf event into cart entries: what, how many, and who.

What: a load-cell change of k × the slot product's unit weight (each item within its
tolerance) is k of that product; a weight gain that fits no whole number of the slot's product
but fits k of a product a shopper in the store holds is that product put back in the wrong
slot; a loss that fits a product misplaced on this slot earlier is that item taken again.
Stock follows the item physically: a misplaced return raises the stock of the slot it was put
on (the slot's stock counts what lies on it), and managers get a "misplaced" push to put it
back. Ultrasonic, light and camera slots map their readings to counts (count_change).

Who: store.services.attribution. Below MINIGO["ATTRIBUTION_THRESHOLD"] an event waits while
its camera window may still bring sightings (frames race weight events) and is then decided:
to the best candidate if the evidence arrived, otherwise to the review queue with the ranked
candidates. Anything nothing explains goes to review (invariant 5), unless the slot's next
reading moments later undoes it (store/services/settle_back.py). A put-back waits for an
earlier pick of its slot to be decided; when that pick is in review and nobody is clearly seen
putting the item back, the put-back closes that review (taken and put back) instead of opening
another."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from minigo.trace import trace
from store import tasks
from store.errors import DomainError
from store.faults import fault_point
from store.models import (
    CartEntry,
    EventStatus,
    Frame,
    Product,
    RevisionReason,
    SensorKind,
    ShelfEvent,
    Slot,
    VisitStatus,
)
from store.services import attribution, live, pace, reach, wakes
from store.services.carts import cart_return, cart_take
from store.services.counting import Count, count_change, weight_fit
from store.services.detection import (
    detection_frames_needed,
    detection_weight_verdict,
    detection_window_frames,
)
from store.services.events import mark_processed
from store.services.ondemand import frames_request
from store.services.put_backs import holdings, pick_in_review, picks_undecided, product_holders
from store.services.receipts import receipt_revise
from store.services.review import review_open, review_put_back
from store.services.settle_back import settle_back, settle_wait
from store.services.settlement import settlement_poke

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Option:
    """One reading of what moved: `delta` of `product` (positive taken, negative returned)."""

    product: Product
    delta: int
    misplaced: bool = False


def misplaced_on(*, slot: Slot) -> dict[int, int]:
    """{product id: count} of other products put back on this slot and not taken again."""
    rows = (
        CartEntry.objects.filter(slot=slot)
        .exclude(product_id=slot.product_id)
        .values("product_id")
        .annotate(q=Sum("quantity"))
    )
    return {r["product_id"]: -r["q"] for r in rows if r["q"] < 0}


def _options(*, slot: Slot, event: ShelfEvent, count: Count, held: dict) -> list[Option]:
    options = []
    if count.explained and count.delta != 0:
        options.append(Option(slot.product, count.delta))
    if event.sensor != "load_cell":
        return options
    removed_g = event.before - event.after
    scale_tol = slot.product.weight_tolerance_g
    if removed_g > 0:
        misplaced = misplaced_on(slot=slot)
        for product in Product.objects.filter(pk__in=list(misplaced)):
            k = weight_fit(grams=removed_g, product=product, scale_tol=scale_tol)
            if k is not None and k <= misplaced[product.pk]:
                options.append(Option(product, k, misplaced=True))
    else:
        held_ids = {pid for cart in held.values() for pid in cart}
        for product in Product.objects.filter(pk__in=held_ids).exclude(pk=slot.product_id):
            k = weight_fit(grams=-removed_g, product=product, scale_tol=scale_tol)
            if k is not None:
                options.append(Option(product, -k, misplaced=True))
    # When several readings fit (8 crisps or the one misplaced cola), the closest fit first.
    return sorted(options, key=lambda o: _misfit(abs(removed_g), o, scale_tol))


def _misfit(grams: float, option: Option, scale_tol: float) -> float:
    k = abs(option.delta)
    unit = option.product.unit_weight_g
    tol = max(option.product.weight_tolerance_g, scale_tol if option.misplaced else 0.0, 0.1)
    return abs(grams - k * unit) / (tol * k**0.5)


def _window_closed(event: ShelfEvent) -> bool:
    """True once no frame can still bring evidence for this event. Decided by event time: a
    device sends what it produced in order, so once its shelf has reported anything (a frame or
    another reading) captured past the event's window, every frame of that window is in (and
    `pace.frames_pending` waits for those not yet processed); a silent one, by window_deadline."""
    window = timedelta(seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"])
    grace = timedelta(seconds=settings.MINIGO["ATTRIBUTION_GRACE_S"])
    past = event.occurred_at + window
    if Frame.objects.filter(device=event.device, captured_at__gte=past).exists():
        return True
    if ShelfEvent.objects.filter(device=event.device, occurred_at__gte=past + grace).exists():
        return True
    return timezone.now() >= window_deadline(event)


def window_deadline(event: ShelfEvent) -> datetime:
    """When a silent shelf's window counts as closed by the clock: window and grace after the
    event happened and after it arrived (a backlog's frames of the moment follow the event)."""
    lag = timedelta(
        seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"] + settings.MINIGO["ATTRIBUTION_GRACE_S"]
    )
    return max(event.occurred_at, event.received_at or event.occurred_at) + lag


def _review(event, *, reason, slot, product=None, quantity=0, candidates=(), evidence=None):
    review_open(
        reason=reason,
        shelf_event=event,
        slot=slot,
        product=product,
        quantity=quantity,
        candidates=[c.as_dict() for c in candidates][:8],
        evidence=evidence or {},
    )
    mark_processed(event, status=EventStatus.REVIEW, result={"reason": reason, **(evidence or {})})
    return event


def shelf_event_process(*, event_id: int, final: bool = False) -> ShelfEvent:
    """Apply a stored shelf event once. Safe to run twice: the event row is locked and only a
    pending event is processed, inside one transaction with its cart entry and stock move.
    A doubtful event whose camera window is still open stays pending (it is re-run when a
    sighting arrives at this shelf, and decided when the window closes); `final` decides it
    now whatever the evidence. A decided event may be the last one a leaving shopper's
    receipt waits for: the settlement is told."""
    started = time.time()
    with transaction.atomic():
        event = _process(event_id=event_id, final=final)
        if event.status != EventStatus.PENDING:
            settlement_poke(when=event.occurred_at)
    if event.status != EventStatus.PENDING:
        wakes.waiting_remove(device_pk=event.device_id, event_pk=event.pk)
    trace(
        "event_run", event=event_id, final=int(final), start=f"{started:.4f}", status=event.status
    )
    return event


def _process(*, event_id: int, final: bool) -> ShelfEvent:
    # Inside shelf_event_process's transaction: no savepoint of its own.
    # The event's row only: FOR UPDATE over the join would lock its device's row too for the
    # whole decision, and the device endpoint locks that row for every heartbeat and
    # watermark report (under load that deadlocked a report against two event runs).
    event = (
        ShelfEvent.objects.select_for_update(of=("self",)).select_related("device").get(pk=event_id)
    )
    if event.status != EventStatus.PENDING:
        return event
    # Every slot of the shelf in one read: this one, and the other calibrated ones under
    # the same camera (a face in front of one of those is someone there).
    shelf_slots = list(
        Slot.objects.select_related("product", "shelf").filter(shelf__device=event.device)
    )
    slot = next((s for s in shelf_slots if s.code == event.slot_code), None)
    if slot is None or slot.product is None:
        return _review(event, reason="slot_not_in_planogram", slot=slot)
    count = count_change(slot=slot, sensor=event.sensor, before=event.before, after=event.after)
    if count.delta == 0 and count.explained:
        mark_processed(event, status=EventStatus.IGNORED, result=count.detail)
        return event
    if not count.explained and settle_back(event=event, slot=slot):
        return event
    if count.delta < 0 or (event.sensor == "load_cell" and event.after > event.before):
        # Whoever took an item from this slot moments ago may be the one putting it
        # back: that pick is decided first (its taker may hold the item).
        earlier = picks_undecided(event)
        if earlier and not final:
            return _wait(event, detail={**count.detail, "sensor": event.sensor}, candidates=[])
        for pk in earlier:
            shelf_event_process(event_id=pk, final=True)
    visits = attribution.visits_at(when=event.occurred_at)
    held = holdings(visits=visits, when=event.occurred_at)
    options = _options(slot=slot, event=event, count=count, held=held)
    if not options:
        # Beyond the tolerance (within it, ignored above) and nothing on record explains it:
        # an item whose taker nobody could name, something of a shopper's own: a person looks,
        # unless the next reading moments later undoes it (store/services/settle_back.py).
        if not final:
            return settle_wait(event, detail={**count.detail, "sensor": event.sensor})
        reason = "return_unexplained" if event.after > event.before else "weight_unexplained"
        if not count.explained:
            reason = "weight_unexplained"
        return _review(event, reason=reason, slot=slot, product=slot.product, evidence=count.detail)
    if slot.shelf.has_camera and not final:
        # Registered before the sightings are read, so a frame whose sightings commit after
        # this read finds the event and wakes it (store/services/wakes.py); without a reach
        # band, a frame showing nobody too (rank waits for the frames of the moment).
        wakes.waiting_add(
            device_pk=event.device_id,
            event_pk=event.pk,
            occurred_at=event.occurred_at,
            on_frames=slot.reach is None,
        )
    seen = pace.sightings_near(device=event.device, when=event.occurred_at)
    settled = final or not slot.shelf.has_camera or _window_closed(event)
    if settled and slot.shelf.has_camera and pace.frames_pending(event):
        # Its camera's frames are still queued: wait for their sightings. Registered as waiting
        # for them first, then looked at again: a frame processed after this second look
        # finds the registration and wakes the event (it need not show a face to matter).
        wakes.waiting_add(
            device_pk=event.device_id,
            event_pk=event.pk,
            occurred_at=event.occurred_at,
            on_frames=True,
        )
        if pace.frames_pending(event):
            settled = False
        else:
            seen = pace.sightings_near(device=event.device, when=event.occurred_at)
    window_s = settings.MINIGO["ATTRIBUTION_WINDOW_S"]
    has_camera = slot.shelf.has_camera
    frames = pace.frames_near(device=event.device, when=event.occurred_at) if has_camera else []
    camera = pace.pace_of(seen, [at for at, _done in frames], window_s=window_s)
    covered = pace.covered_s(
        frames, when=event.occurred_at, window_s=window_s, reported=event.device.watermark
    )
    others = [s.reach for s in shelf_slots if s.pk != slot.pk and s.reach is not None]
    # Read only when a face on a band's border needs it (most decisions do not).
    next_door = functools.cache(
        lambda: reach.next_door_changes(event=event, slot=slot, shelf_slots=shelf_slots)
    )
    best: tuple[Option, list[attribution.Candidate]] | None = None
    fits: tuple[Option, list[attribution.Candidate]] | None = None
    threshold = settings.MINIGO["ATTRIBUTION_THRESHOLD"]
    returns = any(o.delta < 0 for o in options)
    reviewed = pick_in_review(event=event, slot=slot) if returns else None
    rejoin: Option | None = None
    for option in options:
        if option.delta > 0:
            pool = visits
        else:
            pool = product_holders(
                visits=visits, held=held, product=option.product, quantity=-option.delta
            )
        unseen_holder = (
            reviewed is not None
            and not option.misplaced
            and option.delta < 0
            and -option.delta <= reviewed.quantity
        )
        if unseen_holder:
            # The pick in review left one of these with someone nobody could name: a
            # holder too, so nobody here is the only holder.
            rejoin = option
        if not pool:
            continue
        ranked = attribution.rank(
            device=event.device,
            when=event.occurred_at,
            visits=visits,
            pool=pool,
            sightings=seen,
            settled=settled,
            reach=slot.reach,
            others=others,
            unseen_holder=unseen_holder,
            next_door=next_door,
            pace=camera,
            covered_s=covered,
            # Another product put down here, and the gain is less than one of the slot's own
            # items (a knock, or one of them tipping over, reads like that too), or someone
            # nobody could name took one of them moments ago (it may be theirs coming back,
            # read a little off): holding that product is not enough.
            seen_needed=option.misplaced
            and option.delta < 0
            and (
                abs(event.after - event.before) < slot.product.unit_weight_g or reviewed is not None
            ),
        )
        if best is None or ranked[0].confidence > best[1][0].confidence:
            best = (option, ranked)
        if fits is None and ranked[0].confidence >= threshold:
            fits = (option, ranked)
    # The weight says what moved and the camera who: of the readings someone is clearly
    # seen doing, the one that fits the weight best (the options come best fit first), not
    # the one whose doer is seen a little more clearly (two nuts back or the biscuit put
    # down beside them, by the one shopper holding both: the weight tells them apart).
    best = fits or best
    detail = {**count.detail, "sensor": event.sensor}
    if rejoin is not None and (best is None or best[1][0].confidence < attribution.LAST_SEEN):
        if best is not None and not settled:
            return _wait(event, detail=detail, candidates=best[1])
        # Nobody holding one is seen putting it back: the item taken moments ago by the
        # shopper in review is back on its slot. Nobody is charged for it, and the
        # manager has one thing less to decide. (A holder seen there, if not clearly enough
        # to credit, may as well be the one: that goes to the manager beside the pick.)
        review_put_back(item=reviewed, event=event, quantity=-rejoin.delta)
        mark_processed(
            event,
            status=EventStatus.IGNORED,
            result={**detail, "put_back_of": reviewed.shelf_event_id, "review": reviewed.pk},
        )
        return event
    if best is None:
        reason = "nobody_in_store" if not visits else "return_unexplained"
        return _review(
            event,
            reason=reason,
            slot=slot,
            product=options[0].product,
            quantity=options[0].delta,
            evidence=detail,
        )
    option, ranked = best
    top = ranked[0]
    if top.confidence < threshold:
        if not settled:
            return _wait(event, detail=detail, candidates=ranked)
        return _review(
            event,
            reason="who_unknown",
            slot=slot,
            product=option.product,
            quantity=option.delta,
            candidates=ranked,
            evidence=detail,
        )
    early = not settled and top.evidence == "camera"
    if early and pace.waiting_before(
        frames, when=event.occurred_at, seconds=camera.moment_s(window_s)
    ):
        # Caught in the act: the frames just before the pick have arrived, and someone else
        # may stand in them. Their faces are deferred or queued; waiting asks for them. (The
        # only shopper inside is charged as before: the gates' record says who could have.)
        return _wait(event, detail=detail, candidates=ranked)
    if option.delta > 0 and not option.misplaced:
        # A camera that counts this slot must agree with the sensor about how many left;
        # the frames it needs whose detections were deferred are analysed first (each
        # round analyses them, so this ends within the frames of the window).
        # One read of the window's frames serves both steps; a camera's own event is not
        # checked against itself.
        seen = [] if event.sensor == SensorKind.CAMERA else detection_window_frames(event=event)
        needed = detection_frames_needed(event=event, slot=slot, frames=seen)
        if needed:
            return _wait(event, detail=detail, candidates=ranked, frames=needed)
        verdict, disagreement = detection_weight_verdict(event=event, slot=slot, frames=seen)
        if verdict == "disagrees":
            return _review(
                event,
                reason="detection_disagrees",
                slot=slot,
                product=option.product,
                quantity=option.delta,
                candidates=ranked,
                evidence={**detail, **(disagreement or {})},
            )
        if verdict == "waiting" and not settled:
            return _wait(event, detail=detail, candidates=ranked)
    return _apply(event, slot=slot, option=option, ranked=ranked, detail=detail)


def _wait(
    event: ShelfEvent, *, detail: dict, candidates: list, frames: list[int] | None = None
) -> ShelfEvent:
    event.result = {
        **detail,
        "waiting": "sightings" if frames is None else "detections",
        "best": candidates[0].as_dict() if candidates else None,
    }
    event.save(update_fields=["result"])

    # The deferred frames it needs: those of its window for their faces, or those the
    # detector's check asked for.
    frames_request(event=event, ids=frames)
    tasks.schedule_final_decision(event=event)
    return event


def _apply(event, *, slot, option: Option, ranked: list, detail: dict) -> ShelfEvent:
    top = ranked[0]
    evidence = {
        **detail,
        "who": top.evidence,
        **top.detail,
        "runner_up": ranked[1].as_dict() if len(ranked) > 1 else None,
    }
    if option.misplaced:
        evidence["misplaced"] = True
    common = {
        "visit": top.visit,
        "product": option.product,
        "quantity": abs(option.delta),
        "slot": slot,
        "shelf_event": event,
        "confidence": round(top.confidence, 4),
        "evidence": evidence,
        # The shopper may have left since: what happened during the visit still belongs to
        # it, and amends its receipt if one was issued.
        "at": event.occurred_at,
    }
    try:
        with transaction.atomic():
            entry = cart_take(**common) if option.delta > 0 else cart_return(**common)
            fault_point("shelf_event_apply")  # the fault tests' pause; off unless env set
            if entry.visit.status != VisitStatus.OPEN:
                receipt_revise(visit=top.visit, reason=RevisionReason.LATE_EVENT)
    except DomainError as exc:
        reason = "shopper_left" if exc.code == "visit_closed" else exc.code
        return _review(
            event,
            reason=reason,
            slot=slot,
            product=option.product,
            quantity=option.delta,
            candidates=ranked,
            evidence=detail,
        )
    if option.misplaced:
        live.to_managers(
            "misplaced",
            {
                "slot": slot.pk,
                "code": slot.code,
                "shelf": slot.shelf_id,
                "product": option.product.pk,
                "name": option.product.name,
                "quantity": -option.delta,
            },
        )
    mark_processed(
        event,
        status=EventStatus.APPLIED,
        result={
            **detail,
            "entry": entry.pk,
            "visit": top.visit.pk,
            "confidence": common["confidence"],
            "who": top.evidence,
        },
    )
    return event


def shelf_events_settle(*, now=None) -> int:
    """Decide every shelf event still pending a window and grace after it happened and arrived
    (the periodic task; the replay calls it with the scenario clock). Returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(
        seconds=settings.MINIGO["ATTRIBUTION_WINDOW_S"] + settings.MINIGO["ATTRIBUTION_GRACE_S"]
    )
    ids = list(
        ShelfEvent.objects.filter(status=EventStatus.PENDING, occurred_at__lte=cutoff)
        .filter(received_at__lte=cutoff)
        .order_by("occurred_at")
        .values_list("pk", flat=True)
    )
    for pk in ids:
        shelf_event_process(event_id=pk, final=True)
    return len(ids)


def shelf_events_overdue(*, before: datetime, limit: int = 500) -> list[int]:
    """Shelf events still pending that happened and arrived before `before`, oldest first."""
    return list(
        ShelfEvent.objects.filter(status=EventStatus.PENDING, occurred_at__lte=before)
        .filter(received_at__lte=before)
        .order_by("occurred_at")
        .values_list("pk", flat=True)[:limit]
    )
