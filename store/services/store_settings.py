"""The store's details (name, address, currency, tax ids) used on receipts and pages."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from store.errors import DomainError
from store.models import StoreSettings

FIELDS = ("name", "address", "currency", "tax_ids", "receipt_footer")


def store_settings_get() -> StoreSettings:
    """The one settings row; created on first read with the configured currency."""
    obj = StoreSettings.objects.filter(pk=1).first()
    if obj is None:
        obj, _ = StoreSettings.objects.get_or_create(
            pk=1, defaults={"currency": settings.MINIGO["CURRENCY"]}
        )
    return obj


def store_settings_update(*, by: AbstractBaseUser, **values: str) -> StoreSettings:
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise DomainError("unknown_setting", f"unknown settings: {', '.join(sorted(unknown))}")
    if not getattr(by, "is_staff", False):
        raise DomainError("staff_only", "only staff change the store settings", status=403)
    obj = store_settings_get()
    cleaned = {k: (v or "").strip() for k, v in values.items()}
    if "name" in cleaned and not cleaned["name"]:
        raise DomainError("name_required", "the store needs a name")
    if "currency" in cleaned:
        cleaned["currency"] = cleaned["currency"].upper()
        if not re.fullmatch(r"[A-Z]{3}", cleaned["currency"]):
            raise DomainError("bad_currency", "the currency is a three-letter code, e.g. EUR")
    limits = {f.name: f.max_length for f in StoreSettings._meta.fields if f.name in FIELDS}
    for key, value in cleaned.items():
        if limits.get(key) and len(value) > limits[key]:
            raise DomainError("too_long", f"{key} is at most {limits[key]} characters")
        setattr(obj, key, value)
    obj.save()
    return obj
