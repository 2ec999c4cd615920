from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from store.errors import DomainError
from store.models import Slot
from store.services import live


def slot_restock(*, slot: Slot, quantity: int, by: AbstractBaseUser | None = None) -> Slot:
    """Put `quantity` items on the slot, up to its capacity (`over_capacity` beyond it)."""
    if quantity <= 0:
        raise DomainError("bad_quantity", "restock a positive quantity")
    with transaction.atomic():
        locked = Slot.objects.select_for_update().get(pk=slot.pk)
        if locked.stock + quantity > locked.capacity:
            raise DomainError(
                "over_capacity", f"the slot holds {locked.capacity}; it has {locked.stock}"
            )
        locked.stock += quantity
        locked.save(update_fields=["stock"])
        live.to_managers(
            "stock",
            {
                "slot": locked.pk,
                "code": locked.code,
                "shelf": locked.shelf_id,
                "stock": locked.stock,
                "low": locked.is_low,
                "restocked": quantity,
            },
        )
    return locked
