from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from store.errors import Conflict, DomainError
from store.models import (
    Frame,
    Product,
    ReviewItem,
    ReviewStatus,
    RevisionReason,
    ShelfEvent,
    Slot,
    Visit,
)
from store.services import live
from store.services.age import refusal_alert
from store.services.carts import cart_return, cart_take
from store.services.receipts import receipt_revise


def review_payload(*, item: ReviewItem) -> dict[str, Any]:
    return {
        "review": item.pk,
        "reason": item.reason,
        "status": item.status,
        "product": item.product_id,
        "product_name": item.product.name if item.product_id else None,
        "slot": item.slot_id,
        "quantity": item.quantity,
        "candidates": item.candidates,
        "created_at": item.created_at.isoformat() if item.created_at else None,
    }


def review_open(
    *,
    reason: str,
    shelf_event: ShelfEvent | None = None,
    frame: Frame | None = None,
    slot: Slot | None = None,
    product: Product | None = None,
    quantity: int = 0,
    candidates: list[dict[str, Any]] | None = None,
    evidence: dict[str, Any] | None = None,
) -> ReviewItem:
    """Put a doubtful event in front of a person (invariant 5). Idempotent per shelf event:
    a re-run of the same event's task finds the item it opened before."""
    if shelf_event is not None:
        existing = ReviewItem.objects.filter(shelf_event=shelf_event).first()
        if existing is not None:
            return existing
    item = ReviewItem.objects.create(
        reason=reason,
        shelf_event=shelf_event,
        frame=frame,
        slot=slot,
        product=product,
        quantity=quantity,
        candidates=candidates or [],
        evidence=evidence or {},
    )
    live.to_managers("review_opened", review_payload(item=item))
    refusal_alert(item=item)
    return item


def review_put_back(*, item: ReviewItem, event: ShelfEvent, quantity: int) -> ReviewItem:
    """`quantity` of a pick in review (nobody charged, the taker unknown) came back to its slot
    (`event`): nobody took those. The review keeps what is left to decide, and is closed when
    nothing is. Nothing is charged or credited either way, so no cart entry is written."""
    with transaction.atomic():
        locked = ReviewItem.objects.select_for_update().get(pk=item.pk)
        if locked.status != ReviewStatus.OPEN or not 0 < quantity <= locked.quantity:
            raise Conflict("review_not_open", "this review no longer holds those items")
        put_back = [*locked.evidence.get("put_back", []), event.pk]
        locked.evidence = {**locked.evidence, "put_back": put_back}
        locked.quantity -= quantity
        fields = ["quantity", "evidence"]
        if locked.quantity == 0:
            locked.status = ReviewStatus.DISMISSED
            locked.resolution = {"put_back": put_back, "note": "taken and put back"}
            locked.resolved_at = timezone.now()
            fields += ["status", "resolution", "resolved_at"]
            if locked.shelf_event_id:
                ShelfEvent.objects.filter(pk=locked.shelf_event_id).update(
                    status="ignored", processed_at=timezone.now()
                )
        locked.save(update_fields=fields)
        live.to_managers(
            "review_resolved" if locked.quantity == 0 else "review_updated",
            review_payload(item=locked),
        )
    return locked


def review_settled_back(*, item: ReviewItem, event: ShelfEvent) -> None:
    """An unexplained change in review was undone by its slot's next reading (`event`): the
    scale reads as before, nothing moved, nobody has anything to decide. Inside the caller's
    transaction, with the item locked."""
    item.status = ReviewStatus.DISMISSED
    item.resolution = {"settled_back": event.pk, "note": "the scale read as before"}
    item.resolved_at = timezone.now()
    item.save(update_fields=["status", "resolution", "resolved_at"])
    live.to_managers("review_resolved", review_payload(item=item))


def review_resolve(
    *,
    item: ReviewItem,
    by: AbstractBaseUser,
    visit: Visit | None = None,
    product: Product | None = None,
    quantity: int | None = None,
    dismiss: bool = False,
    note: str = "",
) -> ReviewItem:
    """Decide a review item: give the items to `visit` (a take for a positive quantity, a
    return for a negative one), or dismiss it. Writing the cart entry tells the shopper."""
    with transaction.atomic():
        locked = ReviewItem.objects.select_for_update().get(pk=item.pk)
        if locked.status != ReviewStatus.OPEN:
            raise Conflict("review_already_resolved", "this item was already decided")
        if dismiss:
            locked.status = ReviewStatus.DISMISSED
            locked.resolution = {"dismissed": True, "note": note}
        else:
            if visit is None:
                raise DomainError("review_needs_visit", "choose the shopper who took the item")
            product = product or locked.product
            if product is None:
                raise DomainError("review_needs_product", "choose the product")
            qty = quantity if quantity is not None else locked.quantity
            if qty == 0:
                raise DomainError("bad_quantity", "the quantity cannot be zero")
            common = {
                "visit": visit,
                "product": product,
                "quantity": abs(qty),
                "slot": locked.slot,
                "review_item": locked,
                "confidence": 1.0,
                "evidence": {"review": locked.pk, "by": by.get_username()},
                "created_by": by,
                # A person decides: the item goes to the chosen visit even after its exit,
                # and amends that receipt.
                "allow_closed": True,
            }
            entry = cart_take(**common) if qty > 0 else cart_return(**common)
            receipt_revise(visit=visit, reason=RevisionReason.REVIEW, by=by, note=note)
            locked.status = ReviewStatus.RESOLVED
            locked.resolution = {
                "visit": visit.pk,
                "product": product.pk,
                "quantity": qty,
                "entry": entry.pk,
                "note": note,
            }
        locked.resolved_at = timezone.now()
        locked.resolved_by = by
        locked.save(update_fields=["status", "resolution", "resolved_at", "resolved_by"])
        if locked.shelf_event_id:
            ShelfEvent.objects.filter(pk=locked.shelf_event_id).update(
                status="applied" if not dismiss else "ignored", processed_at=timezone.now()
            )
        live.to_managers("review_resolved", review_payload(item=locked))
    return locked
