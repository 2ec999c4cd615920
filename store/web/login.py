"""Signing in: Django's login with attempts limited per client and per account."""

from __future__ import annotations

import hashlib
import unicodedata

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponse

from store.ratelimit import RateLimited, client_ip, ratelimit_hit


class LoginView(auth_views.LoginView):
    """Django's login, with attempts limited per client address and per username so that
    password guessing is slow from one machine and against one account."""

    def post(self, request, *args, **kwargs):
        limits = settings.MINIGO
        username = login_limit_key(request.POST.get("username") or "")
        try:
            for scope, key in (("login-ip", client_ip(request)), ("login-user", username)):
                ratelimit_hit(
                    scope=scope,
                    key=key,
                    limit=limits["LOGIN_LIMIT"],
                    window_s=limits["LOGIN_WINDOW_S"],
                )
        except RateLimited as exc:
            response = HttpResponse(f"{exc.message}\n", status=429, content_type="text/plain")
            response["Retry-After"] = str(limits["LOGIN_WINDOW_S"])
            return response
        return super().post(request, *args, **kwargs)


def login_limit_key(username: str) -> str:
    """The per-username limit key: every spelling Django's login takes as the same account
    counts against one limit. The login form strips the field and NFKC-normalises it (so
    "mallory ", a tab, or full-width letters all sign in as mallory); case is folded too,
    which is stricter than Django's case-sensitive lookup and so only joins spellings. Hashed,
    so any text is a safe cache key."""
    text = unicodedata.normalize("NFKC", username.strip()).strip().casefold()[:150]
    return hashlib.sha256(text.encode()).hexdigest()[:32]
