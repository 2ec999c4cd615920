"""Shopper self sign-up from the shopper app."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from store.errors import DomainError
from store.models import Shopper


def shopper_sign_up(*, username: str, password: str, display_name: str, email: str = "") -> Shopper:
    """Create a user and their shopper profile together (no face consent yet: that is a
    separate, explicit step)."""
    User = get_user_model()
    username = username.strip()
    if not username:
        raise DomainError("username_required", "choose a username")
    user = User(username=username, email=email.strip())
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError("weak_password", " ".join(exc.messages)) from None
    try:
        with transaction.atomic():
            if User.objects.filter(username__iexact=username).exists():
                raise IntegrityError
            user.set_password(password)
            user.save()
            shopper = Shopper.objects.create(
                user=user, display_name=(display_name.strip() or username)[:100]
            )
    except IntegrityError:
        raise DomainError("username_taken", "that username is taken") from None
    return shopper
