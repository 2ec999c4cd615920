"""What the admin pages share: refusing add, change or delete to everyone, superusers
included. Ledgers are append-only and raw evidence is never edited, so their rows change
only through the services that write them."""

from __future__ import annotations

from django.contrib import admin


class Refusing:
    """Mixed in before the Django admin class: `refused` names the actions the page never
    allows; the others keep Django's own permission checks."""

    refused: tuple[str, ...] = ()

    # `*obj`: a model page asks without the object for "add", an inline asks with its parent.
    def has_add_permission(self, request, *obj) -> bool:
        return "add" not in self.refused and super().has_add_permission(request, *obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return "change" not in self.refused and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return "delete" not in self.refused and super().has_delete_permission(request, obj)


class RefusingAdmin(Refusing, admin.ModelAdmin):
    pass


class FixedRowsInline(Refusing, admin.TabularInline):
    """Rows listed under their parent, none deleted there (and with `refused = ("add",)`,
    none added)."""

    extra = 0
    can_delete = False
