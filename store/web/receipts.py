"""Receipt pages for managers: search, date range, pages, daily totals, CSV export and one
printable receipt. The shopper's own receipt page shares the receipt body template."""

from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from store.models import CartEntry, Receipt
from store.services.receipts import receipt_refunds, receipt_tax_breakdown
from store.services.store_settings import store_settings_get
from store.web.access import staff_required

PAGE_SIZE = 25
CENT = Decimal("0.01")


def percent_text(rate: Decimal) -> str:
    """A tax rate kept as a fraction (0.0700) as people read it (7)."""
    text = f"{rate * 100:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value and value.strip() else None
    except ValueError:
        return None


def receipt_filters(params) -> dict[str, Any]:
    """The list's filters from a query string; a date that cannot be read is ignored and
    reported, never an error page."""
    raw_from, raw_to = params.get("from", ""), params.get("to", "")
    day_from, day_to = _day(raw_from), _day(raw_to)
    bad = [v for v, d in ((raw_from, day_from), (raw_to, day_to)) if v.strip() and d is None]
    if day_from and day_to and day_from > day_to:
        day_from, day_to = day_to, day_from
    return {"q": params.get("q", "").strip()[:100], "from": day_from, "to": day_to, "bad": bad}


def receipts_filtered(filters: dict[str, Any]) -> QuerySet[Receipt]:
    qs = Receipt.objects.select_related("shopper")
    q = filters["q"]
    if q:
        qs = qs.filter(
            Q(number__icontains=q)
            | Q(shopper__display_name__icontains=q)
            | Q(shopper__user__username__icontains=q)
            | Q(lines__sku__icontains=q)
            | Q(lines__name__icontains=q)
        ).distinct()
    tz = timezone.get_current_timezone()
    if filters["from"]:
        qs = qs.filter(issued_at__gte=datetime.combine(filters["from"], time.min, tzinfo=tz))
    if filters["to"]:
        end = datetime.combine(filters["to"] + timedelta(days=1), time.min, tzinfo=tz)
        qs = qs.filter(issued_at__lt=end)
    return qs.order_by("-issued_at", "-id")


def daily_totals(qs: QuerySet[Receipt]) -> list[dict[str, Any]]:
    """Per day of the filtered receipts: how many, their total and tax, and the refunds given
    on them (from the refund correction entries)."""
    ids = qs.values("id")
    rows = (
        Receipt.objects.filter(id__in=ids)
        .annotate(day=TruncDate("issued_at"))
        .values("day", "currency")
        .annotate(n=Count("id"), total=Sum("total"), tax=Sum("tax"))
        .order_by("-day", "currency")
    )
    refunds: dict[tuple, Decimal] = {}
    entries = (
        CartEntry.objects.filter(dispute__receipt__in=ids)
        .annotate(day=TruncDate("dispute__receipt__issued_at"))
        .values_list("day", "dispute__receipt__currency", "quantity", "unit_price")
    )
    for day, currency, quantity, unit_price in entries:
        key = (day, currency)
        refunds[key] = refunds.get(key, Decimal("0.00")) - quantity * unit_price
    out = []
    for row in rows:
        refunded = refunds.get((row["day"], row["currency"]), Decimal("0.00")).quantize(CENT)
        # SQLite sums decimals as floats: back to cents.
        total, tax = Decimal(row["total"]).quantize(CENT), Decimal(row["tax"]).quantize(CENT)
        # Refunds revise their receipts: the summed totals are already net of them.
        out.append(
            {**row, "sales": total + refunded, "tax": tax, "refunded": refunded, "net": total}
        )
    return out


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@staff_required
def receipts(request: HttpRequest) -> HttpResponse:
    filters = receipt_filters(request.GET)
    qs = receipts_filtered(filters)
    page = Paginator(qs.prefetch_related("lines", "disputes__line"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "manager/receipts.html",
        {
            "section": "receipts",
            "q": filters["q"],
            "filters": filters,
            "page": page,
            "receipts": page.object_list,
            "days": daily_totals(qs)[:31],
            "query": _query_without_page(request),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_HEADER = [
    "number",
    "issued_at",
    "shopper",
    "username",
    "sku",
    "product",
    "quantity",
    "unit_price",
    "tax_rate",
    "line_total",
    "refunded_quantity",
    "receipt_total",
    "receipt_tax",
    "currency",
]


def _csv_rows(qs: QuerySet[Receipt]):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for receipt in (
        qs.select_related("shopper__user").prefetch_related("lines").iterator(chunk_size=500)
    ):
        refunded = receipt_refunds(receipt=receipt)["per_line"]
        for line in receipt.lines.all():
            yield writer.writerow(
                [
                    receipt.number,
                    receipt.issued_at.isoformat(),
                    receipt.shopper.display_name,
                    receipt.shopper.user.get_username(),
                    line.sku,
                    line.name,
                    line.quantity,
                    line.unit_price,
                    line.tax_rate,
                    line.line_total,
                    refunded.get(line.pk, 0),
                    receipt.total,
                    receipt.tax,
                    receipt.currency,
                ]
            )


@staff_required
def receipts_csv(request: HttpRequest) -> HttpResponse:
    """The filtered receipts as CSV, one row per receipt line (spreadsheet-friendly)."""
    qs = receipts_filtered(receipt_filters(request.GET))
    response = StreamingHttpResponse(_csv_rows(qs), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="minigo-receipts-{stamp}.csv"'
    return response


def receipt_context(receipt: Receipt) -> dict[str, Any]:
    """What the receipt body template shows: the store, lines with their refunds, the tax
    breakdown and the totals."""
    refunds = receipt_refunds(receipt=receipt)
    lines = [
        {
            "line": line,
            "refunded": refunds["per_line"].get(line.pk, 0),
            "tax_percent": percent_text(line.tax_rate),
        }
        for line in receipt.lines.all()
    ]
    return {
        "receipt": receipt,
        "shop": store_settings_get(),
        "receipt_lines": lines,
        "tax_bands": receipt_tax_breakdown(receipt=receipt),
        "refunds": refunds,
    }


@staff_required
def receipt(request: HttpRequest, pk: int) -> HttpResponse:
    obj = get_object_or_404(Receipt.objects.select_related("shopper__user"), pk=pk)
    return render(
        request,
        "manager/receipt.html",
        {
            "section": "receipts",
            **receipt_context(obj),
            "disputes": obj.disputes.select_related("line"),
        },
    )
