"""Analytics selectors. Grouping uses Django's Trunc functions, which both SQLite and
PostgreSQL implement, and empty buckets are filled in Python so charts have no gaps."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from store.models import Frame, Receipt, ReceiptLine, ShelfEvent, Visit, VisitStatus
from store.services.store_settings import store_settings_get


def _hours(now: datetime, n: int) -> list[datetime]:
    top = now.replace(minute=0, second=0, microsecond=0)
    return [top - timedelta(hours=i) for i in range(n - 1, -1, -1)]


def _days(today: date, n: int) -> list[date]:
    return [today - timedelta(days=i) for i in range(n - 1, -1, -1)]


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _hour_key(value: datetime) -> datetime:
    # SQLite hands back naive UTC datetimes for some backends' truncations; normalise.
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    return value.astimezone(timezone.get_current_timezone()).replace(
        minute=0, second=0, microsecond=0
    )


def sales(*, now: datetime | None = None, hours: int = 24, days: int = 14) -> dict[str, Any]:
    now = timezone.localtime(now or timezone.now())
    hour_slots = _hours(now, hours)
    day_slots = _days(now.date(), days)
    by_hour: dict[datetime, Decimal] = {}
    for row in (
        Receipt.objects.filter(issued_at__gte=hour_slots[0])
        .annotate(h=TruncHour("issued_at"))
        .values("h")
        .annotate(total=Sum("total"), n=Count("id"))
    ):
        key = _hour_key(row["h"])
        by_hour[key] = by_hour.get(key, Decimal("0")) + (row["total"] or Decimal("0"))
    start_day = timezone.make_aware(datetime.combine(day_slots[0], datetime.min.time()))
    by_day: dict[date, Decimal] = {}
    for row in (
        Receipt.objects.filter(issued_at__gte=start_day)
        .annotate(d=TruncDate("issued_at"))
        .values("d")
        .annotate(total=Sum("total"))
    ):
        key = _as_date(row["d"])
        by_day[key] = by_day.get(key, Decimal("0")) + (row["total"] or Decimal("0"))
    return {
        "per_hour": {
            "labels": [h.strftime("%H:00") for h in hour_slots],
            "values": [float(by_hour.get(h, 0)) for h in hour_slots],
        },
        "per_day": {
            "labels": [d.isoformat() for d in day_slots],
            "values": [float(by_day.get(d, 0)) for d in day_slots],
        },
    }


def device_events(
    *, now: datetime | None = None, hours: int = 24, days: int = 14
) -> dict[str, Any]:
    """Events (shelf events and camera frames) received per device, per hour and per day."""
    now = timezone.localtime(now or timezone.now())
    hour_slots = _hours(now, hours)
    day_slots = _days(now.date(), days)
    start_day = timezone.make_aware(datetime.combine(day_slots[0], datetime.min.time()))
    per_hour: dict[str, dict[datetime, int]] = defaultdict(dict)
    per_day: dict[str, dict[date, int]] = defaultdict(dict)
    for model in (ShelfEvent, Frame):
        for row in (
            model.objects.filter(received_at__gte=hour_slots[0])
            .annotate(h=TruncHour("received_at"))
            .values("device__device_id", "h")
            .annotate(n=Count("id"))
        ):
            bucket = per_hour[row["device__device_id"]]
            key = _hour_key(row["h"])
            bucket[key] = bucket.get(key, 0) + row["n"]
        for row in (
            model.objects.filter(received_at__gte=start_day)
            .annotate(d=TruncDate("received_at"))
            .values("device__device_id", "d")
            .annotate(n=Count("id"))
        ):
            bucket = per_day[row["device__device_id"]]
            key = _as_date(row["d"])
            bucket[key] = bucket.get(key, 0) + row["n"]
    devices = sorted(set(per_hour) | set(per_day))
    return {
        "per_hour": {
            "labels": [h.strftime("%H:00") for h in hour_slots],
            "series": {d: [per_hour[d].get(h, 0) for h in hour_slots] for d in devices},
        },
        "per_day": {
            "labels": [d.isoformat() for d in day_slots],
            "series": {d: [per_day[d].get(x, 0) for x in day_slots] for d in devices},
        },
    }


def top_products(*, since: datetime | None = None, limit: int = 10) -> list[dict[str, Any]]:
    qs = ReceiptLine.objects.all()
    if since is not None:
        qs = qs.filter(receipt__issued_at__gte=since)
    rows = (
        qs.values("sku", "name")
        .annotate(quantity=Sum("quantity"), revenue=Sum("line_total"))
        .order_by("-quantity", "sku")[:limit]
    )
    return [
        {
            "sku": r["sku"],
            "name": r["name"],
            "quantity": r["quantity"],
            "revenue": float(r["revenue"] or 0),
        }
        for r in rows
    ]


def average_visit_minutes(*, since: datetime | None = None) -> dict[str, Any]:
    # Averaged in Python: duration arithmetic in SQL differs between SQLite and PostgreSQL,
    # and one row per visit over the chosen range is small.
    qs = Visit.objects.filter(status=VisitStatus.CLOSED, exited_at__isnull=False)
    if since is not None:
        qs = qs.filter(entered_at__gte=since)
    spans = [(out - inn).total_seconds() for inn, out in qs.values_list("entered_at", "exited_at")]
    spans = [s for s in spans if s >= 0]
    average = sum(spans) / len(spans) / 60 if spans else None
    return {"visits": len(spans), "minutes": round(average, 1) if average is not None else None}


def analytics(*, now: datetime | None = None, days: int = 14) -> dict[str, Any]:
    now = now or timezone.now()
    since = now - timedelta(days=days)
    return {
        "sales": sales(now=now, days=days),
        "device_events": device_events(now=now, days=days),
        "top_products": top_products(since=since),
        "average_visit": average_visit_minutes(since=since),
        "days": days,
        "currency": store_settings_get().currency,
    }
