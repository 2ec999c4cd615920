"""The shopper app: mobile-first pages, each showing only the signed-in shopper's own data."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from store.errors import DomainError
from store.models import Dispute, Receipt, ReceiptLine
from store.selectors import shopper_state
from store.services.disputes import dispute_open
from store.services.receipts import receipt_refunds
from store.services.shoppers import shopper_create
from store.web.access import shopper_required
from store.web.receipts import receipt_context


class SignUpForm(forms.Form):
    username = forms.CharField(max_length=150)
    display_name = forms.CharField(max_length=100, label="Your name")
    email = forms.EmailField(required=False, help_text="Receipts are emailed here")
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            shopper = shopper_create(**form.cleaned_data)
        except DomainError as exc:
            field = "username" if exc.code == "username_taken" else None
            if exc.code == "weak_password":
                field = "password"
            form.add_error(field, exc.message)
        else:
            login(request, shopper.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome! Choose how the gate recognises you.")
            return redirect("shopper-enrol")
    return render(request, "shopper/signup.html", {"form": form})


@shopper_required
def app(request: HttpRequest) -> HttpResponse:
    return render(request, "shopper/app.html", {"section": "app"})


@never_cache
@shopper_required
def state(request: HttpRequest) -> JsonResponse:
    return JsonResponse(shopper_state(shopper=request.shopper))


@shopper_required
def enrol(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "shopper/enrol.html",
        {"section": "enrol", "faces": request.shopper.embeddings.count()},
    )


@shopper_required
def receipts(request: HttpRequest) -> HttpResponse:
    qs = list(Receipt.objects.filter(shopper=request.shopper).prefetch_related("lines"))
    for r in qs:
        # The total the shopper paid in the end: refunds given on disputes are taken off.
        r.refunds = receipt_refunds(receipt=r)
    return render(request, "shopper/receipts.html", {"section": "receipts", "receipts": qs})


@shopper_required
def receipt(request: HttpRequest, pk: int) -> HttpResponse:
    # Filtered by owner first: another shopper's receipt is a plain 404.
    obj = get_object_or_404(Receipt.objects.filter(shopper=request.shopper), pk=pk)
    disputes = Dispute.objects.filter(receipt=obj).select_related("line")
    open_lines = {d.line_id for d in disputes if d.status == "open"}
    context = receipt_context(obj)
    for row in context["receipt_lines"]:
        row["open"] = row["line"].pk in open_lines
        # Refunds revise the receipt: what is on the line now is what can still be reported.
        row["left"] = row["line"].quantity
    return render(
        request,
        "shopper/receipt.html",
        {"section": "receipts", **context, "disputes": disputes},
    )


@require_POST
@shopper_required
def report(request: HttpRequest, pk: int) -> HttpResponse:
    obj = get_object_or_404(Receipt.objects.filter(shopper=request.shopper), pk=pk)
    line = None
    if request.POST.get("line"):
        if not request.POST["line"].isdigit():
            raise Http404("no such line")
        line = get_object_or_404(ReceiptLine, pk=request.POST["line"], receipt=obj)
    try:
        quantity = int(request.POST.get("quantity") or 1)
    except ValueError:
        quantity = 0
    try:
        dispute_open(
            shopper=request.shopper,
            receipt=obj,
            line=line,
            quantity=quantity,
            message=request.POST.get("message", ""),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Thanks: the store will look at it and you will hear back.")
    return redirect("shopper-receipt", pk=obj.pk)


def manifest(request: HttpRequest) -> JsonResponse:
    icons = [
        {"src": static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": static("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        {
            "src": static("icons/icon-maskable-512.png"),
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ]
    data = {
        "name": "MiniGo",
        "short_name": "MiniGo",
        "description": "Walk in, take what you need, walk out.",
        "start_url": "/app/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#fafafa",
        "theme_color": "#0b5fff",
        "icons": icons,
    }
    return JsonResponse(data, content_type="application/manifest+json")


SERVICE_WORKER = """// MiniGo service worker: makes the app installable and shows an offline notice.
// Live data is never cached; the page refetches it when the network is back.
const OFFLINE = '<!doctype html><meta charset=utf-8><meta name=viewport ' +
  'content="width=device-width"><title>Offline</title><p style="font:18px system-ui;' +
  'padding:24px">You are offline. MiniGo reconnects when the network is back.</p>';
self.addEventListener('install', (event) => { self.skipWaiting(); });
self.addEventListener('activate', (event) => { event.waitUntil(self.clients.claim()); });
self.addEventListener('fetch', (event) => {
  if (event.request.mode !== 'navigate') return;
  event.respondWith(fetch(event.request).catch(() =>
    new Response(OFFLINE, {headers: {'Content-Type': 'text/html; charset=utf-8'}})));
});
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data?.url || '/app/'));
});
"""


def service_worker(request: HttpRequest) -> HttpResponse:
    # Served from the site root so its scope covers the whole app.
    response = HttpResponse(SERVICE_WORKER, content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    return response
