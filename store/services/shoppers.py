"""Shopper accounts: a user and their shopper profile, created together, whether the shopper
signs up in the app or staff create the account at the enrolment kiosk."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from store.errors import Conflict, DomainError
from store.models import Shopper
from store.services.faces import face_consent_set


def shopper_create(
    *,
    username: str,
    display_name: str,
    email: str = "",
    password: str | None = None,
    face_consent: bool = False,
) -> Shopper:
    """A shopper signing up gives a password (held to Django's password validators); an
    account made by staff has no usable password yet, and the shopper sets one through the
    password-reset email. Face consent is recorded only when given here, as a shopper says it
    at the kiosk; signing up records none (that is a separate, explicit step)."""
    User = get_user_model()
    username = User.normalize_username(username.strip())
    if not username:
        raise DomainError("username_required", "choose a username")
    user = User(username=username, email=User.objects.normalize_email(email.strip()))
    if password is None:
        user.set_unusable_password()
    else:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise DomainError("weak_password", " ".join(exc.messages)) from None
        user.set_password(password)
    try:
        with transaction.atomic():
            if User.objects.filter(username__iexact=username).exists():
                raise IntegrityError
            user.save()
            shopper = Shopper.objects.create(
                user=user, display_name=(display_name.strip() or username)[:100]
            )
            if face_consent:
                face_consent_set(shopper=shopper, consent=True)
    except IntegrityError:
        raise Conflict("username_taken", "that username is taken") from None
    return shopper
