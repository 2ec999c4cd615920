"""Getting paid. A provider authorises a shopper at the entry gate, captures at the receipt
and refunds when the receipt goes down. The store account is the first provider; a card or
wallet provider plugs in behind the same three calls.

Charging is by difference: whatever the receipt comes to now, minus what was already taken
for it. Settling the same receipt twice takes nothing more, and an amended receipt is charged
or refunded only the change. The payment row is locked first, then the account row, so two
settlements of one receipt serialise and two receipts of one shopper cannot lose a charge."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.db import IntegrityError, transaction
from django.utils import timezone

from store.errors import DomainError
from store.models import AccountEntryKind, Payment, Receipt, Shopper, Visit
from store.services import live
from store.services.account_ledger import CENT, account_for, account_post, policy_get


@dataclass(frozen=True)
class Authorisation:
    ok: bool
    provider: str
    code: str = ""
    reason: str = ""
    reference: str = ""


class PaymentProvider(Protocol):
    name: str

    def authorise(self, *, payer: Shopper) -> Authorisation: ...

    def capture(self, *, payment: Payment, receipt: Receipt, amount: Decimal) -> None: ...

    def refund(self, *, payment: Payment, receipt: Receipt, amount: Decimal) -> None: ...


class AccountProvider:
    """The shopper's store account: prepaid balance or tab, with the store's floor."""

    name = "account"

    def authorise(self, *, payer: Shopper) -> Authorisation:
        policy = policy_get()
        account = account_for(shopper=payer)
        if policy.entry_floor is not None and account.balance < policy.entry_floor:
            from django.conf import settings

            currency = settings.MINIGO["CURRENCY"]
            if policy.entry_floor <= 0 and policy.account_mode == "tab":
                reason = (
                    f"Your tab is {-account.balance} {currency}, over the store's limit. "
                    "Please settle it at the counter."
                )
            else:
                reason = (
                    f"Your balance is {account.balance} {currency}. "
                    "Please top up at the counter to come in."
                )
            return Authorisation(False, self.name, "balance_below_floor", reason)
        return Authorisation(True, self.name)

    def capture(self, *, payment: Payment, receipt: Receipt, amount: Decimal) -> None:
        account_post(
            shopper=payment.payer,
            kind=AccountEntryKind.CHARGE,
            amount=-amount,
            receipt=receipt,
            note=f"receipt {receipt.number}",
        )

    def refund(self, *, payment: Payment, receipt: Receipt, amount: Decimal) -> None:
        account_post(
            shopper=payment.payer,
            kind=AccountEntryKind.REFUND,
            amount=amount,
            receipt=receipt,
            note=f"receipt {receipt.number}",
        )


PROVIDERS: dict[str, PaymentProvider] = {"account": AccountProvider()}
DEFAULT_PROVIDER = "account"


def payment_provider(*, name: str) -> PaymentProvider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise DomainError("unknown_provider", f"no payment provider {name!r}") from None


def payment_authorise(*, payer: Shopper, provider: str = DEFAULT_PROVIDER) -> Authorisation:
    """May `payer` walk in (and be charged later)? Asked before the visit opens."""
    return payment_provider(name=provider).authorise(payer=payer)


def payment_open(*, visit: Visit, payer: Shopper, authorisation: Authorisation) -> Payment:
    """Record the authorisation for the visit just opened (idempotent per visit)."""
    try:
        with transaction.atomic():
            payment, _ = Payment.objects.get_or_create(
                visit=visit,
                defaults={
                    "payer": payer,
                    "provider": authorisation.provider,
                    "reference": authorisation.reference,
                    "authorised_at": timezone.now(),
                },
            )
    except IntegrityError:
        payment = Payment.objects.get(visit=visit)
    return payment


def payment_set_payer(*, visit: Visit, payer: Shopper) -> None:
    """A companion joining a group: their visit is paid by the group's payer."""
    Payment.objects.filter(visit=visit, captured=0, receipt__isnull=True).update(payer=payer)


def receipt_due(*, receipt: Receipt) -> Decimal:
    """What the receipt comes to now: its current revision's total, read afresh (every
    amendment and refund writes a new revision first, then settles)."""
    return Receipt.objects.values_list("total", flat=True).get(pk=receipt.pk)


def _locked_payment(receipt: Receipt) -> Payment:
    visit = receipt.visit
    if not Payment.objects.filter(visit=visit).exists():
        # A visit opened without a gate authorisation (staff-opened, or before accounts
        # existed): its own shopper pays, through the default provider.
        payer = visit.shopper
        payment_open(visit=visit, payer=payer, authorisation=Authorisation(True, DEFAULT_PROVIDER))
    return Payment.objects.select_for_update().get(visit=visit)


def payment_settle_receipt(*, receipt: Receipt) -> Decimal:
    """Bring what was taken for `receipt` to what it comes to now: capture the difference
    when it went up, refund it when it went down. Returns the amount moved (+ charged,
    − refunded, 0 when already settled). Call after the receipt is issued and after every
    change to it (amendment, refund); calling it again is harmless."""
    with transaction.atomic():
        payment = _locked_payment(receipt)
        due = receipt_due(receipt=receipt)
        difference = (due - payment.captured).quantize(CENT)
        if payment.receipt_id is None:
            payment.receipt = receipt
        if difference == 0:
            payment.save(update_fields=["receipt", "updated_at"])
            return difference
        provider = payment_provider(name=payment.provider)
        if difference > 0:
            provider.capture(payment=payment, receipt=receipt, amount=difference)
        else:
            provider.refund(payment=payment, receipt=receipt, amount=-difference)
        payment.captured = due
        payment.save(update_fields=["receipt", "captured", "updated_at"])
        live.to_shopper(
            payment.payer_id,
            "payment",
            {
                "receipt": receipt.pk,
                "number": receipt.number,
                "captured": str(payment.captured),
                "moved": str(difference),
                "provider": payment.provider,
            },
        )
    return difference
