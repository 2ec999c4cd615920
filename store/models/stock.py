"""Restocking and freshness: deliveries by batch with their best-before date, and every
change of a slot's stock with who made it."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class StockBatch(models.Model):
    """Items put on a slot in one restock. `remaining` counts down as shoppers take them,
    oldest best-before first (the front of the lane)."""

    slot = models.ForeignKey("store.Slot", on_delete=models.CASCADE, related_name="batches")
    product = models.ForeignKey("store.Product", on_delete=models.PROTECT, related_name="+")
    batch_code = models.CharField(max_length=64, blank=True)
    best_before = models.DateField(null=True, blank=True)
    quantity = models.PositiveIntegerField()
    remaining = models.PositiveIntegerField()
    received_at = models.DateTimeField()
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["best_before", "received_at", "id"]
        verbose_name_plural = "stock batches"
        indexes = [models.Index(fields=["slot", "remaining"])]

    def __str__(self) -> str:
        return f"{self.batch_code or 'batch'} on {self.slot} (bb {self.best_before})"


class StockMoveReason(models.TextChoices):
    PICK = "pick", "Taken by a shopper"
    RETURN = "return", "Put back by a shopper"
    RESTOCK = "restock", "Restocked"
    COUNT = "count", "Counted / set by staff"
    CORRECTION = "correction", "Receipt corrected by staff"


class StockMove(models.Model):
    """One change of a slot's stock (its history); written with the change, never edited."""

    slot = models.ForeignKey("store.Slot", on_delete=models.CASCADE, related_name="moves")
    reason = models.CharField(max_length=12, choices=StockMoveReason.choices)
    delta = models.IntegerField()
    stock_after = models.PositiveIntegerField()
    batch = models.ForeignKey(
        StockBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cart_entry = models.ForeignKey(
        "store.CartEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["slot", "created_at"])]

    def __str__(self) -> str:
        return f"{self.slot} {self.delta:+d} → {self.stock_after}"
