"""Shopper accounts created by staff (the enrolment kiosk)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from store.errors import Conflict
from store.models import Shopper
from store.services.faces import face_consent_set


def shopper_create(
    *, username: str, display_name: str, email: str = "", face_consent: bool = False
) -> Shopper:
    """A shopper with a user account that has no usable password yet (they set one through
    the password-reset email). Consent, when given, is recorded now, as the shopper says it
    at the kiosk."""
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("username_taken", f"the username {username!r} is taken")
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email)
            user.set_unusable_password()
            user.save(update_fields=["password"])
            shopper = Shopper.objects.create(user=user, display_name=display_name)
            if face_consent:
                face_consent_set(shopper=shopper, consent=True)
    except IntegrityError:
        raise Conflict("username_taken", f"the username {username!r} is taken") from None
    return shopper
