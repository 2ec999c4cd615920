from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsStaff(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class ReadAnyWriteStaff(BasePermission):
    """Signed-in users may read (the catalogue); only staff may change it."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or request.user.is_staff
