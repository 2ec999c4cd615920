"""Pagination for every API list."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """`?limit=` is capped: one request cannot ask the database for an unbounded page (and a
    20-digit limit would not even fit PostgreSQL's LIMIT). A larger limit gets the largest
    page; the response's `next` link leads on."""

    max_limit = 1000
