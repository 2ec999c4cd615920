"""Admin pages for accounts, payments, groups and stock batches. Money and stock change only
through their services: a top-up added here is written by account_topup, a stock count by
slot_stock_count, so both keep their ledgers."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin

from store import models as m
from store.admin_base import FixedRowsInline, RefusingAdmin
from store.services.account_ledger import TOPUP_MAX, TOPUP_METHODS, account_topup


@admin.register(m.StorePolicy)
class StorePolicyAdmin(RefusingAdmin):
    refused = ("delete",)
    list_display = ["account_mode", "entry_floor", "expiring_days", "updated_at"]
    readonly_fields = ["stock_report_sent_on", "tab_reminders_sent_on"]

    def has_add_permission(self, request) -> bool:
        return not m.StorePolicy.objects.exists()


class AccountEntryInline(FixedRowsInline):
    model = m.AccountEntry
    refused = ("add",)
    fields = ["created_at", "kind", "amount", "balance_after", "receipt", "method", "created_by"]
    readonly_fields = fields


@admin.register(m.Account)
class AccountAdmin(RefusingAdmin):
    refused = ("add", "delete")
    list_display = ["shopper", "balance", "created_at"]
    search_fields = ["shopper__display_name", "shopper__user__username"]
    readonly_fields = ["shopper", "balance", "created_at"]
    inlines = [AccountEntryInline]


class TopUpForm(forms.ModelForm):
    shopper = forms.ModelChoiceField(queryset=m.Shopper.objects.all())
    method = forms.ChoiceField(choices=[(x, x) for x in TOPUP_METHODS])

    class Meta:
        model = m.AccountEntry
        fields = ["amount", "note"]

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is None or not Decimal("0") < amount <= TOPUP_MAX:
            raise forms.ValidationError(f"A top-up is between 0.01 and {TOPUP_MAX}.")
        return amount


@admin.register(m.AccountEntry)
class AccountEntryAdmin(RefusingAdmin):
    """The ledger is read-only; "Add" records a top-up (money paid in at the counter)."""

    refused = ("change", "delete")

    list_display = ["created_at", "account", "kind", "amount", "balance_after", "method"]
    list_filter = ["kind", "method"]
    search_fields = ["account__shopper__display_name", "receipt__number"]
    form = TopUpForm

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["shopper", "amount", "method", "note"]
        return [f.name for f in m.AccountEntry._meta.fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        entry = account_topup(
            shopper=form.cleaned_data["shopper"],
            amount=form.cleaned_data["amount"],
            by=request.user,
            method=form.cleaned_data["method"],
            note=form.cleaned_data.get("note") or "",
        )
        # The admin logs and links the object it saved: it is the entry the service wrote.
        for field in m.AccountEntry._meta.concrete_fields:
            setattr(obj, field.attname, getattr(entry, field.attname))


@admin.register(m.Payment)
class PaymentAdmin(RefusingAdmin):
    refused = ("add",)
    list_display = ["visit", "payer", "provider", "receipt", "captured", "authorised_at"]
    list_filter = ["provider"]
    readonly_fields = [f.name for f in m.Payment._meta.fields]


class GroupMemberInline(admin.TabularInline):
    model = m.GroupMember
    extra = 0
    readonly_fields = ["visit", "joined_at"]


@admin.register(m.ShoppingGroup)
class ShoppingGroupAdmin(admin.ModelAdmin):
    list_display = ["payer", "payer_visit", "announced", "guests", "announced_at"]
    inlines = [GroupMemberInline]


@admin.register(m.StockBatch)
class StockBatchAdmin(admin.ModelAdmin):
    list_display = ["slot", "product", "batch_code", "best_before", "quantity", "remaining"]
    list_filter = ["slot__shelf"]
    search_fields = ["batch_code", "product__name"]
    readonly_fields = ["received_at", "received_by"]


@admin.register(m.StockMove)
class StockMoveAdmin(RefusingAdmin):
    refused = ("add", "change")
    list_display = ["created_at", "slot", "reason", "delta", "stock_after", "by"]
    list_filter = ["reason", "slot__shelf"]
    readonly_fields = [f.name for f in m.StockMove._meta.fields]
