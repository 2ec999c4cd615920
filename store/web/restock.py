"""The restock page: what to bring to each slot, what is low, what expires soon, recording a
delivery with its batch and best-before date, and each slot's stock history."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from store.errors import DomainError
from store.models import Slot
from store.services.restock import (
    expiring_soon,
    low_stock_list,
    restock_list,
    slot_restock,
    stock_history,
)
from store.web.access import staff_required
from store.web.json_views import body, domain_errors


@staff_required
def page(request: HttpRequest) -> HttpResponse:
    return render(request, "manager/restock.html", {"section": "restock"})


@never_cache
@staff_required
def state(request: HttpRequest) -> JsonResponse:
    slots = Slot.objects.select_related("shelf", "product").filter(product__isnull=False)
    return JsonResponse(
        {
            "restock": restock_list(),
            "low": low_stock_list(),
            "expiring": expiring_soon(),
            "slots": [
                {"slot": s.pk, "label": f"{s.shelf.name}/{s.code} · {s.product.name}"}
                for s in slots
            ],
        }
    )


@require_POST
@staff_required
@domain_errors
def restock(request: HttpRequest, pk: int) -> JsonResponse:
    slot = get_object_or_404(Slot, pk=pk)
    data = body(request)
    try:
        quantity = int(data.get("quantity"))
    except (TypeError, ValueError):
        raise DomainError("bad_quantity", "restock a positive quantity") from None
    best_before = None
    if data.get("best_before"):
        try:
            best_before = date.fromisoformat(str(data["best_before"]))
        except ValueError:
            raise DomainError("bad_date", "best-before is YYYY-MM-DD") from None
    slot = slot_restock(
        slot=slot,
        quantity=quantity,
        by=request.user,
        batch_code=str(data.get("batch_code") or ""),
        best_before=best_before,
    )
    return JsonResponse({"slot": slot.pk, "stock": slot.stock, "capacity": slot.capacity})


@never_cache
@staff_required
def history(request: HttpRequest, pk: int) -> JsonResponse:
    slot = get_object_or_404(Slot.objects.select_related("shelf", "product"), pk=pk)
    return JsonResponse(
        {
            "slot": slot.pk,
            "label": str(slot),
            "stock": slot.stock,
            "capacity": slot.capacity,
            "moves": stock_history(slot=slot),
        }
    )
