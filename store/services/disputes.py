"""Disputes: a shopper's "report a problem" on a receipt line, decided by a manager. A refund
is a correction entry on the closed visit's ledger (invariant 2), never an edit of the receipt."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from store.errors import Conflict, DomainError
from store.models import (
    CartEntry,
    Dispute,
    Receipt,
    ReceiptLine,
    ReviewStatus,
    RevisionReason,
    Shopper,
)
from store.services import live
from store.services.carts import cart_correct
from store.services.receipts import receipt_revise


def dispute_payload(*, dispute: Dispute) -> dict[str, Any]:
    line = dispute.line
    return {
        "dispute": dispute.pk,
        "receipt": dispute.receipt_id,
        "number": dispute.receipt.number,
        "shopper": dispute.shopper_id,
        "name": dispute.shopper.display_name,
        "line": line.pk if line else None,
        "sku": line.sku if line else None,
        "product_name": line.name if line else None,
        "quantity": dispute.quantity,
        "message": dispute.message,
        "status": dispute.status,
        "resolution_note": dispute.resolution_note,
        "refunded": str(dispute_refunded(dispute=dispute)),
        "created_at": dispute.created_at.isoformat() if dispute.created_at else None,
    }


def dispute_refunded(*, dispute: Dispute) -> Decimal:
    """Money given back for this dispute: its correction entries, priced as they were."""
    total = Decimal("0.00")
    for entry in CartEntry.objects.filter(dispute=dispute):
        total += -entry.quantity * entry.unit_price
    return total


def dispute_refundable(*, line: ReceiptLine) -> int:
    return _refundable(line)


def _refundable(line: ReceiptLine) -> int:
    """Items of a receipt line not yet refunded: every refund revises the receipt, so the
    line's current quantity is what is left."""
    return ReceiptLine.objects.get(pk=line.pk).quantity


def _refunded_items(line: ReceiptLine) -> int:
    """Items of this line already given back by decided disputes."""
    taken = CartEntry.objects.filter(dispute__line=line).aggregate(q=Sum("quantity"))["q"]
    return -(taken or 0)


def dispute_open(
    *,
    shopper: Shopper,
    receipt: Receipt,
    message: str,
    line: ReceiptLine | None = None,
    quantity: int = 1,
) -> Dispute:
    """Open a dispute on one of the shopper's own receipts (optionally on one line)."""
    if receipt.shopper_id != shopper.pk:
        # The same answer as a receipt that does not exist: nobody learns others' numbers.
        raise DomainError("receipt_not_found", "no such receipt", status=404)
    message = (message or "").strip()
    if not message:
        raise DomainError("message_required", "say what went wrong")
    if line is not None:
        if line.receipt_id != receipt.pk:
            raise DomainError("line_not_on_receipt", "that line is not on this receipt")
        left = _refundable(line)
        if left <= 0:
            raise Conflict("line_already_refunded", "every item on this line was already refunded")
        if quantity < 1:
            raise DomainError("bad_quantity", "report at least 1 item")
        if quantity > left:
            refunded = _refunded_items(line)
            raise DomainError(
                "bad_quantity",
                f"you can report at most {left} {'item' if left == 1 else 'items'} on this line"
                + (f" ({refunded} already refunded)" if refunded else ""),
            )
    else:
        quantity = 0
    with transaction.atomic():
        if (
            line is not None
            and Dispute.objects.filter(line=line, status=ReviewStatus.OPEN).exists()
        ):
            raise Conflict("dispute_already_open", "this line already has an open report")
        dispute = Dispute.objects.create(
            receipt=receipt,
            line=line,
            shopper=shopper,
            message=message[:2000],
            quantity=quantity,
        )
        payload = dispute_payload(dispute=dispute)
        live.to_managers("dispute_opened", payload)
        live.to_shopper(shopper.pk, "dispute", payload)
    return dispute


def dispute_resolve(
    *,
    dispute: Dispute,
    by: AbstractBaseUser,
    refund: bool,
    quantity: int | None = None,
    note: str = "",
) -> Dispute:
    """Decide a dispute: refund `quantity` items of its line (a negative correction entry on
    the visit, so the refund is on the ledger with who gave it), or reject it with a note."""
    with transaction.atomic():
        # Only the dispute row is locked: PostgreSQL refuses FOR UPDATE across the outer
        # join to a nullable line, and the dispute row is what serialises two decisions.
        locked = Dispute.objects.select_for_update().get(pk=dispute.pk)
        if locked.status != ReviewStatus.OPEN:
            raise Conflict("dispute_already_resolved", "this dispute was already decided")
        if refund:
            if locked.line is None:
                raise DomainError("dispute_has_no_line", "only a receipt line can be refunded")
            qty = quantity if quantity is not None else locked.quantity
            left = _refundable(locked.line)
            if left <= 0:
                raise Conflict(
                    "line_already_refunded", "every item on this line was already refunded"
                )
            if not 1 <= qty <= left:
                raise DomainError(
                    "bad_quantity", f"you can refund at most {left} on this line (asked {qty})"
                )
            entry = cart_correct(
                visit=locked.receipt.visit,
                product=locked.line.product,
                quantity=-qty,
                by=by,
                note=f"refund: dispute {locked.pk}",
                dispute=locked,
                allow_closed=True,
            )
            # The refund is at the price on the receipt, whatever the product costs today.
            CartEntry.objects.filter(pk=entry.pk).update(unit_price=locked.line.unit_price)
            receipt_revise(
                visit=locked.receipt.visit,
                reason=RevisionReason.REFUND,
                by=by,
                note=(note or "").strip() or f"dispute {locked.pk}",
            )
            locked.status = ReviewStatus.RESOLVED
        else:
            locked.status = ReviewStatus.DISMISSED
        locked.resolution_note = (note or "").strip()[:300]
        locked.resolved_at = timezone.now()
        locked.resolved_by = by
        locked.save(update_fields=["status", "resolution_note", "resolved_at", "resolved_by"])
        payload = dispute_payload(dispute=locked)
        live.to_managers("dispute_resolved", payload)
        live.to_shopper(locked.shopper_id, "dispute", payload)
    return locked
