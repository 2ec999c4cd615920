from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict, Unpack

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from store.errors import Conflict, DomainError
from store.models import (
    CartEntry,
    Dispute,
    EntryKind,
    Product,
    ReviewItem,
    ShelfEvent,
    Slot,
    StockBatch,
    Visit,
    VisitStatus,
)
from store.services import live
from store.services.age import pick_check
from store.services.groups import group_cart_visit
from store.services.restock import (
    Picked,
    slot_return_items,
    slot_take_items,
    stock_move_record,
)


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
    """The cart: the ledger summed per product and price. Lines at zero are left out. Each
    item keeps the price of the entry that put it in the cart (a marked-down item stays
    marked down); a return or a negative correction takes back the newest items first."""
    entries = CartEntry.objects.filter(visit=visit).order_by("created_at", "id")
    stacks: dict[int, list[list]] = {}
    for entry in entries.values("product_id", "quantity", "unit_price"):
        stack = stacks.setdefault(entry["product_id"], [])
        if entry["quantity"] > 0:
            stack.append([entry["unit_price"], entry["quantity"]])
            continue
        left = -entry["quantity"]
        while left and stack:
            used = min(left, stack[-1][1])
            stack[-1][1] -= used
            left -= used
            if stack[-1][1] == 0:
                stack.pop()
    quantities: dict[tuple[int, Decimal], int] = {}
    for product_id, stack in stacks.items():
        for price, qty in stack:
            quantities[(product_id, price)] = quantities.get((product_id, price), 0) + qty
    if not quantities:
        return []
    products = Product.objects.in_bulk({product_id for product_id, _ in quantities})
    lines = [
        CartLine(
            product_id=product_id,
            sku=products[product_id].sku,
            name=products[product_id].name,
            quantity=qty,
            unit_price=price,
        )
        for (product_id, price), qty in quantities.items()
    ]
    return sorted(lines, key=lambda line: (line.name, -line.unit_price))


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
    late evidence amends the receipt) or when a person decides (`allow_closed`). The shopper
    comes along (the live cart update names them) without being locked."""
    locked = (
        Visit.objects.select_for_update(of=("self",)).select_related("shopper").get(pk=visit.pk)
    )
    if locked.status == VisitStatus.OPEN or allow_closed:
        return locked
    if at is not None and locked.exited_at is not None and at <= locked.exited_at:
        return locked
    raise Conflict("visit_closed", "the shopper had left the store before this happened")


@dataclass(frozen=True)
class _SlotMove:
    slot: Slot
    before: int
    batch: StockBatch | None
    picked: Picked | None

    def record(
        self, *, reason: str, entry: CartEntry, by: AbstractBaseUser | None, note: str = ""
    ) -> None:
        stock_move_record(
            slot=self.slot,
            reason=reason,
            delta=self.slot.stock - self.before,
            batch=self.batch,
            cart_entry=entry,
            by=by,
            before=self.before,
            note=note,
        )


def _slot_move(
    slot: Slot | None, *, product: Product, taken: int, at: datetime | None
) -> _SlotMove | None:
    """Lock the slot and move `taken` items off it (a negative number puts them back), with
    their batches; a take says the batch's price. No slot: no goods move."""
    if slot is None:
        return None
    locked = Slot.objects.select_for_update().get(pk=slot.pk)
    picked = batch = None
    if taken > 0:
        picked = slot_take_items(slot=locked, product=product, quantity=taken, at=at)
        batch = picked.batch
    else:
        batch = slot_return_items(slot=locked, product=product, quantity=-taken)
    before = locked.stock
    # The sensor is the truth about what left the shelf; a stock count that says fewer were
    # there was wrong, so it stops at zero rather than refusing the take.
    locked.stock = max(0, before - taken)
    locked.save(update_fields=["stock"])
    return _SlotMove(slot=locked, before=before, batch=batch, picked=picked)


def _push(visit: Visit, entry: CartEntry) -> None:
    snapshot = cart_snapshot(visit=visit)
    change = {
        "entry": entry.pk,
        "kind": entry.kind,
        "product": entry.product_id,
        # Named here: a product put back may no longer be on any line of the cart.
        "name": entry.product.name,
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


class CartEntrySource(TypedDict, total=False):
    """Where a take or a return comes from and how sure it is: the slot the items left or
    went back to, the shelf event or review item that decided it, the person who did
    (`created_by`), when it happened (`at`, else now) and whether a closed visit may take
    it (`allow_closed`, a person's decision)."""

    slot: Slot | None
    shelf_event: ShelfEvent | None
    review_item: ReviewItem | None
    confidence: float | None
    evidence: dict[str, Any] | None
    created_by: AbstractBaseUser | None
    at: datetime | None
    allow_closed: bool


def cart_take(
    *, visit: Visit, product: Product, quantity: int, **source: Unpack[CartEntrySource]
) -> CartEntry:
    """Append a take to the cart and move the slot's stock down, in one transaction.

    An automatic pick (a decided shelf event, not a person's decision) is checked first:
    an age-restricted product for an unverified shopper, or one outside its sale hours,
    raises PickRefused and goes to review. A companion's pick lands on the payer's cart.
    An item near its best-before date is priced with its markdown, here and only here."""
    if quantity <= 0:
        raise DomainError("bad_quantity", "a take needs a positive quantity")
    # When the item left the shelf decides its sale hours and markdown.
    shelf_event = source.get("shelf_event")
    when = (
        source.get("at")
        or (shelf_event.occurred_at if shelf_event is not None else None)
        or timezone.now()
    )
    if source.get("review_item") is None and source.get("created_by") is None:
        pick_check(visit=visit, product=product, at=when)
    return _cart_add(
        kind=EntryKind.TAKE, visit=visit, product=product, quantity=quantity, when=when, **source
    )


def _take_price(visit: Visit, product: Product) -> Decimal:
    """A return gives back what the newest take of the product cost."""
    last = (
        CartEntry.objects.filter(visit=visit, product=product, quantity__gt=0)
        .order_by("-created_at", "-id")
        .values_list("unit_price", flat=True)
        .first()
    )
    return last if last is not None else product.price


def cart_return(
    *, visit: Visit, product: Product, quantity: int, **source: Unpack[CartEntrySource]
) -> CartEntry:
    """Append a return (items put back on `slot`) and move the stock up. A return can never
    take a product's quantity in the cart below zero: that raises `return_exceeds_cart`."""
    if quantity <= 0:
        raise DomainError("bad_quantity", "a return needs a positive quantity")
    return _cart_add(
        kind=EntryKind.RETURN,
        visit=visit,
        product=product,
        quantity=quantity,
        when=source.get("at"),
        **source,
    )


def _cart_add(
    *,
    kind: str,
    visit: Visit,
    product: Product,
    quantity: int,
    when: datetime | None,
    slot: Slot | None = None,
    shelf_event: ShelfEvent | None = None,
    review_item: ReviewItem | None = None,
    confidence: float | None = None,
    evidence: dict[str, Any] | None = None,
    created_by: AbstractBaseUser | None = None,
    at: datetime | None = None,
    allow_closed: bool = False,
) -> CartEntry:
    """What a take and a return share: the entry lands on the cart of the visit's group (a
    companion's pick or put-back on the payer's, saying who), under the visit's lock, with
    the slot's stock and batches moved and recorded, and the cart pushed live. `when` is
    the moment that decides the group and, for a take, the batch's price and markdown."""
    take = kind == EntryKind.TAKE
    cart_visit = group_cart_visit(visit=visit, at=when)
    if cart_visit.pk != visit.pk:
        evidence = {
            **(evidence or {}),
            "picked_by" if take else "put_back_by": {
                "visit": visit.pk,
                "shopper": visit.shopper_id,
            },
        }
    with transaction.atomic():
        visit = _lock_visit(cart_visit, at=at, allow_closed=allow_closed)
        if take:
            unit_price = product.price
        else:
            in_cart = cart_quantity(visit=visit, product=product)
            if quantity > in_cart:
                raise Conflict(
                    "return_exceeds_cart",
                    f"{quantity} returned but only {in_cart} of {product.sku} in the cart",
                )
            unit_price = _take_price(visit, product)
        moved = _slot_move(slot, product=product, taken=quantity if take else -quantity, at=when)
        if moved is not None and moved.picked is not None:
            unit_price = moved.picked.unit_price
            if moved.picked.markdown is not None:
                evidence = {**(evidence or {}), "markdown": moved.picked.markdown}
        entry = CartEntry.objects.create(
            visit=visit,
            product=product,
            kind=kind,
            quantity=quantity if take else -quantity,
            unit_price=unit_price,
            slot=moved.slot if moved is not None else None,
            shelf_event=shelf_event,
            review_item=review_item,
            confidence=confidence,
            evidence=evidence or {},
            created_by=created_by,
        )
        if moved is not None:
            moved.record(reason="pick" if take else "return", entry=entry, by=created_by)
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
        moved = _slot_move(slot, product=product, taken=quantity, at=timezone.now())
        entry = CartEntry.objects.create(
            visit=locked,
            product=product,
            kind=EntryKind.CORRECTION,
            quantity=quantity,
            unit_price=product.price,
            dispute=dispute,
            slot=moved.slot if moved is not None else None,
            note=note[:200],
            created_by=by,
        )
        if moved is not None:
            moved.record(reason="correction", entry=entry, by=by, note=note)
        _push(locked, entry)
    return entry
