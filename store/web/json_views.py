"""Small helpers for the pages' JSON endpoints: parse a JSON (or form) body, and answer a
domain error with its machine-readable code."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from store.errors import DomainError


def body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise DomainError("bad_json", "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise DomainError("bad_json", "send a JSON object")
        return data
    return request.POST.dict()


def domain_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            return JsonResponse({"code": exc.code, "detail": exc.message}, status=exc.status)

    return wrapper
