"""Age-restricted products. Staff check a shopper's age once at the kiosk; MiniGo keeps that
it was checked, when and by whom, never the document. An automatic pick of a restricted
product by a shopper nobody checked, or of a product outside its sale hours, is refused at
the shelf: it goes to review (a person decides) and staff are alerted at once."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from store.errors import DomainError
from store.models import Product, ReviewItem, Shopper, Visit
from store.services import live
from store.services.storetime import store_local

# Review reasons that are a refusal at the shelf: staff hear of them at once.
REFUSAL_REASONS = {"age_unverified": "Age not verified", "outside_sale_hours": "Outside sale hours"}


class PickRefused(DomainError):
    """The pick may not go on the cart by itself; it goes to review."""

    status = 409


def age_verify(*, shopper: Shopper, by: AbstractBaseUser) -> Shopper:
    """Record that staff checked this shopper's age (idempotent: the first check stands)."""
    if not getattr(by, "is_staff", False):
        raise DomainError("staff_only", "only staff verify ages", status=403)
    with transaction.atomic():
        locked = Shopper.objects.select_for_update().get(pk=shopper.pk)
        if locked.age_verified_at is None:
            locked.age_verified_at = timezone.now()
            locked.age_verified_by = by
            locked.save(update_fields=["age_verified_at", "age_verified_by"])
            live.to_shopper(locked.pk, "age_verified", {"at": locked.age_verified_at.isoformat()})
    return locked


def age_unverify(*, shopper: Shopper, by: AbstractBaseUser) -> Shopper:
    """Withdraw a check made in error."""
    if not getattr(by, "is_staff", False):
        raise DomainError("staff_only", "only staff change age checks", status=403)
    Shopper.objects.filter(pk=shopper.pk).update(age_verified_at=None, age_verified_by=None)
    shopper.refresh_from_db()
    return shopper


def sale_hours_closed(*, product: Product, at: datetime) -> bool:
    """Is `at` (store-local) inside the product's no-sale hours? 22:00-06:00 spans midnight."""
    start, end = product.no_sale_from, product.no_sale_until
    if start is None or end is None or start == end:
        return False
    now: time = store_local(at).time()
    if start < end:
        return start <= now < end
    return now >= start or now < end


def pick_check(*, visit: Visit, product: Product, at: datetime) -> None:
    """Raise PickRefused when an automatic pick of `product` by this visit's shopper (the one
    who took it, not whoever pays) must not land on a cart without a person deciding."""
    if product.age_restricted and visit.shopper.age_verified_at is None:
        raise PickRefused(
            "age_unverified", f"{visit.shopper} is not age-verified for {product.name}"
        )
    if sale_hours_closed(product=product, at=at):
        hours = f"{product.no_sale_from:%H:%M}-{product.no_sale_until:%H:%M}"
        raise PickRefused("outside_sale_hours", f"{product.name} is not sold {hours}")


def refusal_alert(*, item: ReviewItem) -> None:
    """Tell staff at once about a refused pick (on top of the review queue)."""
    if item.reason not in REFUSAL_REASONS:
        return
    who = item.candidates[0] if item.candidates else {}
    payload: dict[str, Any] = {
        "review": item.pk,
        "reason": item.reason,
        "title": REFUSAL_REASONS[item.reason],
        "product": item.product.name if item.product_id else None,
        "slot": str(item.slot) if item.slot_id else None,
        "shopper": who.get("name") if isinstance(who, dict) else None,
    }
    live.to_managers("alert", payload)
