"""Manager pages (staff only). Pages render a shell; their JS module fetches the JSON state
below on open and after every websocket reconnect."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import OuterRef, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from store.errors import DomainError
from store.models import (
    Dispute,
    Frame,
    Product,
    Receipt,
    ReviewItem,
    ReviewStatus,
    SensorKind,
    Shelf,
    Visit,
    VisitStatus,
)
from store.services import attribution
from store.services.disputes import dispute_payload, dispute_resolve
from store.services.receipts import receipt_correct
from store.services.review import review_payload
from store.web import analytics as analytics_selectors
from store.web.access import staff_required
from store.web.selectors import devices_state, manager_state


@staff_required
def live(request: HttpRequest) -> HttpResponse:
    return render(request, "manager/live.html", {"section": "live"})


@never_cache
@staff_required
def state(request: HttpRequest) -> JsonResponse:
    return JsonResponse(manager_state())


@never_cache
@staff_required
def devices(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"devices": devices_state()})


@never_cache
@staff_required
def frame_jpeg(request: HttpRequest, pk: int) -> HttpResponse:
    """A frame's JPEG while the server still holds it; 404 once it was dropped."""
    jpeg = Frame.objects.filter(pk=pk).values_list("jpeg", flat=True).first()
    if jpeg is None:
        raise Http404("no frame held")
    response = HttpResponse(bytes(jpeg), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


@staff_required
def inventory(request: HttpRequest) -> HttpResponse:
    # The newest frame whose pixels are still held, per shelf: the picture a manager draws
    # the slots' reach bands on.
    latest = Frame.objects.filter(device=OuterRef("device"), jpeg__isnull=False).order_by(
        "-captured_at", "-pk"
    )
    shelves = (
        Shelf.objects.select_related("device")
        .prefetch_related("slots__product")
        .annotate(latest_frame=Subquery(latest.values("pk")[:1]))
    )
    return render(
        request,
        "manager/inventory.html",
        {
            "section": "inventory",
            "shelves": shelves,
            "products": Product.objects.all(),
            "sensors": SensorKind.choices,
        },
    )


def _review_rows() -> list[dict]:
    items = ReviewItem.objects.filter(status=ReviewStatus.OPEN).select_related(
        "product", "slot__shelf", "shelf_event", "frame"
    )
    rows = []
    for item in items.order_by("created_at"):
        event = item.shelf_event
        rows.append(
            {
                **review_payload(item=item),
                "slot_label": str(item.slot) if item.slot_id else None,
                "weights": {"before": event.before, "after": event.after, "sensor": event.sensor}
                if event
                else None,
                "evidence": item.evidence,
                "frame": item.frame_id,
                "frame_held": bool(item.frame_id)
                and Frame.objects.filter(pk=item.frame_id, jpeg__isnull=False).exists(),
                # Shoppers in the store when it happened, also those who left since: the
                # item can still be given to them (it amends their receipt).
                "present": [
                    {"visit": v.pk, "name": v.shopper.display_name}
                    for v in attribution.visits_at(when=event.occurred_at)
                ]
                if event
                else None,
            }
        )
    return rows


@staff_required
def review(request: HttpRequest) -> HttpResponse:
    return render(request, "manager/review.html", {"section": "review"})


@never_cache
@staff_required
def review_state(request: HttpRequest) -> JsonResponse:
    visits = Visit.objects.filter(status=VisitStatus.OPEN).select_related("shopper")
    return JsonResponse(
        {
            "items": _review_rows(),
            "in_store": [{"visit": v.pk, "name": v.shopper.display_name} for v in visits],
        }
    )


@staff_required
def kiosk(request: HttpRequest) -> HttpResponse:
    return render(request, "manager/kiosk.html", {"section": "kiosk"})


@staff_required
def receipts(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    qs = Receipt.objects.select_related("shopper").prefetch_related(
        "lines", "disputes__line", "revisions"
    )
    if q:
        qs = qs.filter(
            Q(number__icontains=q)
            | Q(shopper__display_name__icontains=q)
            | Q(shopper__user__username__icontains=q)
            | Q(lines__sku__icontains=q)
            | Q(lines__name__icontains=q)
        ).distinct()
    products = Product.objects.order_by("name")
    return render(
        request,
        "manager/receipts.html",
        {"section": "receipts", "q": q, "receipts": qs[:100], "products": products},
    )


@require_POST
@staff_required
def receipt_correct_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Add items to, or remove them from, a receipt after the exit (a new revision)."""
    receipt = get_object_or_404(Receipt, pk=pk)
    product = Product.objects.filter(pk=request.POST.get("product") or 0).first()
    try:
        quantity = int(request.POST.get("quantity") or 0)
    except ValueError:
        quantity = 0
    try:
        if product is None:
            raise DomainError("product_required", "choose the product")
        if quantity == 0:
            raise DomainError("bad_quantity", "add (positive) or remove (negative) items")
        receipt_correct(
            receipt=receipt,
            product=product,
            quantity=quantity,
            by=request.user,
            note=request.POST.get("note", ""),
        )
    except DomainError as exc:
        messages.error(request, f"Receipt {receipt.number}: {exc.message}")
    else:
        messages.success(request, f"Receipt {receipt.number} corrected.")
    return redirect(f"{reverse('manager-receipts')}?q={receipt.number}")


@staff_required
def disputes(request: HttpRequest) -> HttpResponse:
    qs = Dispute.objects.select_related("receipt", "line", "shopper")
    open_ = [dispute_payload(dispute=d) for d in qs.filter(status=ReviewStatus.OPEN)]
    done = [dispute_payload(dispute=d) for d in qs.exclude(status=ReviewStatus.OPEN)[:50]]
    return render(
        request,
        "manager/disputes.html",
        {"section": "disputes", "open_disputes": open_, "done_disputes": done},
    )


@require_POST
@staff_required
def dispute_decide(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(Dispute, pk=pk)
    refund = request.POST.get("decision") == "refund"
    try:
        quantity = int(request.POST.get("quantity") or dispute.quantity or 1)
    except ValueError:
        quantity = 0
    try:
        dispute_resolve(
            dispute=dispute,
            by=request.user,
            refund=refund,
            quantity=quantity,
            note=request.POST.get("note", ""),
        )
    except DomainError as exc:
        messages.error(request, f"Dispute {pk}: {exc.message}")
    else:
        messages.success(request, f"Dispute {pk} {'refunded' if refund else 'rejected'}.")
    return redirect("manager-disputes")


@staff_required
def analytics(request: HttpRequest) -> HttpResponse:
    return render(request, "manager/analytics.html", {"section": "analytics"})


@never_cache
@staff_required
def analytics_data(request: HttpRequest) -> JsonResponse:
    try:
        days = min(max(int(request.GET.get("days", 14)), 1), 90)
    except ValueError:
        days = 14
    return JsonResponse(analytics_selectors.analytics(days=days))
