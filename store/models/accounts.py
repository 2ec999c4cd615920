"""Store accounts: what each shopper owes or has paid in, as an append-only ledger, and the
store's payment policy (prepaid balance or tab, and the floor below which the gate refuses)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class AccountMode(models.TextChoices):
    PREPAID = "prepaid", "Prepaid balance (top up first)"
    TAB = "tab", "Tab (settled periodically)"


class StorePolicy(models.Model):
    """The store's own choices, one row (pk 1), edited in the admin."""

    account_mode = models.CharField(
        max_length=8, choices=AccountMode.choices, default=AccountMode.TAB
    )
    # Below this balance the entry gate refuses. Empty: no floor (nobody is refused for
    # money). Prepaid stores usually use 0.00; a tab's credit limit is a negative floor.
    entry_floor = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Refuse entry when the balance is below this (e.g. 0.00, or -50.00 for a tab)",
    )
    # Best-before within this many days: on the "expiring soon" list.
    expiring_days = models.PositiveSmallIntegerField(default=3)
    # The daily low-stock mail goes out once per store-local day.
    stock_report_sent_on = models.DateField(null=True, blank=True)
    # Tab stores: on this day of each month every shopper who owes gets last month's
    # statement by mail (empty: no reminders). `tab_reminders_sent_on` keeps it to once.
    tab_statement_day = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text="Day of the month (1-28) on which tabs are mailed to those who owe",
    )
    tab_reminders_sent_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "store policy"
        verbose_name_plural = "store policy"

    def __str__(self) -> str:
        return f"{self.get_account_mode_display()}, floor {self.entry_floor}"


class Account(models.Model):
    """A shopper's store account. `balance` is the sum of its entries, kept on the row so the
    gate reads it in one query; it changes only with a new entry, under the row's lock."""

    shopper = models.OneToOneField(
        "store.Shopper", on_delete=models.PROTECT, related_name="account"
    )
    balance = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shopper__display_name"]

    def __str__(self) -> str:
        return f"account of {self.shopper}"


class AccountEntryKind(models.TextChoices):
    TOPUP = "topup", "Top-up"
    CHARGE = "charge", "Charge"
    REFUND = "refund", "Refund"
    SETTLEMENT = "settlement", "Tab settled"
    ADJUSTMENT = "adjustment", "Adjustment"


class AccountEntry(models.Model):
    """One line of an account's ledger: signed (+ money in, − money spent), never edited."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=12, choices=AccountEntryKind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    balance_after = models.DecimalField(max_digits=12, decimal_places=2)
    receipt = models.ForeignKey(
        "store.Receipt", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    method = models.CharField(max_length=16, blank=True, help_text="cash, card, transfer…")
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "account entries"
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="accountentry_nonzero"),
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.account})"


class Payment(models.Model):
    """A visit's payment with one provider: authorised as the shopper walks in, captured at
    the receipt (and again by the difference when the receipt changes), refunded likewise.
    `captured` is the net amount taken for the receipt so far."""

    visit = models.OneToOneField("store.Visit", on_delete=models.PROTECT, related_name="payment")
    payer = models.ForeignKey("store.Shopper", on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=32, default="account")
    reference = models.CharField(max_length=100, blank=True)
    receipt = models.OneToOneField(
        "store.Receipt", null=True, blank=True, on_delete=models.PROTECT, related_name="payment"
    )
    authorised_at = models.DateTimeField()
    captured = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-authorised_at"]

    def __str__(self) -> str:
        return f"payment {self.pk} ({self.provider}) for visit {self.visit_id}"
