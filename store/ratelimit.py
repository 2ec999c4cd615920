"""Fixed-window rate limits on login, enrolment and frame ingestion, kept in Django's cache
(Redis when REDIS_URL is set, so every server process shares the counts)."""

from __future__ import annotations

import time

from django.core.cache import cache

from store.errors import DomainError


class RateLimited(DomainError):
    status = 429


def ratelimit_hit(*, scope: str, key: str, limit: int, window_s: int) -> int:
    """Count one hit for (scope, key); raise `rate_limited` past `limit` in the window."""
    window = int(time.time() // window_s)
    name = f"rl:{scope}:{key}:{window}"
    if cache.add(name, 1, timeout=window_s + 1):
        count = 1
    else:
        try:
            count = cache.incr(name)
        except ValueError:  # expired between add and incr
            cache.add(name, 1, timeout=window_s + 1)
            count = 1
    if count > limit:
        raise RateLimited("rate_limited", f"too many requests; try again in {window_s} s")
    return count


def client_ip(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR", "unknown")
