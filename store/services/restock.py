"""Keeping shelves full and fresh: what to bring to each slot, low-stock alerts (live and a
daily mail), deliveries by batch and best-before date, what expires soon, markdown of items
near their date, and each slot's stock history with who changed what.

Items leave a lane from the front: stock that was there before any recorded delivery first,
then batches by best-before date. The item a shopper takes first decides the pick's price."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from store.errors import DomainError
from store.models import CartEntry, Product, Slot, StockBatch, StockMove, StorePolicy
from store.services import live
from store.services.account_ledger import policy_get
from store.services.storetime import store_local, store_today

log = logging.getLogger(__name__)
CENT = Decimal("0.01")


def slot_payload(*, slot: Slot, **extra: Any) -> dict[str, Any]:
    return {
        "slot": slot.pk,
        "code": slot.code,
        "shelf": slot.shelf_id,
        "stock": slot.stock,
        "capacity": slot.capacity,
        "low": slot.is_low,
        **extra,
    }


def stock_move_record(
    *,
    slot: Slot,
    reason: str,
    delta: int,
    batch: StockBatch | None = None,
    cart_entry: CartEntry | None = None,
    by: AbstractBaseUser | None = None,
    note: str = "",
    before: int | None = None,
) -> StockMove:
    """Write one line of the slot's history; `slot` is locked and already saved. A slot
    falling to its low-stock threshold tells the managers at once."""
    move = StockMove.objects.create(
        slot=slot,
        reason=reason,
        delta=delta,
        stock_after=slot.stock,
        batch=batch,
        cart_entry=cart_entry,
        by=by,
        note=note[:200],
        created_at=timezone.now(),
    )
    if before is not None and before > slot.low_stock_threshold >= slot.stock:
        product = slot.product.name if slot.product_id else None
        live.to_managers(
            "low_stock",
            slot_payload(slot=slot, shelf_name=slot.shelf.name, product=product),
        )
    return move


def _unbatched(slot: Slot) -> int:
    in_batches = StockBatch.objects.filter(slot=slot, remaining__gt=0).aggregate(
        n=Sum("remaining")
    )["n"]
    return max(0, slot.stock - (in_batches or 0))


@dataclass(frozen=True)
class Picked:
    unit_price: Decimal
    batch: StockBatch | None
    markdown: dict[str, Any] | None


def markdown_price(*, product: Product, best_before: date | None, on: date) -> Decimal | None:
    """The marked-down unit price of an item picked on `on`, or None if it is full price."""
    if best_before is None or product.markdown_percent <= 0:
        return None
    if on < best_before - timedelta(days=product.markdown_days):
        return None
    factor = (Decimal("100") - product.markdown_percent) / Decimal("100")
    return (product.price * factor).quantize(CENT, rounding=ROUND_HALF_UP)


def slot_take_items(*, slot: Slot, product: Product, quantity: int, at: datetime) -> Picked:
    """Take `quantity` items off the locked slot's batches (front first) and price the pick:
    the front item's batch decides a markdown, applied here once, to the cart entry."""
    if slot.product_id != product.pk:
        # A misplaced item taken again: it is not in this slot's batches.
        return Picked(product.price, None, None)
    left = quantity - min(quantity, _unbatched(slot))
    front: StockBatch | None = None
    if left < quantity:
        front = None  # the front item came from stock older than any recorded delivery
    for batch in StockBatch.objects.select_for_update().filter(slot=slot, remaining__gt=0):
        if left <= 0:
            break
        if front is None and left == quantity:
            front = batch
        used = min(left, batch.remaining)
        batch.remaining -= used
        batch.save(update_fields=["remaining"])
        left -= used
    if front is None:
        return Picked(product.price, None, None)
    price = markdown_price(
        product=product, best_before=front.best_before, on=store_local(at).date()
    )
    if price is None:
        return Picked(product.price, front, None)
    markdown = {
        "percent": str(product.markdown_percent),
        "best_before": front.best_before.isoformat(),
        "batch": front.batch_code,
        "full_price": str(product.price),
    }
    return Picked(price, front, markdown)


def slot_return_items(*, slot: Slot, product: Product, quantity: int) -> StockBatch | None:
    """Items put back go to the front batch they most likely came from (the one with the
    earliest date that has room), or stay unbatched."""
    if slot.product_id != product.pk:
        return None
    batch = (
        StockBatch.objects.select_for_update()
        .filter(slot=slot, remaining__lt=F("quantity"))
        .order_by("best_before", "received_at", "id")
        .first()
    )
    if batch is not None:
        batch.remaining = min(batch.quantity, batch.remaining + quantity)
        batch.save(update_fields=["remaining"])
    return batch


def slot_restock(
    *,
    slot: Slot,
    quantity: int,
    by: AbstractBaseUser | None = None,
    batch_code: str = "",
    best_before: date | None = None,
) -> Slot:
    """Put `quantity` items on the slot, up to its capacity (`over_capacity` beyond it), as
    one delivery batch with its best-before date."""
    if not isinstance(quantity, int) or quantity <= 0:
        raise DomainError("bad_quantity", "restock a positive quantity")
    with transaction.atomic():
        locked = (
            Slot.objects.select_for_update(of=("self",))
            .select_related("shelf", "product")
            .get(pk=slot.pk)
        )
        if locked.product_id is None:
            raise DomainError("slot_empty", "the slot holds no product; set its product first")
        if locked.stock + quantity > locked.capacity:
            raise DomainError(
                "over_capacity", f"the slot holds {locked.capacity}; it has {locked.stock}"
            )
        before = locked.stock
        locked.stock += quantity
        locked.save(update_fields=["stock"])
        batch = StockBatch.objects.create(
            slot=locked,
            product=locked.product,
            batch_code=batch_code.strip()[:64],
            best_before=best_before,
            quantity=quantity,
            remaining=quantity,
            received_at=timezone.now(),
            received_by=by,
        )
        stock_move_record(
            slot=locked,
            reason="restock",
            delta=quantity,
            batch=batch,
            by=by,
            before=before,
            note=batch.batch_code,
        )
        live.to_managers("stock", slot_payload(slot=locked, restocked=quantity))
    return locked


def slot_stock_count(
    *, slot: Slot, stock: int, by: AbstractBaseUser | None, note: str = ""
) -> Slot:
    """Staff counted the slot: set its stock and keep the difference in its history."""
    if not isinstance(stock, int) or stock < 0:
        raise DomainError("bad_quantity", "a count is zero or more")
    with transaction.atomic():
        locked = (
            Slot.objects.select_for_update(of=("self",))
            .select_related("shelf", "product")
            .get(pk=slot.pk)
        )
        if stock > locked.capacity:
            raise DomainError("over_capacity", f"the slot holds {locked.capacity}")
        before = locked.stock
        if stock == before:
            return locked
        locked.stock = stock
        locked.save(update_fields=["stock"])
        if stock < before:
            # Fewer than the books say: the missing items leave the oldest batches first.
            left = before - stock - min(before - stock, _unbatched_before(locked, before))
            for batch in StockBatch.objects.select_for_update().filter(
                slot=locked, remaining__gt=0
            ):
                if left <= 0:
                    break
                used = min(left, batch.remaining)
                batch.remaining -= used
                batch.save(update_fields=["remaining"])
                left -= used
        stock_move_record(
            slot=locked, reason="count", delta=stock - before, by=by, before=before, note=note
        )
        live.to_managers("stock", slot_payload(slot=locked))
    return locked


def _unbatched_before(slot: Slot, before: int) -> int:
    in_batches = StockBatch.objects.filter(slot=slot, remaining__gt=0).aggregate(
        n=Sum("remaining")
    )["n"]
    return max(0, before - (in_batches or 0))


def _restock_row(slot: Slot) -> dict[str, Any]:
    return {
        "slot": slot.pk,
        "shelf": slot.shelf.name,
        "code": slot.code,
        "sku": slot.product.sku,
        "product": slot.product.name,
        "stock": slot.stock,
        "capacity": slot.capacity,
        "bring": max(0, slot.capacity - slot.stock),
        "low": slot.is_low,
    }


def restock_list(*, shelf_id: int | None = None) -> list[dict[str, Any]]:
    """Per shelf and slot: how many to bring to fill it to capacity (full slots left out)."""
    slots = Slot.objects.select_related("shelf", "product").filter(
        product__isnull=False, stock__lt=F("capacity")
    )
    if shelf_id is not None:
        slots = slots.filter(shelf_id=shelf_id)
    return [_restock_row(s) for s in slots.order_by("shelf__name", "code")]


def low_stock_list() -> list[dict[str, Any]]:
    # A slot at capacity but with a threshold at or above it is still "low".
    full_but_low = Slot.objects.select_related("shelf", "product").filter(
        product__isnull=False,
        stock__gte=F("capacity"),
        stock__lte=F("low_stock_threshold"),
    )
    return [row for row in restock_list() if row["low"]] + [_restock_row(s) for s in full_but_low]


def expiring_soon(*, days: int | None = None, today: date | None = None) -> list[dict[str, Any]]:
    """Batches still on the shelf whose best-before date is within `days` (the store's
    setting) or already past, soonest first."""
    if days is None:
        days = policy_get().expiring_days
    today = today or store_today()
    batches = (
        StockBatch.objects.filter(
            remaining__gt=0,
            best_before__isnull=False,
            best_before__lte=today + timedelta(days=days),
        )
        .select_related("slot__shelf", "product")
        .order_by("best_before", "slot__shelf__name", "slot__code")
    )
    rows = []
    for b in batches:
        price = markdown_price(product=b.product, best_before=b.best_before, on=today)
        rows.append(
            {
                "batch": b.pk,
                "batch_code": b.batch_code,
                "slot": b.slot_id,
                "shelf": b.slot.shelf.name,
                "code": b.slot.code,
                "product": b.product.name,
                "best_before": b.best_before.isoformat(),
                "days_left": (b.best_before - today).days,
                "remaining": b.remaining,
                "marked_down_to": str(price) if price is not None else None,
            }
        )
    return rows


def stock_history(*, slot: Slot, limit: int = 100) -> list[dict[str, Any]]:
    moves = StockMove.objects.filter(slot=slot).select_related(
        "by", "batch", "cart_entry__visit__shopper"
    )[:limit]
    rows = []
    for m in moves:
        who = m.by.get_username() if m.by_id else None
        if who is None and m.cart_entry_id:
            who = m.cart_entry.visit.shopper.display_name
        rows.append(
            {
                "at": m.created_at.isoformat(),
                "reason": m.reason,
                "reason_label": m.get_reason_display(),
                "delta": m.delta,
                "stock_after": m.stock_after,
                "who": who,
                "batch": m.batch.batch_code if m.batch_id else None,
                "best_before": m.batch.best_before.isoformat()
                if m.batch_id and m.batch.best_before
                else None,
                "note": m.note,
            }
        )
    return rows


def stock_report_text(*, today: date) -> str:
    low = low_stock_list()
    soon = expiring_soon(today=today)
    rows = [f"MiniGo stock report for {today:%Y-%m-%d}", ""]
    rows.append(f"Low stock ({len(low)} slots):" if low else "No slot is low on stock.")
    for r in low:
        rows.append(
            f"  {r['shelf']}/{r['code']:<6} {r['product']:<30} {r['stock']:>3} of "
            f"{r['capacity']:<3} bring {r['bring']}"
        )
    rows.append("")
    rows.append(f"Expiring soon ({len(soon)} batches):" if soon else "Nothing expires soon.")
    for r in soon:
        rows.append(
            f"  {r['shelf']}/{r['code']:<6} {r['product']:<30} {r['remaining']:>3} best before "
            f"{r['best_before']} ({r['days_left']} days) batch {r['batch_code'] or '-'}"
        )
    return "\n".join(rows)


def stock_report_send(*, now: datetime | None = None) -> bool:
    """Mail the low-stock and expiring-soon report to staff once per store-local day, from
    the configured hour on. Returns whether it sent one (safe to call every few minutes)."""
    now = now or timezone.now()
    local = store_local(now)
    if local.hour < settings.MINIGO["STOCK_REPORT_HOUR"]:
        return False
    today = local.date()
    User = get_user_model()
    recipients = sorted(
        set(
            User.objects.filter(is_staff=True, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    with transaction.atomic():
        policy = StorePolicy.objects.select_for_update().get(pk=policy_get().pk)
        if policy.stock_report_sent_on == today:
            return False
        if not recipients:
            return False
        try:
            send_mail(
                f"MiniGo stock report {today:%Y-%m-%d}",
                stock_report_text(today=today),
                None,
                recipients,
            )
        except Exception:  # the mail is retried on the next run; nothing else is at stake
            log.exception("could not send the stock report")
            return False
        policy.stock_report_sent_on = today
        policy.save(update_fields=["stock_report_sent_on"])
    return True
