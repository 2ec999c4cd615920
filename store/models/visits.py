from __future__ import annotations

from django.conf import settings
from django.db import models


class VisitStatus(models.TextChoices):
    OPEN = "open", "In the store"
    CLOSED = "closed", "Left"


class Visit(models.Model):
    shopper = models.ForeignKey("store.Shopper", on_delete=models.PROTECT, related_name="visits")
    status = models.CharField(max_length=8, choices=VisitStatus.choices, default="open")
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)
    entry_method = models.CharField(max_length=8, default="face")
    entry_device = models.ForeignKey(
        "store.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    exit_device = models.ForeignKey(
        "store.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Where the shopper was last seen (a shelf device) and when: weak attribution evidence.
    last_seen_device = models.ForeignKey(
        "store.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-entered_at"]
        constraints = [
            # A shopper is in the store at most once: the database refuses a second open
            # visit even if two entry frames are processed at the same instant.
            models.UniqueConstraint(
                fields=["shopper"],
                condition=models.Q(status="open"),
                name="visit_one_open_per_shopper",
            )
        ]

    def __str__(self) -> str:
        return f"visit {self.pk} of {self.shopper}"


class EntryKind(models.TextChoices):
    TAKE = "take", "Take"
    RETURN = "return", "Return"
    CORRECTION = "correction", "Correction"


class CartEntry(models.Model):
    """One line of the cart ledger (invariant 2). Entries are only ever appended; the cart
    is their sum. `quantity` is signed: a take adds, a return subtracts, a correction either."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="entries")
    product = models.ForeignKey("store.Product", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    quantity = models.IntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    slot = models.ForeignKey(
        "store.Slot", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shelf_event = models.ForeignKey(
        "store.ShelfEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    review_item = models.ForeignKey(
        "store.ReviewItem", null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    dispute = models.ForeignKey(
        "store.Dispute", null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    confidence = models.FloatField(null=True, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "cart entries"
        constraints = [
            models.CheckConstraint(condition=~models.Q(quantity=0), name="cartentry_nonzero"),
            models.CheckConstraint(
                condition=~models.Q(kind="take") | models.Q(quantity__gt=0),
                name="cartentry_take_positive",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="return") | models.Q(quantity__lt=0),
                name="cartentry_return_negative",
            ),
            # A shelf event is applied to carts at most once per product; a re-run of its
            # task cannot write the same entry again.
            models.UniqueConstraint(
                fields=["shelf_event", "product", "visit"],
                condition=models.Q(shelf_event__isnull=False),
                name="cartentry_once_per_event",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity} × {self.product_id} (visit {self.visit_id})"


class Receipt(models.Model):
    # One-to-one: the database itself refuses a second receipt for a visit (invariant 4).
    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="receipt")
    shopper = models.ForeignKey("store.Shopper", on_delete=models.PROTECT, related_name="receipts")
    number = models.CharField(max_length=32, unique=True)
    issued_at = models.DateTimeField()
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    tax = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    emailed_at = models.DateTimeField(null=True, blank=True)
    # The receipt is amended in place (one per visit); each change is a ReceiptRevision and
    # `revision` is the latest one's number. Provisional: issued while shelf devices were
    # still silent about the visit (`waiting_for` names them); their late evidence amends it.
    revision = models.PositiveIntegerField(default=1)
    revised_at = models.DateTimeField(null=True, blank=True)
    provisional = models.BooleanField(default=False)
    waiting_for = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return self.number


class RevisionReason(models.TextChoices):
    ISSUED = "issued", "Issued"
    SETTLED = "settled", "Evidence complete"
    LATE_EVENT = "late_event", "Late shelf evidence"
    REVIEW = "review", "Review decided"
    REFUND = "refund", "Refund"
    CORRECTION = "correction", "Staff correction"


class ReceiptRevision(models.Model):
    """One version of a receipt, kept forever: what it said and what changed since the one
    before, so shopper and manager can both see the history of an amended receipt."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="revisions")
    revision = models.PositiveIntegerField()
    reason = models.CharField(max_length=16, choices=RevisionReason.choices)
    provisional = models.BooleanField(default=False)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    # The total change from the revision before (what an account is charged or refunded).
    difference = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    lines = models.JSONField(default=list)
    changes = models.JSONField(default=list)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["receipt_id", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["receipt", "revision"], name="receiptrevision_once")
        ]

    def __str__(self) -> str:
        return f"{self.receipt_id} r{self.revision}"


class ReceiptLine(models.Model):
    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("store.Product", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=4)
    line_total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"
