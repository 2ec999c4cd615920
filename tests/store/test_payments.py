"""Accounts and payment: top-ups, the entry floor, charging receipts by difference, refunds,
statements and the cash-up; balances stay right under concurrent receipts (PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from unittest import mock

import pytest

from store.errors import DomainError
from store.models import (
    Account,
    AccountEntry,
    Frame,
    Payment,
    Receipt,
    StorePolicy,
    Visit,
    VisitStatus,
)
from store.services.account_ledger import (
    account_for,
    account_post,
    account_statement,
    account_topup,
    cashup_csv,
    parse_amount,
)
from store.services.carts import cart_take
from store.services.disputes import dispute_open, dispute_resolve
from store.services.entry import entry_admit
from store.services.gates import gate_frame_apply
from store.services.payments import payment_settle_receipt
from store.services.receipts import receipt_correct, receipt_issue
from store.services.storetime import store_today
from store.services.visits import visit_close
from tests.conftest import at_once, needs_postgres


def _policy(mode="prepaid", floor="0.00"):
    StorePolicy.objects.update_or_create(
        pk=1, defaults={"account_mode": mode, "entry_floor": Decimal(floor) if floor else None}
    )


def _enter(store, shopper):
    admission = entry_admit(shopper=shopper, device=store.gate_in, method="qr")
    assert admission.outcome == "visit_opened", admission
    return admission.visit


def _balance(shopper) -> Decimal:
    return Account.objects.get(shopper=shopper).balance


def test_a_top_up_is_a_ledger_entry_with_who_and_when(store, shopper, manager):
    _policy()
    entry = account_topup(shopper=shopper, amount=Decimal("20.00"), by=manager, method="cash")
    assert (entry.kind, entry.amount, entry.balance_after) == ("topup", Decimal("20.00"), 20)
    assert entry.created_by == manager and entry.created_at is not None
    assert _balance(shopper) == Decimal("20.00")


def test_on_a_tab_store_money_paid_in_settles_the_tab(store, shopper, manager):
    _policy(mode="tab", floor="-30.00")
    entry = account_topup(shopper=shopper, amount=Decimal("5.00"), by=manager, method="card")
    assert entry.kind == "settlement"


@pytest.mark.parametrize("amount", ["0", "-5", "1000.01"])
def test_it_refuses_a_bad_top_up(store, shopper, manager, amount):
    with pytest.raises(DomainError) as exc:
        account_topup(shopper=shopper, amount=Decimal(amount), by=manager)
    assert exc.value.code == "bad_amount"
    assert not AccountEntry.objects.exists()


def test_only_staff_record_top_ups(store, shopper, other_shopper):
    with pytest.raises(DomainError) as exc:
        account_topup(shopper=shopper, amount=Decimal("5"), by=other_shopper.user)
    assert exc.value.code == "staff_only"


@pytest.mark.parametrize("text", ["abc", "1.234", "-1", "0", "NaN"])
def test_it_parses_only_plain_amounts(text):
    with pytest.raises(DomainError) as exc:
        parse_amount(text)
    assert exc.value.code == "bad_amount"


def test_a_refused_entry_opens_no_visit(store, shopper, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    cache.delete(f"minigo:entry-refused:{shopper.pk}")
    _policy(floor="0.00")
    account_post(shopper=shopper, kind="adjustment", amount=Decimal("-2.50"))
    frame = Frame.objects.create(
        device=store.gate_in,
        event_id="f1",
        captured_at=datetime(2026, 1, 1, tzinfo=UTC),
        width=640,
        height=480,
    )
    analysis = {"faces": [], "qr": [{"status": "ok", "shopper": shopper.pk}]}
    with mock.patch("store.services.live._send") as send:
        with django_capture_on_commit_callbacks(execute=True):
            result = gate_frame_apply(frame=frame, analysis=analysis)
    assert result["qr"][0]["outcome"] == "refused_balance_below_floor"
    assert not Visit.objects.exists()
    sent = {
        (group, msg.get("event") or msg["message"]["type"]): msg
        for (group, msg), _ in send.call_args_list
    }
    greet = sent[(f"device.{store.gate_in.pk}", "greet")]["message"]
    assert greet["kind"] == "refused" and "-2.50" in greet["text"]
    phone = sent[(f"shopper.{shopper.pk}", "entry_refused")]["data"]
    assert phone["code"] == "balance_below_floor" and "top up" in phone["reason"]


def test_at_the_floor_the_shopper_may_enter(store, shopper):
    _policy(floor="0.00")
    assert entry_admit(shopper=shopper, device=store.gate_in, method="qr").outcome == "visit_opened"


def test_without_a_floor_nobody_is_refused_for_money(store, shopper):
    _policy(mode="tab", floor=None)
    account_post(shopper=shopper, kind="adjustment", amount=Decimal("-500"))
    assert entry_admit(shopper=shopper, device=store.gate_in, method="qr").outcome == "visit_opened"


def test_the_receipt_charges_the_account_once(store, shopper, manager):
    _policy()
    account_topup(shopper=shopper, amount=Decimal("10.00"), by=manager)
    visit = _enter(store, shopper)
    assert Payment.objects.get(visit=visit).payer == shopper
    cart_take(visit=visit, product=store.cola, quantity=2, slot=store.a1)
    receipt = visit_close(visit=visit)
    assert receipt.total == Decimal("3.00")
    assert _balance(shopper) == Decimal("7.00")
    # Settling again (a task re-run, a second exit frame) takes nothing more.
    assert payment_settle_receipt(receipt=receipt) == 0
    assert receipt_issue(visit=visit) == receipt
    assert AccountEntry.objects.filter(receipt=receipt, kind="charge").count() == 1
    assert _balance(shopper) == Decimal("7.00")


def test_an_amended_receipt_is_charged_or_refunded_the_difference(store, shopper, manager):
    _policy()
    visit = _enter(store, shopper)
    cart_take(visit=visit, product=store.cola, quantity=1, slot=store.a1)
    receipt = visit_close(visit=visit)
    assert _balance(shopper) == Decimal("-1.50")
    # A staff correction after the exit (an amendment): +2 crisps. The new revision settles.
    receipt_correct(receipt=receipt, product=store.chips, quantity=2, by=manager, note="late")
    assert _balance(shopper) == Decimal("-3.70")
    assert payment_settle_receipt(receipt=receipt) == 0  # already settled by the revision
    receipt_correct(receipt=receipt, product=store.cola, quantity=-1, by=manager, note="x")
    assert _balance(shopper) == Decimal("-2.20")
    kinds = list(AccountEntry.objects.filter(receipt=receipt).values_list("kind", "amount"))
    assert kinds == [
        ("charge", Decimal("-1.50")),
        ("charge", Decimal("-2.20")),
        ("refund", Decimal("1.50")),
    ]
    assert Payment.objects.get(visit=visit).captured == Decimal("2.20")


def test_a_dispute_refund_goes_back_to_the_account(store, shopper, manager):
    _policy()
    visit = _enter(store, shopper)
    cart_take(visit=visit, product=store.cola, quantity=2, slot=store.a1)
    receipt = visit_close(visit=visit)
    line = receipt.lines.get()
    dispute = dispute_open(shopper=shopper, receipt=receipt, line=line, message="one was warm")
    dispute_resolve(dispute=dispute, by=manager, refund=True, quantity=1)
    assert _balance(shopper) == Decimal("-1.50")
    refund = AccountEntry.objects.get(receipt=receipt, kind="refund")
    assert refund.amount == Decimal("1.50")


def test_the_statement_shows_opening_and_closing_balances(store, shopper, manager):
    _policy()
    account_topup(shopper=shopper, amount=Decimal("10.00"), by=manager)
    visit = _enter(store, shopper)
    cart_take(visit=visit, product=store.chips, quantity=1, slot=store.a2)
    visit_close(visit=visit)
    statement = account_statement(shopper=shopper, start=store_today(), end=store_today())
    assert statement.opening == Decimal("0.00") and statement.closing == Decimal("8.90")
    assert [e["kind"] for e in statement.entries] == ["topup", "charge"]
    assert statement.entries[0]["by"] == "manager"


def test_the_cash_up_lists_the_day_and_its_totals(store, shopper, other_shopper, manager):
    _policy()
    account_topup(shopper=shopper, amount=Decimal("10.00"), by=manager, method="cash")
    account_topup(shopper=other_shopper, amount=Decimal("5.00"), by=manager, method="card")
    visit = _enter(store, shopper)
    cart_take(visit=visit, product=store.cola, quantity=1, slot=store.a1)
    visit_close(visit=visit)
    rows = list(csv.reader(io.StringIO(cashup_csv(day=store_today()))))
    assert rows[0][:6] == ["time", "shopper", "username", "kind", "method", "amount"]
    body = [r for r in rows[1:] if r and r[0] != "total"]
    assert [(r[2], r[3], r[5]) for r in body] == [
        ("kit", "topup", "10.00"),
        ("ana", "topup", "5.00"),
        ("kit", "charge", "-1.50"),
    ]
    totals = {r[1]: r[2] for r in rows if r and r[0] == "total"}
    assert totals["paid_in"] == "15.00" and totals["paid_in_cash"] == "10.00"
    assert totals["sales"] == "1.50" and totals["refunds"] == "0.00"


@needs_postgres()
@pytest.mark.django_db(transaction=True)
def test_balances_stay_right_under_concurrent_receipts(store, shopper, manager):
    """Receipts of one payer issued at once by several workers, each settled twice, with
    top-ups landing meanwhile: every charge is taken exactly once and the balance is the
    sum of the ledger."""
    _policy(mode="tab", floor=None)
    visits = []
    for i in range(6):
        v = Visit.objects.create(shopper=shopper, entered_at=datetime(2026, 1, 1, tzinfo=UTC))
        cart_take(visit=v, product=store.cola, quantity=1 + i % 3, slot=store.a1)
        Visit.objects.filter(pk=v.pk).update(status=VisitStatus.CLOSED)
        visits.append(v)
    account_for(shopper=shopper)

    def settle(visit):
        return payment_settle_receipt(receipt=receipt_issue(visit=visit))

    topup = partial(account_topup, shopper=shopper, amount=Decimal("1.00"), by=manager)
    _, errors = at_once(*[partial(settle, v) for v in visits] * 2, *[topup] * 4)
    assert errors == []
    totals = sum(Receipt.objects.filter(visit__in=visits).values_list("total", flat=True))
    assert totals == Decimal("1.50") * (1 + 2 + 3 + 1 + 2 + 3)
    for receipt in Receipt.objects.filter(visit__in=visits):
        assert AccountEntry.objects.filter(receipt=receipt).count() == 1
    ledger = sum(
        AccountEntry.objects.filter(account__shopper=shopper).values_list("amount", flat=True)
    )
    assert _balance(shopper) == ledger == Decimal("4.00") - totals
    last = AccountEntry.objects.filter(account__shopper=shopper).order_by("-id").first()
    assert last.balance_after == _balance(shopper)


def test_a_refusal_is_said_once_for_the_many_frames_of_one_approach(store, shopper, settings):
    from django.core.cache import cache

    cache.delete(f"minigo:entry-refused:{shopper.pk}")
    _policy(floor="0.00")
    account_post(shopper=shopper, kind="adjustment", amount=Decimal("-1.00"))
    first = entry_admit(shopper=shopper, device=store.gate_in, method="face")
    again = entry_admit(shopper=shopper, device=store.gate_in, method="face")
    assert (first.outcome, first.announce) == ("refused", True)
    assert (again.outcome, again.announce) == ("refused", False)
    assert not Visit.objects.exists()


def test_another_provider_plugs_in_behind_the_same_three_calls(store, shopper, manager):
    """A card provider: the visit's payment names it, and settling calls its capture and
    refund with the differences only; the store account is not touched."""
    from store.services import payments

    calls = []

    class Card:
        name = "card"

        def authorise(self, *, payer):
            return payments.Authorisation(True, self.name, reference="auth-42")

        def capture(self, *, payment, receipt, amount):
            calls.append(("capture", payment.reference, amount))

        def refund(self, *, payment, receipt, amount):
            calls.append(("refund", payment.reference, amount))

    with mock.patch.dict(payments.PROVIDERS, {"card": Card()}):
        visit = Visit.objects.create(shopper=shopper, entered_at=datetime(2026, 1, 1, tzinfo=UTC))
        auth = payments.payment_authorise(payer=shopper, provider="card")
        payments.payment_open(visit=visit, payer=shopper, authorisation=auth)
        cart_take(visit=visit, product=store.cola, quantity=2, slot=store.a1)
        receipt = visit_close(visit=visit)
        receipt_correct(receipt=receipt, product=store.cola, quantity=-1, by=manager, note="x")
        payment_settle_receipt(receipt=receipt)
    assert calls == [
        ("capture", "auth-42", Decimal("3.00")),
        ("refund", "auth-42", Decimal("1.50")),
    ]
    assert not AccountEntry.objects.exists()


def test_a_tab_store_mails_last_month_s_statement_to_those_who_owe_once(
    store, shopper, other_shopper, manager, settings
):
    from django.core import mail

    from store.services.account_ledger import tab_statements_send

    settings.MINIGO = {**settings.MINIGO, "STORE_TIME_ZONE": "UTC", "STOCK_REPORT_HOUR": 6}
    _policy(mode="tab", floor=None)
    StorePolicy.objects.filter(pk=1).update(tab_statement_day=1)
    visit = _enter(store, shopper)
    cart_take(visit=visit, product=store.cola, quantity=2, slot=store.a1)
    receipt = visit_close(visit=visit)
    account_topup(shopper=other_shopper, amount=Decimal("5"), by=manager)  # owes nothing
    today = store_today()
    first = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    morning = datetime(first.year, first.month, 1, 7, tzinfo=UTC)
    assert tab_statements_send(now=morning - timedelta(hours=2)) == 0  # before the hour
    assert tab_statements_send(now=morning) == 1
    assert tab_statements_send(now=morning + timedelta(days=3)) == 0
    (message,) = mail.outbox
    assert message.to == ["kit@example.com"] and "3.00 EUR to settle" in message.subject
    assert receipt.number in message.body and "Closing balance" in message.body


def test_prepaid_stores_send_no_tab_statements(store, shopper):
    from store.services.account_ledger import tab_statements_send

    _policy(mode="prepaid")
    StorePolicy.objects.filter(pk=1).update(tab_statement_day=1)
    account_post(shopper=shopper, kind="adjustment", amount=Decimal("-4"))
    assert tab_statements_send(now=datetime(2027, 1, 1, 12, tzinfo=UTC)) == 0
