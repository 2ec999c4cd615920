"""Manager pages (staff only). Pages render a shell; their JS module fetches the JSON state
below on open and after every websocket reconnect."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from store.errors import DomainError
from store.models import (
    Dispute,
    Frame,
    Product,
    Receipt,
    ReviewStatus,
    SensorKind,
    Shelf,
)
from store.selectors import devices_state, manager_state
from store.services.disputes import dispute_payload, dispute_refundable, dispute_resolve
from store.services.pixels import pixels_get
from store.services.receipts import receipt_correct
from store.services.store_settings import FIELDS as SETTINGS_FIELDS
from store.services.store_settings import store_settings_get, store_settings_update
from store.web import analytics as analytics_selectors
from store.web import review as review_selectors
from store.web.access import staff_required
from store.web.receipts import percent_text


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
    """A frame's JPEG while the server still holds it. Once its pixels were dropped (after
    processing, unless frames are kept) the answer is 204: the page then draws the boxes on
    a blank frame, and a page racing the drop does not see an error. No such frame: 404."""

    frame = Frame.objects.filter(pk=pk).defer("jpeg").first()
    if frame is None:
        raise Http404("no such frame")
    jpeg = pixels_get(frame=frame)
    if jpeg is None:
        response = HttpResponse(status=204)
    else:
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
    products = list(Product.objects.all())
    for product in products:
        # Shown and edited as a percentage (7 %), stored as a fraction (0.0700).
        product.tax_percent = percent_text(product.tax_rate)
    return render(
        request,
        "manager/inventory.html",
        {
            "section": "inventory",
            "shelves": shelves,
            "products": products,
            "sensors": SensorKind.choices,
        },
    )


@staff_required
def review(request: HttpRequest) -> HttpResponse:
    return render(request, "manager/review.html", {"section": "review"})


@never_cache
@staff_required
def review_state(request: HttpRequest) -> JsonResponse:
    return JsonResponse(review_selectors.review_state())


@staff_required
def kiosk(request: HttpRequest) -> HttpResponse:
    return render(request, "manager/kiosk.html", {"section": "kiosk"})


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
    return redirect("manager-receipt", pk=receipt.pk)


def _disputes_page(request: HttpRequest, *, errors: dict[int, str] | None = None) -> HttpResponse:
    qs = Dispute.objects.select_related("receipt", "line", "shopper")
    open_ = []
    for d in qs.filter(status=ReviewStatus.OPEN):
        row = dispute_payload(dispute=d)
        row["left"] = dispute_refundable(line=d.line) if d.line_id else 0
        row["currency"] = d.receipt.currency
        row["error"] = (errors or {}).get(d.pk)
        open_.append(row)
    done = [dispute_payload(dispute=d) for d in qs.exclude(status=ReviewStatus.OPEN)[:50]]
    return render(
        request,
        "manager/disputes.html",
        {"section": "disputes", "open_disputes": open_, "done_disputes": done},
        status=400 if errors else 200,
    )


@staff_required
def disputes(request: HttpRequest) -> HttpResponse:
    return _disputes_page(request)


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
        # Shown on the dispute's own card, not at the top of the page.
        return _disputes_page(request, errors={pk: exc.message})
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


@staff_required
def store_settings(request: HttpRequest) -> HttpResponse:
    """The store's name, address, currency and tax ids, printed on every receipt."""
    current = store_settings_get()
    error = None
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in SETTINGS_FIELDS}
        try:
            store_settings_update(by=request.user, **values)
        except DomainError as exc:
            error = exc
            for key, value in values.items():
                setattr(current, key, value)
        else:
            messages.success(request, "Store settings saved: new receipts show them.")
            return redirect("manager-settings")
    return render(
        request,
        "manager/settings.html",
        {"section": "settings", "shop": current, "error": error},
        status=400 if error else 200,
    )
