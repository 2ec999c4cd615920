"""Account pages: the staff counter (find a shopper, take a top-up, check an age), a
shopper's statement, the daily cash-up CSV; and the shopper's own account page with "+N"."""

from __future__ import annotations

from datetime import date

from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from store.errors import DomainError
from store.models import Shopper
from store.services.account_ledger import (
    TOPUP_METHODS,
    account_for,
    account_payload,
    account_statement,
    account_topup,
    cashup_csv,
    cashup_summary,
    parse_amount,
    policy_get,
    statement_csv,
)
from store.services.age import age_verify
from store.services.groups import group_announce, group_current, group_payload
from store.services.storetime import store_today
from store.web.access import shopper_required, staff_required
from store.web.json_views import body, domain_errors

SEARCH_LIMIT = 50


def _day(value: str | None) -> date:
    if not value:
        return store_today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError("bad_date", "a day is YYYY-MM-DD") from None


def _shopper_row(shopper: Shopper) -> dict:
    account = getattr(shopper, "account", None)
    return {
        "shopper": shopper.pk,
        "name": shopper.display_name,
        "username": shopper.user.get_username(),
        "balance": str(account.balance) if account else "0.00",
        "age_verified": shopper.age_verified_at is not None,
        "age_verified_at": shopper.age_verified_at.isoformat() if shopper.age_verified_at else None,
        "age_verified_by": shopper.age_verified_by.get_username()
        if shopper.age_verified_by_id
        else None,
    }


@staff_required
def counter(request: HttpRequest) -> HttpResponse:
    policy = policy_get()
    return render(
        request,
        "manager/accounts.html",
        {
            "section": "accounts",
            "policy": policy,
            "methods": TOPUP_METHODS,
            "today": store_today().isoformat(),
        },
    )


@never_cache
@staff_required
@domain_errors
def counter_state(request: HttpRequest) -> JsonResponse:
    q = request.GET.get("q", "").strip()
    shoppers = Shopper.objects.select_related("user", "account", "age_verified_by")
    if q:
        shoppers = shoppers.filter(
            Q(display_name__icontains=q) | Q(user__username__icontains=q) | Q(user__email__iexact=q)
        )
    if request.GET.get("owing") in ("1", "true"):
        # Tabs to settle: who owes the store, the largest debt first.
        shoppers = shoppers.filter(account__balance__lt=0).order_by("account__balance")
    else:
        shoppers = shoppers.order_by("display_name")
    day = _day(request.GET.get("day"))
    return JsonResponse(
        {
            "shoppers": [_shopper_row(s) for s in shoppers[:SEARCH_LIMIT]],
            "cashup": cashup_summary(day=day),
        }
    )


@require_POST
@staff_required
@domain_errors
def topup(request: HttpRequest, pk: int) -> JsonResponse:
    shopper = get_object_or_404(Shopper, pk=pk)
    data = body(request)
    entry = account_topup(
        shopper=shopper,
        amount=parse_amount(data.get("amount")),
        by=request.user,
        method=str(data.get("method") or "cash"),
        note=str(data.get("note") or ""),
    )
    shopper.refresh_from_db()
    return JsonResponse(
        {
            "entry": entry.pk,
            "kind": entry.kind,
            "balance": str(entry.balance_after),
            "shopper": _shopper_row(Shopper.objects.select_related("user", "account").get(pk=pk)),
        }
    )


@require_POST
@staff_required
@domain_errors
def verify_age(request: HttpRequest, pk: int) -> JsonResponse:
    shopper = age_verify(shopper=get_object_or_404(Shopper, pk=pk), by=request.user)
    return JsonResponse({"shopper": _shopper_row(shopper)})


@staff_required
def statement(request: HttpRequest, pk: int) -> HttpResponse:
    shopper = get_object_or_404(Shopper.objects.select_related("user"), pk=pk)
    try:
        start = _day(request.GET.get("from")) if request.GET.get("from") else None
        end = _day(request.GET.get("to")) if request.GET.get("to") else None
    except DomainError as exc:
        return HttpResponse(exc.message, status=400)
    result = account_statement(shopper=shopper, start=start, end=end)
    if request.GET.get("format") == "csv":
        response = HttpResponse(statement_csv(statement=result), content_type="text/csv")
        name = f"statement-{shopper.user.get_username()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return render(
        request,
        "manager/statement.html",
        {
            "section": "accounts",
            "statement": result,
            "account": account_for(shopper=shopper),
            "start": start,
            "end": end,
        },
    )


@staff_required
@domain_errors
def cashup(request: HttpRequest) -> HttpResponse:
    day = _day(request.GET.get("day"))
    response = HttpResponse(cashup_csv(day=day), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="cashup-{day.isoformat()}.csv"'
    return response


# --- The shopper's own account ---------------------------------------------------------------


@shopper_required
def my_account(request: HttpRequest) -> HttpResponse:
    return render(request, "shopper/account.html", {"section": "account"})


def _my_state(shopper: Shopper) -> dict:
    account = account_for(shopper=shopper)
    group = group_current(shopper=shopper)
    entries = account_statement(shopper=shopper).entries[-50:]
    return {
        "account": account_payload(account=account),
        "entries": list(reversed(entries)),
        "group": group_payload(group=group) if group else None,
        "age_verified": shopper.age_verified_at is not None,
    }


@never_cache
@shopper_required
def my_account_state(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_my_state(request.shopper))


@require_POST
@shopper_required
@domain_errors
def my_group(request: HttpRequest) -> JsonResponse:
    data = body(request)
    try:
        companions = int(data.get("companions"))
    except (TypeError, ValueError):
        raise DomainError("bad_companions", "say how many people come with you") from None
    group_announce(shopper=request.shopper, companions=companions)
    return JsonResponse(_my_state(request.shopper))
