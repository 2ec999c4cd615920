"""A scale that reads as before moments later: a knock of the shelf, a hand or a basket leant
on it and lifted off, an item nudged half off its slot and pushed back. Nothing moved, so
nobody is charged and the manager has nothing to decide.

A change that no number of items explains waits a moment (its camera window and grace, as a
doubtful pick does) for the next reading of its slot; when that reading brings the slot back to
what it read before the first change (within the product's tolerance, as an unchanged reading
is judged), both are set aside together. One that came back later than that, after the first
went to review, closes that review instead."""

from __future__ import annotations

from datetime import timedelta

from store import tasks
from store.models import EventStatus, ReviewItem, ReviewStatus, ShelfEvent, Slot
from store.services.counting import count_change
from store.services.events import mark_processed
from store.services.review import review_settled_back

# The second reading undoes the first only this soon after it: a knock settles in a second or
# two, a basket leant on a shelf is lifted off within a few.
SETTLE_BACK_S = 10.0
UNEXPLAINED = ("weight_unexplained", "return_unexplained")


def settle_wait(event: ShelfEvent, *, detail: dict) -> ShelfEvent:
    """Keep an unexplained change pending until its window and grace have passed: the next
    reading of its slot may undo it."""
    event.result = {**detail, "waiting": "settle_back"}
    event.save(update_fields=["result"])
    tasks.schedule_final_decision(event=event)
    return event


def settle_back(*, event: ShelfEvent, slot: Slot) -> bool:
    """Whether `event` undoes the unexplained change just before it on its slot; if so both are
    set aside (that change's review, if it has one, closed). Inside the event's transaction."""
    earlier = (
        ShelfEvent.objects.select_for_update(of=("self",))
        .filter(
            device=event.device,
            slot_code=event.slot_code,
            occurred_at__lt=event.occurred_at,
            occurred_at__gte=event.occurred_at - timedelta(seconds=SETTLE_BACK_S),
        )
        .order_by("-occurred_at", "-pk")
        .first()
    )
    if earlier is None or earlier.sensor != event.sensor:
        return False
    item = None
    if earlier.status == EventStatus.PENDING:
        if (earlier.result or {}).get("waiting") != "settle_back":
            return False
    elif earlier.status == EventStatus.REVIEW:
        item = (
            ReviewItem.objects.select_for_update()
            .filter(shelf_event=earlier, status=ReviewStatus.OPEN, reason__in=UNEXPLAINED)
            .first()
        )
        if item is None:
            return False
    else:
        return False
    # Judged as one unchanged reading is: from before the first change to after this one.
    both = count_change(slot=slot, sensor=event.sensor, before=earlier.before, after=event.after)
    if both.delta != 0 or not both.explained:
        return False
    detail = {"settled_back": True, "residual_g": both.detail.get("residual_g")}
    mark_processed(earlier, status=EventStatus.IGNORED, result={**detail, "by": event.pk})
    mark_processed(event, status=EventStatus.IGNORED, result={**detail, "of": earlier.pk})
    if item is not None:
        review_settled_back(item=item, event=event)
    return True
