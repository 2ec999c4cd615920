"""The site's front door: the landing page, the health check and staff-only media."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.static import serve

from store.health import health_report


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    report = health_report()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def home(request: HttpRequest) -> HttpResponse:
    """Staff go to the live dashboard, shoppers to their app; others see the landing page."""
    user = request.user
    if user.is_authenticated and user.is_staff:
        return redirect("manager-live")
    if user.is_authenticated and getattr(user, "shopper", None) is not None:
        return redirect("shopper-app")
    return render(request, "store/home.html")


def media(request: HttpRequest, path: str) -> HttpResponse:
    # MEDIA_ROOT is read per request, not frozen when the URLs are loaded.
    return serve(request, path, document_root=settings.MEDIA_ROOT)
