from __future__ import annotations

from django.conf import settings
from django.db import models


class ReviewStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


class ReviewItem(models.Model):
    """A doubtful event for a person to decide (invariant 5)."""

    reason = models.CharField(max_length=40, help_text="machine-readable code")
    status = models.CharField(max_length=10, choices=ReviewStatus.choices, default="open")
    shelf_event = models.ForeignKey(
        "store.ShelfEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="reviews"
    )
    frame = models.ForeignKey(
        "store.Frame", null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    slot = models.ForeignKey(
        "store.Slot", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    product = models.ForeignKey(
        "store.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Signed like a cart entry: positive for items taken, negative for returns.
    quantity = models.IntegerField(default=0)
    # [{"visit": id, "shopper": id, "name": str, "confidence": float, "evidence": str}, ...]
    candidates = models.JSONField(default=list, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"review {self.pk} ({self.reason})"


class Dispute(models.Model):
    """A shopper's "report a problem" on a receipt line; a refund is a correction entry."""

    receipt = models.ForeignKey("store.Receipt", on_delete=models.PROTECT, related_name="disputes")
    line = models.ForeignKey(
        "store.ReceiptLine", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    shopper = models.ForeignKey("store.Shopper", on_delete=models.PROTECT, related_name="disputes")
    message = models.TextField(max_length=2000)
    quantity = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=ReviewStatus.choices, default="open")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"dispute {self.pk} on {self.receipt}"
