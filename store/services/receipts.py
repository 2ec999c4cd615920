"""Receipts: one per visit (invariant 4), issued when the visit's evidence is complete and
amended afterwards (invariant 7). Every change of a receipt goes through `receipt_revise`;
`receipt_revised` is the one place that runs after a revision is written (push, mail, and
whatever else must follow a change of what the shopper owes)."""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from store.errors import Conflict, DomainError
from store.models import (
    CartEntry,
    Product,
    Receipt,
    ReceiptLine,
    ReceiptRevision,
    RevisionReason,
    Slot,
    Visit,
    VisitStatus,
)
from store.services import live
from store.services.carts import cart_correct, cart_lines
from store.services.payments import payment_settle_receipt
from store.services.store_settings import store_settings_get

log = logging.getLogger(__name__)
CENT = Decimal("0.01")


def _number(visit: Visit) -> str:
    return f"R{timezone.now():%Y%m%d}-{visit.pk:06d}"


def _priced(visit: Visit) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
    """The visit's cart as receipt lines, with the total and the tax in it."""
    lines = cart_lines(visit=visit)
    products = Product.objects.in_bulk([line.product_id for line in lines])
    total = tax = Decimal("0.00")
    rows = []
    for line in lines:
        product = products[line.product_id]
        line_total = (line.unit_price * line.quantity).quantize(CENT)
        rate = product.tax_rate
        # Prices include tax: the tax in a line is total × rate / (1 + rate).
        tax += (line_total * rate / (1 + rate)).quantize(CENT, rounding=ROUND_HALF_UP)
        total += line_total
        rows.append(
            {
                "product": product.pk,
                "sku": product.sku,
                "name": product.name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "tax_rate": str(rate),
                "line_total": str(line_total),
            }
        )
    return rows, total, tax


def _write_lines(receipt: Receipt, rows: list[dict[str, Any]]) -> None:
    """Make the receipt's lines say what the current revision says. Lines are updated in
    place (a dispute points at its line); a product no longer bought keeps its line at zero.
    The ledger itself stays append-only and the revisions keep every earlier view."""
    # One line per product and unit price: a marked-down item is its own line.
    existing = {(line.product_id, line.unit_price): line for line in receipt.lines.all()}
    wanted = {(row["product"], Decimal(row["unit_price"])): row for row in rows}
    for key, line in existing.items():
        row = wanted.get(key)
        quantity = row["quantity"] if row else 0
        total = Decimal(row["line_total"]) if row else Decimal("0.00")
        if (line.quantity, line.line_total) != (quantity, total):
            line.quantity, line.line_total = quantity, total
            line.save(update_fields=["quantity", "line_total"])
    ReceiptLine.objects.bulk_create(
        ReceiptLine(
            receipt=receipt,
            product_id=row["product"],
            sku=row["sku"],
            name=row["name"],
            quantity=row["quantity"],
            unit_price=Decimal(row["unit_price"]),
            tax_rate=Decimal(row["tax_rate"]),
            line_total=Decimal(row["line_total"]),
        )
        for key, row in wanted.items()
        if key not in existing
    )


def _changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What changed per product between two revisions' lines: {sku, name, was, now}."""
    old, new, names = _per_sku(before), _per_sku(after), {}
    for row in [*before, *after]:
        names[row["sku"]] = row["name"]
    out = []
    for sku in sorted(set(old) | set(new)):
        was, now = old.get(sku, 0), new.get(sku, 0)
        if was != now:
            out.append({"sku": sku, "name": names[sku], "was": was, "now": now})
    return out


def _per_sku(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Quantities per product (a product can have a line per unit price)."""
    out: dict[str, int] = {}
    for row in rows:
        out[row["sku"]] = out.get(row["sku"], 0) + row["quantity"]
    return out


def receipt_issue(
    *, visit: Visit, provisional: bool = False, waiting_for: list[str] | None = None
) -> Receipt:
    """Issue the receipt of a closed visit, exactly once (invariant 4). Called by the
    settlement (store.services.settlement) once the visit's evidence is complete, or past the
    deadline as `provisional`, naming the devices it is `waiting_for`.

    Safe when two callers race: the visit row is locked, so the second waits and then finds
    the receipt; the one-to-one column refuses a second row even without the lock."""
    with transaction.atomic():
        locked = Visit.objects.select_for_update().get(pk=visit.pk)
        if locked.status != VisitStatus.CLOSED:
            raise Conflict("visit_open", "a receipt is issued only when the visit closes")
        existing = Receipt.objects.filter(visit=locked).first()
        if existing is not None:
            return existing
        rows, total, tax = _priced(locked)
        now = timezone.now()
        try:
            with transaction.atomic():
                receipt = Receipt.objects.create(
                    visit=locked,
                    shopper=locked.shopper,
                    number=_number(locked),
                    issued_at=now,
                    subtotal=total - tax,
                    tax=tax,
                    total=total,
                    currency=store_settings_get().currency or settings.MINIGO["CURRENCY"],
                    provisional=provisional,
                    waiting_for=sorted(waiting_for or []),
                )
        except IntegrityError:
            return Receipt.objects.get(visit=locked)
        _write_lines(receipt, rows)
        revision = ReceiptRevision.objects.create(
            receipt=receipt,
            revision=1,
            reason=RevisionReason.ISSUED,
            provisional=provisional,
            total=total,
            difference=total,
            lines=rows,
            changes=[],
            created_at=now,
        )
        receipt_revised(receipt=receipt, revision=revision)
    return receipt


def receipt_revise(
    *,
    visit: Visit,
    reason: str,
    by: AbstractBaseUser | None = None,
    note: str = "",
    provisional: bool | None = None,
    waiting_for: list[str] | None = None,
) -> Receipt | None:
    """The one way a receipt changes after it was issued: re-read the visit's ledger and, if
    the lines (or the provisional state) differ, write a new revision of the same receipt.
    Returns the receipt, or None while the visit has none yet (it is still settling, and the
    receipt it gets will include the change). Runs inside the caller's transaction, so the
    ledger entries and the revision commit together."""
    with transaction.atomic():
        locked = Visit.objects.select_for_update().get(pk=visit.pk)
        receipt = Receipt.objects.select_for_update().filter(visit=locked).first()
        if receipt is None:
            return None
        before = [
            {"sku": line.sku, "name": line.name, "quantity": line.quantity}
            for line in receipt.lines.all()
        ]
        rows, total, tax = _priced(locked)
        changes = _changes(before, rows)
        still_provisional = receipt.provisional if provisional is None else provisional
        if not changes and still_provisional == receipt.provisional:
            return receipt
        now = timezone.now()
        difference = total - receipt.total
        receipt.revision += 1
        receipt.revised_at = now
        receipt.subtotal, receipt.tax, receipt.total = total - tax, tax, total
        receipt.provisional = still_provisional
        if waiting_for is not None or not still_provisional:
            receipt.waiting_for = sorted(waiting_for or []) if still_provisional else []
        if changes:
            receipt.emailed_at = None  # a changed receipt is mailed again; a confirmation is not
        receipt.save()
        _write_lines(receipt, rows)
        revision = ReceiptRevision.objects.create(
            receipt=receipt,
            revision=receipt.revision,
            reason=reason,
            provisional=still_provisional,
            total=total,
            difference=difference,
            lines=rows,
            changes=changes,
            note=note[:200],
            created_by=by,
            created_at=now,
        )
        receipt_revised(receipt=receipt, revision=revision)
    return receipt


def receipt_correct(
    *,
    receipt: Receipt,
    product: Product,
    quantity: int,
    by: AbstractBaseUser,
    note: str,
    slot: Slot | None = None,
) -> Receipt:
    """A staff correction of a closed visit's receipt: add (`quantity` > 0) or remove items.
    A correction entry on the ledger (the stock of `slot` moves with it when given) and a new
    revision of the receipt, in one transaction."""
    note = (note or "").strip()
    if not note:
        raise DomainError("note_required", "say why the receipt is corrected")
    if slot is not None and slot.product_id != product.pk:
        raise DomainError("slot_product_mismatch", "that slot holds another product")
    with transaction.atomic():
        cart_correct(
            visit=receipt.visit,
            product=product,
            quantity=quantity,
            by=by,
            note=f"correction: {note}",
            allow_closed=True,
            slot=slot,
        )
        revised = receipt_revise(
            visit=receipt.visit, reason=RevisionReason.CORRECTION, by=by, note=note
        )
    return revised or receipt


def receipt_revised(*, receipt: Receipt, revision: ReceiptRevision) -> None:
    """Runs once for every revision written (the first issue included), inside its
    transaction. `revision.difference` is what the shopper owes more (or, negative, gets
    back) since the revision before: settle money here."""
    payload = receipt_payload(receipt=receipt)
    live.to_shopper(receipt.shopper_id, "receipt", payload)
    live.to_managers("receipt", {**payload, "name": receipt.shopper.display_name})
    # Charged (or refunded) the difference in the same transaction; its pushes follow.
    payment_settle_receipt(receipt=receipt)
    transaction.on_commit(lambda: receipt_email(receipt_id=receipt.pk))


def receipt_payload(*, receipt: Receipt) -> dict:
    latest = receipt.revisions.order_by("-revision").first()
    return {
        "receipt": receipt.pk,
        "number": receipt.number,
        "visit": receipt.visit_id,
        "issued_at": receipt.issued_at.isoformat(),
        "revision": receipt.revision,
        "revised_at": receipt.revised_at.isoformat() if receipt.revised_at else None,
        "provisional": receipt.provisional,
        "waiting_for": receipt.waiting_for,
        "reason": latest.reason if latest else RevisionReason.ISSUED,
        "changes": latest.changes if latest else [],
        "currency": receipt.currency,
        "subtotal": str(receipt.subtotal),
        "tax": str(receipt.tax),
        "total": str(receipt.total),
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "line_total": str(line.line_total),
            }
            for line in receipt.lines.all()
            if line.quantity
        ],
    }


def receipt_tax_breakdown(*, receipt: Receipt) -> list[dict]:
    """Per tax rate: the gross amount (prices include tax), the tax it contains and the net,
    as a receipt must show them. Rounded per rate, as receipt_issue rounds per line."""
    by_rate: dict[Decimal, list[ReceiptLine]] = {}
    for line in receipt.lines.all():
        if line.quantity:  # a line an amendment took to zero carries no tax
            by_rate.setdefault(line.tax_rate, []).append(line)
    rows = []
    for rate in sorted(by_rate):
        lines = by_rate[rate]
        gross = sum((line.line_total for line in lines), Decimal("0.00"))
        tax = sum(
            (
                (line.line_total * rate / (1 + rate)).quantize(CENT, rounding=ROUND_HALF_UP)
                for line in lines
            ),
            Decimal("0.00"),
        )
        rows.append(
            {
                "rate": rate,
                "percent": (rate * 100).normalize(),
                "gross": gross,
                "tax": tax,
                "net": gross - tax,
            }
        )
    return rows


def receipt_refunds(*, receipt: Receipt) -> dict:
    """What disputes gave back on this receipt: items per receipt line and the amount, from
    the refund correction entries on the visit's ledger (priced as on the receipt). Each
    refund also revised the receipt, so its lines and total are already net of these."""
    per_line: dict[int, int] = {}
    amount = Decimal("0.00")
    entries = CartEntry.objects.filter(
        visit_id=receipt.visit_id, dispute__isnull=False, dispute__receipt=receipt
    ).values_list("dispute__line_id", "quantity", "unit_price")
    for line_id, quantity, unit_price in entries:
        if line_id is not None:
            per_line[line_id] = per_line.get(line_id, 0) - quantity
        amount += -quantity * unit_price
    return {"per_line": per_line, "amount": amount}


def receipt_text(*, receipt: Receipt) -> str:
    shop = store_settings_get()
    rows = [shop.name, *shop.address.splitlines()]
    if shop.tax_ids:
        rows.append(shop.tax_ids)
    title = f"MiniGo receipt {receipt.number}"
    if receipt.revision > 1:
        title += f" (revision {receipt.revision})"
    rows += ["", title, f"{receipt.issued_at:%Y-%m-%d %H:%M} UTC", ""]
    if receipt.provisional:
        rows += ["PROVISIONAL: a shelf has not reported yet; it may still change.", ""]
    for line in receipt.lines.all():
        if not line.quantity:
            continue
        rows.append(f"{line.quantity:>3} × {line.name:<30} {line.line_total:>8}")
    rows += ["", f"{'Total':<36} {receipt.total:>8} {receipt.currency}"]
    for band in receipt_tax_breakdown(receipt=receipt):
        label = f"of which tax {band['percent']}% on {band['gross']}"
        rows.append(f"{label:<36} {band['tax']:>8}")
    latest = receipt.revisions.order_by("-revision").first()
    if latest is not None and latest.changes:
        rows += ["", f"Changed ({latest.get_reason_display().lower()}):"]
        for change in latest.changes:
            rows.append(f"  {change['name']}: {change['was']} → {change['now']}")
    if shop.receipt_footer:
        rows += ["", shop.receipt_footer]
    return "\n".join(rows)


def receipt_email(*, receipt_id: int) -> None:
    """Mail the receipt's current revision once, if the shopper wants receipts by email."""
    with transaction.atomic():
        receipt = (
            Receipt.objects.select_for_update().select_related("shopper__user").get(pk=receipt_id)
        )
        user = receipt.shopper.user
        if receipt.emailed_at or not receipt.shopper.email_receipts or not user.email:
            return
        subject = f"Your MiniGo receipt {receipt.number}"
        if receipt.revision > 1:
            subject += f" (amended, revision {receipt.revision})"
        try:
            send_mail(subject, receipt_text(receipt=receipt), None, [user.email])
        except Exception:  # mail trouble must never undo the receipt itself
            log.exception("could not email receipt %s", receipt.number)
            return
        receipt.emailed_at = timezone.now()
        receipt.save(update_fields=["emailed_at"])
