"""Invitations: a shopper created by staff at the kiosk has no password. An invite is a
set-password link (shown as a QR code to print or scan, and mailed when the shopper gave an
address). It uses Django's password-reset tokens, so it expires after PASSWORD_RESET_TIMEOUT
and stops working as soon as a password is set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from store.errors import DomainError
from store.models import Shopper
from vision.qr import qr_svg


@dataclass(frozen=True)
class Invite:
    path: str
    url: str
    svg: str
    expires_at: datetime
    emailed: bool


def shopper_invite(*, shopper: Shopper, base_url: str, email: bool = True) -> Invite:
    """A set-password link for `shopper` (absolute, under `base_url`), its QR code, and the
    link mailed to the shopper's address when they have one and `email` is set."""
    user = shopper.user
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("shopper-invite", kwargs={"uidb64": uid, "token": token})
    url = base_url.rstrip("/") + path
    emailed = False
    if email and user.email:
        send_mail(
            "Your MiniGo account: choose a password",
            f"Hello {shopper.display_name},\n\nthe store created your MiniGo account "
            f"(username {user.get_username()}). Choose a password here to see your cart and "
            f"receipts on your phone:\n\n{url}\n\nThe link works once and expires in "
            f"{settings.PASSWORD_RESET_TIMEOUT // 86400 or 1} day(s).",
            None,
            [user.email],
        )
        emailed = True
    return Invite(
        path=path,
        url=url,
        svg=qr_svg(url, scale=4),
        expires_at=timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT),
        emailed=emailed,
    )


def invite_user(*, uidb64: str, token: str):
    """The user an invite link is for, or DomainError invite_invalid (unknown, expired or
    already used: the token dies with the password it was made for)."""
    User = get_user_model()
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uidb64))))
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        raise DomainError("invite_invalid", "this invitation link has expired or was already used")
    return user


def invite_accept(*, uidb64: str, token: str, password: str, password2: str):
    user = invite_user(uidb64=uidb64, token=token)
    if password != password2:
        raise DomainError("passwords_differ", "the two passwords differ")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError("weak_password", " ".join(exc.messages)) from None
    user.set_password(password)
    user.save(update_fields=["password"])
    return user
