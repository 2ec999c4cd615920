"""The store's own clock: sale hours, best-before days and the daily cash-up are in the
store's local time, whatever the server's time zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def store_tz() -> ZoneInfo:
    return ZoneInfo(settings.MINIGO["STORE_TIME_ZONE"])


def store_local(when: datetime) -> datetime:
    return when.astimezone(store_tz())


def store_today(*, now: datetime | None = None) -> date:
    return store_local(now or timezone.now()).date()


def store_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a store-local day as aware datetimes."""
    start = datetime.combine(day, time.min, tzinfo=store_tz())
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=store_tz())
