"""Store accounts: top-ups, charges and refunds as ledger entries with who and when, the
shopper's statement and the manager's daily cash-up. The balance changes only here, under
the account row's lock, so concurrent receipts and top-ups never lose an update."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from store.errors import DomainError
from store.models import (
    Account,
    AccountEntry,
    AccountEntryKind,
    AccountMode,
    Receipt,
    Shopper,
    StorePolicy,
)
from store.services import live
from store.services.storetime import store_day_bounds, store_local

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
# A single top-up above this is almost certainly a typo (1000 for 10.00).
TOPUP_MAX = Decimal("1000.00")
TOPUP_METHODS = ("cash", "card", "transfer", "voucher")


def policy_get() -> StorePolicy:
    """The store's one policy row (made with the defaults the first time it is asked for)."""
    policy = StorePolicy.objects.order_by("pk").first()
    if policy is None:
        policy, _ = StorePolicy.objects.get_or_create(pk=1)
    return policy


def account_for(*, shopper: Shopper) -> Account:
    try:
        return Account.objects.get_or_create(shopper=shopper)[0]
    except IntegrityError:  # created by a concurrent caller between the get and the insert
        return Account.objects.get(shopper=shopper)


def parse_amount(value: Any) -> Decimal:
    """A money amount from a form or JSON; `bad_amount` for anything not a positive sum with
    at most two decimals."""
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise DomainError("bad_amount", "enter an amount such as 10.00") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        raise DomainError("bad_amount", "enter a positive amount with at most two decimals")
    return amount


def account_post(
    *,
    shopper: Shopper,
    kind: str,
    amount: Decimal,
    receipt: Receipt | None = None,
    by: AbstractBaseUser | None = None,
    method: str = "",
    note: str = "",
) -> AccountEntry:
    """Append a signed entry (+ money in, − money spent) and move the balance with it."""
    if amount == 0:
        raise DomainError("bad_amount", "an account entry needs a non-zero amount")
    account = account_for(shopper=shopper)
    with transaction.atomic():
        # The row lock makes "read balance, add, write" one step: a second receipt or top-up
        # for the same account waits here instead of overwriting this one's result.
        locked = Account.objects.select_for_update().get(pk=account.pk)
        locked.balance = (locked.balance + amount).quantize(CENT)
        locked.save(update_fields=["balance"])
        entry = AccountEntry.objects.create(
            account=locked,
            kind=kind,
            amount=amount,
            balance_after=locked.balance,
            receipt=receipt,
            method=method[:16],
            note=note[:200],
            created_by=by,
            created_at=timezone.now(),
        )
        live.to_shopper(shopper.pk, "account", account_payload(account=locked, last=entry))
        live.to_managers(
            "account", {**account_payload(account=locked, last=entry), "name": str(shopper)}
        )
    return entry


def account_topup(
    *,
    shopper: Shopper,
    amount: Decimal,
    by: AbstractBaseUser,
    method: str = "cash",
    note: str = "",
) -> AccountEntry:
    """Money paid in by a shopper at the counter, recorded by the staff member who took it.
    On a tab store it settles (part of) the tab."""
    if not getattr(by, "is_staff", False):
        raise DomainError("staff_only", "only staff record top-ups", status=403)
    if amount <= 0 or amount > TOPUP_MAX:
        raise DomainError("bad_amount", f"a top-up is between 0.01 and {TOPUP_MAX}")
    if method not in TOPUP_METHODS:
        raise DomainError("bad_method", f"method is one of {', '.join(TOPUP_METHODS)}")
    kind = (
        AccountEntryKind.SETTLEMENT
        if policy_get().account_mode == AccountMode.TAB
        else AccountEntryKind.TOPUP
    )
    return account_post(shopper=shopper, kind=kind, amount=amount, by=by, method=method, note=note)


def _entry_row(entry: AccountEntry) -> dict[str, Any]:
    return {
        "entry": entry.pk,
        "at": entry.created_at.isoformat(),
        "at_local": store_local(entry.created_at).strftime("%Y-%m-%d %H:%M"),
        "kind": entry.kind,
        "kind_label": entry.get_kind_display(),
        "amount": str(entry.amount),
        "balance_after": str(entry.balance_after),
        "receipt": entry.receipt.number if entry.receipt_id else None,
        "method": entry.method,
        "note": entry.note,
        "by": entry.created_by.get_username() if entry.created_by_id else None,
    }


def account_payload(*, account: Account, last: AccountEntry | None = None) -> dict[str, Any]:
    policy = policy_get()
    return {
        "shopper": account.shopper_id,
        "balance": str(account.balance),
        "mode": policy.account_mode,
        "floor": str(policy.entry_floor) if policy.entry_floor is not None else None,
        "below_floor": policy.entry_floor is not None and account.balance < policy.entry_floor,
        "last": _entry_row(last) if last else None,
    }


@dataclass(frozen=True)
class Statement:
    shopper: Shopper
    opening: Decimal
    closing: Decimal
    entries: list[dict[str, Any]]


def account_statement(
    *, shopper: Shopper, start: date | None = None, end: date | None = None
) -> Statement:
    """The shopper's entries between two store-local days (inclusive), with the balance
    before the first and after the last."""
    account = account_for(shopper=shopper)
    qs = AccountEntry.objects.filter(account=account).select_related("receipt", "created_by")
    opening = Decimal("0.00")
    if start is not None:
        before = qs.filter(created_at__lt=store_day_bounds(start)[0]).order_by("-created_at", "-id")
        last = before.first()
        opening = last.balance_after if last else Decimal("0.00")
        qs = qs.filter(created_at__gte=store_day_bounds(start)[0])
    if end is not None:
        qs = qs.filter(created_at__lt=store_day_bounds(end)[1])
    rows = [_entry_row(e) for e in qs.order_by("created_at", "id")]
    closing = Decimal(rows[-1]["balance_after"]) if rows else opening
    return Statement(shopper=shopper, opening=opening, closing=closing, entries=rows)


def statement_csv(*, statement: Statement) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time", "kind", "method", "receipt", "amount", "balance_after", "by", "note"])
    writer.writerow(["", "opening", "", "", "", statement.opening, "", ""])
    for e in statement.entries:
        writer.writerow(
            [
                e["at_local"],
                e["kind"],
                e["method"],
                e["receipt"] or "",
                e["amount"],
                e["balance_after"],
                e["by"] or "",
                e["note"],
            ]
        )
    writer.writerow(["", "closing", "", "", "", statement.closing, "", ""])
    return out.getvalue()


CASHUP_HEADER = [
    "time",
    "shopper",
    "username",
    "kind",
    "method",
    "amount",
    "balance_after",
    "receipt",
    "recorded_by",
    "note",
]


def cashup_summary(*, day: date) -> dict[str, Any]:
    start, end = store_day_bounds(day)
    entries = AccountEntry.objects.filter(created_at__gte=start, created_at__lt=end)
    by_kind: dict[str, Decimal] = {}
    by_method: dict[str, Decimal] = {}
    for e in entries:
        by_kind[e.kind] = by_kind.get(e.kind, Decimal("0.00")) + e.amount
        if e.kind in (AccountEntryKind.TOPUP, AccountEntryKind.SETTLEMENT):
            by_method[e.method or "-"] = by_method.get(e.method or "-", Decimal("0.00")) + e.amount
    return {
        "day": day.isoformat(),
        "entries": entries.count(),
        "paid_in": str(sum(by_method.values(), Decimal("0.00"))),
        "paid_in_by_method": {k: str(v) for k, v in sorted(by_method.items())},
        "sales": str(-by_kind.get(AccountEntryKind.CHARGE, Decimal("0.00"))),
        "refunds": str(by_kind.get(AccountEntryKind.REFUND, Decimal("0.00"))),
        "adjustments": str(by_kind.get(AccountEntryKind.ADJUSTMENT, Decimal("0.00"))),
    }


def cashup_csv(*, day: date) -> str:
    """Every account entry of a store-local day, then the day's totals: what the manager
    counts the till and the bank against."""
    start, end = store_day_bounds(day)
    entries = (
        AccountEntry.objects.filter(created_at__gte=start, created_at__lt=end)
        .select_related("account__shopper__user", "receipt", "created_by")
        .order_by("created_at", "id")
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CASHUP_HEADER)
    for e in entries:
        shopper = e.account.shopper
        writer.writerow(
            [
                store_local(e.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                shopper.display_name,
                shopper.user.get_username(),
                e.kind,
                e.method,
                e.amount,
                e.balance_after,
                e.receipt.number if e.receipt_id else "",
                e.created_by.get_username() if e.created_by_id else "",
                e.note,
            ]
        )
    summary = cashup_summary(day=day)
    writer.writerow([])
    writer.writerow(["total", "paid_in", summary["paid_in"]])
    for method, amount in summary["paid_in_by_method"].items():
        writer.writerow(["total", f"paid_in_{method}", amount])
    for key in ("sales", "refunds", "adjustments"):
        writer.writerow(["total", key, summary[key]])
    return out.getvalue()


def statement_text(*, statement: Statement, currency: str) -> str:
    rows = [f"MiniGo account statement for {statement.shopper}", ""]
    rows.append(f"{'Opening balance':<48} {statement.opening:>9} {currency}")
    for e in statement.entries:
        what = f"{e['kind_label']} {e['receipt'] or e['method'] or ''}".strip()
        rows.append(f"{e['at_local']}  {what:<30} {e['amount']:>9}")
    rows.append(f"{'Closing balance':<48} {statement.closing:>9} {currency}")
    return "\n".join(rows)


def tab_statements_send(*, now: datetime | None = None) -> int:
    """Tab stores: once a month, on the policy's day (from the store's report hour), mail
    last month's statement to every shopper who owes the store. Returns how many were
    mailed; safe to call every few minutes."""
    now = now or timezone.now()
    local = store_local(now)
    policy = policy_get()
    day = policy.tab_statement_day
    if policy.account_mode != AccountMode.TAB or day is None:
        return 0
    if local.day < day or local.hour < settings.MINIGO["STOCK_REPORT_HOUR"]:
        return 0
    due_on = local.date().replace(day=day)
    end = local.date().replace(day=1) - timedelta(days=1)
    start = end.replace(day=1)
    sent = 0
    with transaction.atomic():
        locked = StorePolicy.objects.select_for_update().get(pk=policy.pk)
        if locked.tab_reminders_sent_on is not None and locked.tab_reminders_sent_on >= due_on:
            return 0
        owing = Account.objects.filter(balance__lt=0).select_related("shopper__user")
        for account in owing.exclude(shopper__user__email=""):
            statement = account_statement(shopper=account.shopper, start=start, end=end)
            currency = settings.MINIGO["CURRENCY"]
            try:
                send_mail(
                    f"Your MiniGo tab: {-account.balance} {currency} to settle",
                    statement_text(statement=statement, currency=currency)
                    + f"\n\nOwed today: {-account.balance} {currency}. "
                    "Please settle it at the counter.",
                    None,
                    [account.shopper.user.email],
                )
            except Exception:  # one bad address must not stop the others
                log.exception("could not mail the tab of %s", account.shopper)
                continue
            sent += 1
        locked.tab_reminders_sent_on = local.date()
        locked.save(update_fields=["tab_reminders_sent_on"])
    return sent
