"""Put-backs moments after a pick: which earlier picks of the slot a return must wait for,
and which pick in review it may close (store/services/shelf_events.py decides with them)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F, Q

from store.models import EventStatus, ReviewItem, ReviewStatus, ShelfEvent, Slot

# A shopper who changes their mind puts the item back within this long of taking it.
PUT_BACK_S = 60.0


def picks_undecided(event: ShelfEvent) -> list[int]:
    """Earlier weight losses on this event's slot, moments before it, still waiting for
    their camera window (oldest first)."""
    return list(
        ShelfEvent.objects.filter(
            device=event.device,
            slot_code=event.slot_code,
            status=EventStatus.PENDING,
            occurred_at__lt=event.occurred_at,
            occurred_at__gte=event.occurred_at - timedelta(seconds=PUT_BACK_S),
        )
        .filter(
            # Items leaving the slot: less weight or seen, or more distance to the lane's back.
            Q(sensor="ultrasonic", after__gt=F("before"))
            | (~Q(sensor="ultrasonic") & Q(after__lt=F("before")))
        )
        .order_by("occurred_at", "pk")
        .values_list("pk", flat=True)
    )


def pick_in_review(*, event: ShelfEvent, slot: Slot) -> ReviewItem | None:
    """The latest pick of this slot's product, moments before `event`, that is in front of
    the manager because nobody could tell who took it."""
    return (
        ReviewItem.objects.filter(
            status=ReviewStatus.OPEN,
            reason="who_unknown",
            slot=slot,
            product=slot.product,
            quantity__gt=0,
            shelf_event__occurred_at__lt=event.occurred_at,
            shelf_event__occurred_at__gte=event.occurred_at - timedelta(seconds=PUT_BACK_S),
        )
        .order_by("-shelf_event__occurred_at", "-pk")
        .first()
    )
