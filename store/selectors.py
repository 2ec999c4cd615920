"""Reads: who may see what."""

from __future__ import annotations

from django.db.models import QuerySet

from store.models import Receipt, Visit, VisitStatus


def visits_for(user) -> QuerySet[Visit]:
    qs = Visit.objects.select_related("shopper")
    if user.is_staff:
        return qs
    return qs.filter(shopper__user=user)


def receipts_for(user) -> QuerySet[Receipt]:
    qs = Receipt.objects.prefetch_related("lines", "revisions")
    if user.is_staff:
        return qs
    return qs.filter(shopper__user=user)


def open_visits() -> QuerySet[Visit]:
    return Visit.objects.filter(status=VisitStatus.OPEN).select_related("shopper")
