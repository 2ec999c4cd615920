"""Put-backs moments after a pick: which earlier picks of the slot a return must wait for,
which pick in review it may close, and who held the product when it went back
(store/services/shelf_events.py decides with them)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q, Sum

from store.models import (
    CartEntry,
    EventStatus,
    Product,
    ReviewItem,
    ReviewStatus,
    ShelfEvent,
    Slot,
    Visit,
)

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


def holdings(*, visits: list[Visit], when: datetime) -> dict[int, dict[int, int]]:
    """{visit id: {product id: quantity in the cart}} for the given visits, as they held it at
    `when`: an item taken off a shelf later was in nobody's hands then, even if that later pick
    was decided first (its camera had its answer sooner). Entries without a shelf event
    (corrections) count whenever they were made."""
    entries = CartEntry.objects.filter(visit__in=visits).filter(
        Q(shelf_event__isnull=True) | Q(shelf_event__occurred_at__lte=when)
    )
    rows = entries.values("visit_id", "product_id").annotate(q=Sum("quantity")).filter(q__gt=0)
    out: dict[int, dict[int, int]] = {}
    for row in rows:
        out.setdefault(row["visit_id"], {})[row["product_id"]] = row["q"]
    return out


def product_holders(
    *, visits: list[Visit], held: dict[int, dict[int, int]], product: Product, quantity: int
) -> list[Visit]:
    return [v for v in visits if held.get(v.pk, {}).get(product.pk, 0) >= quantity]
