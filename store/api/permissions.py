from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from store.errors import DomainError
from store.models import Shopper


class IsStaff(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class ReadAnyWriteStaff(BasePermission):
    """Signed-in users may read (the catalogue); only staff may change it."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or request.user.is_staff


def me_shopper(request) -> Shopper:
    """The signed-in account's shopper profile; staff without one are refused."""
    shopper = getattr(request.user, "shopper", None)
    if shopper is None:
        raise DomainError("not_a_shopper", "this account has no shopper profile", status=403)
    return shopper
