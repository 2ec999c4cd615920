from __future__ import annotations

from django.db import models


class StoreSettings(models.Model):
    """The store's own details, printed on every receipt. One row (pk 1), edited by staff on
    the settings page; created with defaults the first time it is read."""

    name = models.CharField(max_length=100, default="MiniGo store")
    address = models.TextField(max_length=500, blank=True)
    # ISO 4217 code; receipts keep the currency they were issued in.
    currency = models.CharField(max_length=3, default="EUR")
    tax_ids = models.CharField(
        max_length=200, blank=True, help_text="VAT / tax registration numbers shown on receipts"
    )
    receipt_footer = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "store settings"
        verbose_name_plural = "store settings"

    def __str__(self) -> str:
        return self.name
