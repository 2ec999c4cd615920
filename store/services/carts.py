from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum

from store.errors import Conflict, DomainError
from store.models import (
    CartEntry,
    Dispute,
    EntryKind,
    Product,
    ReviewItem,
    ShelfEvent,
    Slot,
    Visit,
    VisitStatus,
)
from store.services import live


@dataclass(frozen=True)
class CartLine:
    product_id: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


def cart_lines(*, visit: Visit) -> list[CartLine]:
    """The cart: the ledger summed per product. Lines at zero are left out. The unit price
    is the one of the latest take, the price the shopper saw when picking."""
    totals = (
        CartEntry.objects.filter(visit=visit)
        .values("product_id")
        .annotate(qty=Sum("quantity"))
        .filter(qty__gt=0)
    )
    quantities = {row["product_id"]: row["qty"] for row in totals}
    if not quantities:
        return []
    prices: dict[int, Decimal] = {}
    for entry in CartEntry.objects.filter(
        visit=visit, product_id__in=quantities, kind=EntryKind.TAKE
    ).order_by("created_at", "id"):
        prices[entry.product_id] = entry.unit_price
    products = Product.objects.in_bulk(list(quantities))
    lines = []
    for product_id, qty in quantities.items():
        product = products[product_id]
        lines.append(
            CartLine(
                product_id=product_id,
                sku=product.sku,
                name=product.name,
                quantity=qty,
                unit_price=prices.get(product_id, product.price),
            )
        )
    return sorted(lines, key=lambda line: line.name)


def cart_quantity(*, visit: Visit, product: Product) -> int:
    total = CartEntry.objects.filter(visit=visit, product=product).aggregate(q=Sum("quantity"))
    return total["q"] or 0


def cart_snapshot(*, visit: Visit) -> dict[str, Any]:
    lines = cart_lines(visit=visit)
    return {
        "visit": visit.pk,
        "shopper": visit.shopper_id,
        "status": visit.status,
        "lines": [
            {
                "product": line.product_id,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "line_total": str(line.line_total),
            }
            for line in lines
        ],
        "total": str(sum((line.line_total for line in lines), Decimal("0.00"))),
        "items": sum(line.quantity for line in lines),
    }


def _lock_visit(visit: Visit, *, at: datetime | None, allow_closed: bool) -> Visit:
    """Lock the visit row: that serialises every change to one cart, so two events for the
    same shopper cannot both read "2 in the cart" and both return 2. A closed visit takes
    entries only for what happened while the shopper was in the store (`at` up to the exit:
    late evidence amends the receipt) or when a person decides (`allow_closed`)."""
    locked = Visit.objects.select_for_update().get(pk=visit.pk)
    if locked.status == VisitStatus.OPEN or allow_closed:
        return locked
    if at is not None and locked.exited_at is not None and at <= locked.exited_at:
        return locked
    raise Conflict("visit_closed", "the shopper had left the store before this happened")


def _lock_slot(slot: Slot | None) -> Slot | None:
    if slot is None:
        return None
    return Slot.objects.select_for_update().get(pk=slot.pk)


def _push(visit: Visit, entry: CartEntry) -> None:
    snapshot = cart_snapshot(visit=visit)
    change = {
        "entry": entry.pk,
        "kind": entry.kind,
        "product": entry.product_id,
        "quantity": entry.quantity,
    }
    live.to_shopper(visit.shopper_id, "cart", {**snapshot, "change": change})
    live.to_managers("cart", {**snapshot, "change": change, "name": visit.shopper.display_name})
    if entry.slot_id is not None:
        slot = entry.slot
        live.to_managers(
            "stock",
            {
                "slot": slot.pk,
                "code": slot.code,
                "shelf": slot.shelf_id,
                "stock": slot.stock,
                "low": slot.is_low,
            },
        )


def cart_take(
    *,
    visit: Visit,
    product: Product,
    quantity: int,
    slot: Slot | None = None,
    shelf_event: ShelfEvent | None = None,
    review_item: ReviewItem | None = None,
    confidence: float | None = None,
    evidence: dict[str, Any] | None = None,
    created_by: AbstractBaseUser | None = None,
    at: datetime | None = None,
    allow_closed: bool = False,
) -> CartEntry:
    """Append a take to the cart and move the slot's stock down, in one transaction."""
    if quantity <= 0:
        raise DomainError("bad_quantity", "a take needs a positive quantity")
    with transaction.atomic():
        visit = _lock_visit(visit, at=at, allow_closed=allow_closed)
        locked_slot = _lock_slot(slot)
        if locked_slot is not None:
            # The sensor is the truth about what left the shelf; a stock count that says
            # fewer were there was wrong, so it stops at zero rather than refusing the take.
            locked_slot.stock = max(0, locked_slot.stock - quantity)
            locked_slot.save(update_fields=["stock"])
        entry = CartEntry.objects.create(
            visit=visit,
            product=product,
            kind=EntryKind.TAKE,
            quantity=quantity,
            unit_price=product.price,
            slot=locked_slot,
            shelf_event=shelf_event,
            review_item=review_item,
            confidence=confidence,
            evidence=evidence or {},
            created_by=created_by,
        )
        _push(visit, entry)
    return entry


def cart_return(
    *,
    visit: Visit,
    product: Product,
    quantity: int,
    slot: Slot | None = None,
    shelf_event: ShelfEvent | None = None,
    review_item: ReviewItem | None = None,
    confidence: float | None = None,
    evidence: dict[str, Any] | None = None,
    created_by: AbstractBaseUser | None = None,
    at: datetime | None = None,
    allow_closed: bool = False,
) -> CartEntry:
    """Append a return (items put back on `slot`) and move the stock up. A return can never
    take a product's quantity in the cart below zero: that raises `return_exceeds_cart`."""
    if quantity <= 0:
        raise DomainError("bad_quantity", "a return needs a positive quantity")
    with transaction.atomic():
        visit = _lock_visit(visit, at=at, allow_closed=allow_closed)
        in_cart = cart_quantity(visit=visit, product=product)
        if quantity > in_cart:
            raise Conflict(
                "return_exceeds_cart",
                f"{quantity} returned but only {in_cart} of {product.sku} in the cart",
            )
        locked_slot = _lock_slot(slot)
        if locked_slot is not None:
            locked_slot.stock = locked_slot.stock + quantity
            locked_slot.save(update_fields=["stock"])
        entry = CartEntry.objects.create(
            visit=visit,
            product=product,
            kind=EntryKind.RETURN,
            quantity=-quantity,
            unit_price=product.price,
            slot=locked_slot,
            shelf_event=shelf_event,
            review_item=review_item,
            confidence=confidence,
            evidence=evidence or {},
            created_by=created_by,
        )
        _push(visit, entry)
    return entry


def cart_correct(
    *,
    visit: Visit,
    product: Product,
    quantity: int,
    by: AbstractBaseUser,
    note: str,
    dispute: Dispute | None = None,
    allow_closed: bool = False,
    slot: Slot | None = None,
) -> CartEntry:
    """A manager's correction: a new signed entry, never an edit of an old one. Stock moves
    only with a `slot` (the items came off, or went back on, that slot); a refund or a
    pricing fix moves no goods. `allow_closed` is for amendments after the exit."""
    if quantity == 0:
        raise DomainError("bad_quantity", "a correction needs a non-zero quantity")
    with transaction.atomic():
        locked = Visit.objects.select_for_update().get(pk=visit.pk)
        if locked.status != VisitStatus.OPEN and not allow_closed:
            raise Conflict("visit_closed", "the shopper has already left the store")
        if quantity < 0 and -quantity > cart_quantity(visit=locked, product=product):
            raise Conflict("correction_below_zero", "a correction cannot go below zero")
        locked_slot = _lock_slot(slot)
        if locked_slot is not None:
            locked_slot.stock = max(0, locked_slot.stock - quantity)
            locked_slot.save(update_fields=["stock"])
        entry = CartEntry.objects.create(
            visit=locked,
            product=product,
            kind=EntryKind.CORRECTION,
            quantity=quantity,
            unit_price=product.price,
            dispute=dispute,
            slot=locked_slot,
            note=note[:200],
            created_by=by,
        )
        _push(locked, entry)
    return entry
