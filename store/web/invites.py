"""Account pages outside the apps: accepting a kiosk invite (choose a password, signed in at
once) and the store's own error pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from store.errors import DomainError
from store.services.invites import invite_accept, invite_user


@never_cache
def invite(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    try:
        user = invite_user(uidb64=uidb64, token=token)
    except DomainError as exc:
        return render(request, "registration/invite.html", {"invalid": exc.message}, status=410)
    error = None
    if request.method == "POST":
        try:
            user = invite_accept(
                uidb64=uidb64,
                token=token,
                password=request.POST.get("password", ""),
                password2=request.POST.get("password2", ""),
            )
        except DomainError as exc:
            error = exc.message
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Your password is set: you are signed in.")
            return redirect("home")
    return render(
        request,
        "registration/invite.html",
        {"invite_user": user, "error": error},
        status=400 if error else 200,
    )
