from __future__ import annotations

import logging
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from store.errors import Conflict
from store.models import CartEntry, Product, Receipt, ReceiptLine, Visit, VisitStatus
from store.services import live
from store.services.carts import cart_lines
from store.services.store_settings import store_settings_get

log = logging.getLogger(__name__)
CENT = Decimal("0.01")


def _number(visit: Visit) -> str:
    return f"R{timezone.now():%Y%m%d}-{visit.pk:06d}"


def receipt_issue(*, visit: Visit) -> Receipt:
    """Issue the receipt of a closed visit, exactly once (invariant 4).

    Safe when two exit frames race: the visit row is locked, so the second caller waits and
    then finds the receipt; the one-to-one column refuses a second row even without the lock.
    """
    with transaction.atomic():
        locked = Visit.objects.select_for_update().get(pk=visit.pk)
        if locked.status != VisitStatus.CLOSED:
            raise Conflict("visit_open", "a receipt is issued only when the visit closes")
        existing = Receipt.objects.filter(visit=locked).first()
        if existing is not None:
            return existing
        lines = cart_lines(visit=locked)
        products = Product.objects.in_bulk([line.product_id for line in lines])
        total = Decimal("0.00")
        tax = Decimal("0.00")
        rows = []
        for line in lines:
            product = products[line.product_id]
            line_total = (line.unit_price * line.quantity).quantize(CENT)
            rate = product.tax_rate
            # Prices include tax: the tax in a line is total × rate / (1 + rate).
            tax += (line_total * rate / (1 + rate)).quantize(CENT, rounding=ROUND_HALF_UP)
            total += line_total
            rows.append((product, line, line_total, rate))
        try:
            with transaction.atomic():
                receipt = Receipt.objects.create(
                    visit=locked,
                    shopper=locked.shopper,
                    number=_number(locked),
                    issued_at=timezone.now(),
                    subtotal=total - tax,
                    tax=tax,
                    total=total,
                    currency=store_settings_get().currency or settings.MINIGO["CURRENCY"],
                )
        except IntegrityError:
            return Receipt.objects.get(visit=locked)
        ReceiptLine.objects.bulk_create(
            ReceiptLine(
                receipt=receipt,
                product=product,
                sku=product.sku,
                name=product.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                tax_rate=rate,
                line_total=line_total,
            )
            for product, line, line_total, rate in rows
        )
        payload = receipt_payload(receipt=receipt)
        live.to_shopper(locked.shopper_id, "receipt", payload)
        live.to_managers("receipt", {**payload, "name": locked.shopper.display_name})
        transaction.on_commit(lambda: receipt_email(receipt_id=receipt.pk))
    return receipt


def receipt_payload(*, receipt: Receipt) -> dict:
    return {
        "receipt": receipt.pk,
        "number": receipt.number,
        "visit": receipt.visit_id,
        "issued_at": receipt.issued_at.isoformat(),
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
        ],
    }


def receipt_tax_breakdown(*, receipt: Receipt) -> list[dict]:
    """Per tax rate: the gross amount (prices include tax), the tax it contains and the net,
    as a receipt must show them. Rounded per rate, as receipt_issue rounds per line."""
    by_rate: dict[Decimal, list[ReceiptLine]] = {}
    for line in receipt.lines.all():
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
    the refund correction entries on the visit's ledger (priced as on the receipt)."""
    per_line: dict[int, int] = {}
    amount = Decimal("0.00")
    entries = CartEntry.objects.filter(
        visit_id=receipt.visit_id, dispute__isnull=False, dispute__receipt=receipt
    ).values_list("dispute__line_id", "quantity", "unit_price")
    for line_id, quantity, unit_price in entries:
        if line_id is not None:
            per_line[line_id] = per_line.get(line_id, 0) - quantity
        amount += -quantity * unit_price
    return {"per_line": per_line, "amount": amount, "net_total": receipt.total - amount}


def receipt_text(*, receipt: Receipt) -> str:
    shop = store_settings_get()
    rows = [shop.name, *shop.address.splitlines()]
    if shop.tax_ids:
        rows.append(shop.tax_ids)
    rows += ["", f"MiniGo receipt {receipt.number}", f"{receipt.issued_at:%Y-%m-%d %H:%M} UTC", ""]
    for line in receipt.lines.all():
        rows.append(f"{line.quantity:>3} × {line.name:<30} {line.line_total:>8}")
    rows += ["", f"{'Total':<36} {receipt.total:>8} {receipt.currency}"]
    for band in receipt_tax_breakdown(receipt=receipt):
        label = f"of which tax {band['percent']}% on {band['gross']}"
        rows.append(f"{label:<36} {band['tax']:>8}")
    refunds = receipt_refunds(receipt=receipt)
    if refunds["amount"]:
        rows.append(f"{'Refunded':<36} {-refunds['amount']:>8}")
        rows.append(f"{'Total after refunds':<36} {refunds['net_total']:>8} {receipt.currency}")
    if shop.receipt_footer:
        rows += ["", shop.receipt_footer]
    return "\n".join(rows)


def receipt_email(*, receipt_id: int) -> None:
    """Mail the receipt once, if the shopper wants receipts by email and has an address."""
    with transaction.atomic():
        receipt = (
            Receipt.objects.select_for_update().select_related("shopper__user").get(pk=receipt_id)
        )
        user = receipt.shopper.user
        if receipt.emailed_at or not receipt.shopper.email_receipts or not user.email:
            return
        try:
            send_mail(
                f"Your MiniGo receipt {receipt.number}",
                receipt_text(receipt=receipt),
                None,
                [user.email],
            )
        except Exception:  # mail trouble must never undo the receipt itself
            log.exception("could not email receipt %s", receipt.number)
            return
        receipt.emailed_at = timezone.now()
        receipt.save(update_fields=["emailed_at"])
