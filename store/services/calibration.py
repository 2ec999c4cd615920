"""Calibrating where each slot sits in its shelf camera's view (its reach band)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from store.errors import DomainError
from store.models import Slot
from store.models.catalog import validate_reach


def slot_calibrate(*, slot: Slot, reach: list[float] | tuple[float, float] | None) -> Slot:
    """Record where, across its shelf camera's view, the face of a shopper taking from `slot`
    appears ([x1, x2], fractions of the view's width), or clear it with None. Only a
    calibrated slot lets a face's position count as evidence of who took from it."""

    try:
        validate_reach(list(reach) if reach is not None else None)
    except ValidationError as exc:
        raise DomainError("bad_reach", exc.messages[0]) from None
    with transaction.atomic():
        locked = Slot.objects.select_for_update().get(pk=slot.pk)
        locked.reach_from, locked.reach_to = (
            (round(float(reach[0]), 4), round(float(reach[1]), 4)) if reach else (None, None)
        )
        locked.save(update_fields=["reach_from", "reach_to"])
    return locked
