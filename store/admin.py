from __future__ import annotations

from django.contrib import admin, messages

from store import models as m
from store.admin_base import FixedRowsInline, RefusingAdmin
from store.services.config import device_config_push, shelves_config_push
from store.services.devices import device_revoke, device_rotate_token
from store.services.restock import slot_stock_count


@admin.register(m.StoreSettings)
class StoreSettingsAdmin(admin.ModelAdmin):
    list_display = ["name", "currency", "tax_ids", "updated_at"]


@admin.register(m.Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "sku",
        "name",
        "price",
        "unit_weight_g",
        "weight_tolerance_g",
        "age_restricted",
        "markdown_percent",
        "active",
    ]
    search_fields = ["sku", "name"]
    list_filter = ["active", "age_restricted"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:  # a new weight or name reaches the shelves holding the product
            shelves_config_push(product_ids=[obj.pk])


class SlotInline(admin.TabularInline):
    model = m.Slot
    extra = 0


@admin.register(m.Shelf)
class ShelfAdmin(admin.ModelAdmin):
    list_display = ["name", "device", "has_camera", "detector"]
    inlines = [SlotInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Slots changed with the shelf: its device gets the new planogram at once.
        shelves_config_push(shelf_ids=[form.instance.pk])


@admin.register(m.Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "product",
        "sensor",
        "stock",
        "capacity",
        "low_stock_threshold",
        "reach_from",
        "reach_to",
    ]
    list_filter = ["shelf", "sensor"]
    list_editable = ["stock"]

    def save_model(self, request, obj, form, change):
        counted = obj.stock
        if change and "stock" in form.changed_data:
            # A stock change by hand is a count: written by its service, into the history.
            obj.stock = form.initial.get("stock", obj.stock)
        super().save_model(request, obj, form, change)
        if change and counted != obj.stock:
            slot_stock_count(slot=obj, stock=counted, by=request.user, note="admin")
            obj.refresh_from_db()
        shelves_config_push(shelf_ids=[obj.shelf_id])


@admin.register(m.Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = [
        "device_id",
        "kind",
        "online",
        "last_seen",
        "software_version",
        "event_rate_per_min",
        "token_prefix",
        "revoked_at",
    ]
    list_filter = ["kind", "online"]
    readonly_fields = [
        "token_prefix",
        "last_seen",
        "online",
        "software_version",
        "event_rate_per_min",
        "revoked_at",
        "created_at",
    ]
    exclude = ["token_hash"]
    actions = ["revoke_tokens", "rotate_tokens", "push_config"]

    @admin.action(description="Send the current config (slots, products) to the devices")
    def push_config(self, request, queryset):
        for device in queryset:
            device_config_push(device=device)
        self.message_user(request, f"Config sent to {queryset.count()} device(s) if connected.")

    @admin.action(description="Revoke the token of the selected devices")
    def revoke_tokens(self, request, queryset):
        for device in queryset:
            device_revoke(device=device)
        self.message_user(request, f"Revoked {queryset.count()} device token(s).")

    @admin.action(description="Issue a new token (shown once)")
    def rotate_tokens(self, request, queryset):
        for device in queryset:
            token = device_rotate_token(device=device)
            self.message_user(
                request,
                f"New token for {device.device_id}: {token} — copy it now, it is not shown again.",
                level=messages.WARNING,
            )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            token = device_rotate_token(device=obj)
            self.message_user(
                request,
                f"Token for {obj.device_id}: {token} — copy it now, it is not shown again.",
                level=messages.WARNING,
            )


@admin.register(m.ShelfEvent)
class ShelfEventAdmin(RefusingAdmin):
    refused = ("change",)  # raw evidence is never edited
    list_display = [
        "event_id",
        "device",
        "slot_code",
        "sensor",
        "before",
        "after",
        "status",
        "occurred_at",
    ]
    list_filter = ["status", "device"]
    search_fields = ["event_id"]


@admin.register(m.Frame)
class FrameAdmin(RefusingAdmin):
    refused = ("change",)
    list_display = [
        "event_id",
        "device",
        "camera",
        "captured_at",
        "width",
        "height",
        "status",
        "expires_at",
    ]
    list_filter = ["status", "device"]
    exclude = ["jpeg"]


@admin.register(m.Shopper)
class ShopperAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "face_consent", "age_verified_at", "created_at"]
    search_fields = ["display_name", "user__username", "user__email"]
    exclude = ["qr_secret"]
    readonly_fields = ["age_verified_at", "age_verified_by"]


@admin.register(m.FaceEmbedding)
class FaceEmbeddingAdmin(RefusingAdmin):
    refused = ("add",)
    list_display = ["shopper", "source", "created_at"]
    exclude = ["vector"]


class CartEntryInline(FixedRowsInline):
    model = m.CartEntry
    refused = ("add",)
    fields = ["kind", "product", "quantity", "unit_price", "slot", "confidence", "created_at"]
    readonly_fields = fields


@admin.register(m.Visit)
class VisitAdmin(admin.ModelAdmin):
    list_display = ["id", "shopper", "status", "entered_at", "exited_at", "entry_method"]
    list_filter = ["status"]
    inlines = [CartEntryInline]


@admin.register(m.CartEntry)
class CartEntryAdmin(RefusingAdmin):
    # The ledger is append-only (invariant 2): corrections go through the review queue or
    # the dashboard, which write new entries.
    refused = ("add", "change", "delete")
    list_display = [
        "id",
        "visit",
        "kind",
        "product",
        "quantity",
        "unit_price",
        "confidence",
        "created_at",
    ]
    list_filter = ["kind"]


class ReceiptLineInline(FixedRowsInline):
    model = m.ReceiptLine
    readonly_fields = ["product", "sku", "name", "quantity", "unit_price", "tax_rate", "line_total"]


@admin.register(m.Receipt)
class ReceiptAdmin(RefusingAdmin):
    refused = ("change",)
    list_display = ["number", "shopper", "issued_at", "total", "tax"]
    search_fields = ["number", "shopper__display_name"]
    inlines = [ReceiptLineInline]


@admin.register(m.ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    list_display = ["id", "reason", "status", "product", "quantity", "created_at"]
    list_filter = ["status", "reason"]


@admin.register(m.Dispute)
class DisputeAdmin(admin.ModelAdmin):
    list_display = ["id", "receipt", "shopper", "status", "created_at"]
    list_filter = ["status"]


# Registers the detector, class mapping and dataset review pages.
from store import admin_accounts, admin_detection  # noqa: E402,F401
