"""Short-lived signed entry codes: the fallback for shoppers without face consent.

A code is "MG1:<shopper id>:<timestamp>:<signature>", signed with Django's SECRET_KEY and a
salt that includes the shopper's own `qr_secret`, so rotating that secret voids every code
the shopper was shown, and a code cannot be moved to another shopper id. It lives
MINIGO["QR_TTL_S"] seconds."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone

from store.models import Shopper
from vision.qr import qr_svg

PREFIX = "MG1:"


@dataclass(frozen=True)
class QrCode:
    token: str
    expires_at: datetime
    svg: str


@dataclass(frozen=True)
class QrCheck:
    """status: "ok", "expired", "forged" (bad signature, unknown shopper, malformed), or
    "foreign" (not a MiniGo code at all, e.g. a product's QR code held up to the camera)."""

    status: str
    shopper: Shopper | None = None


def _signer(shopper: Shopper) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"minigo.qr.{shopper.qr_secret}")


def _ttl() -> int:
    return int(settings.MINIGO["QR_TTL_S"])


def qr_issue(*, shopper: Shopper) -> QrCode:
    token = PREFIX + _signer(shopper).sign(str(shopper.pk))
    return QrCode(
        token=token,
        expires_at=timezone.now() + timedelta(seconds=_ttl()),
        svg=qr_svg(token),
    )


def qr_check(*, token: str) -> QrCheck:
    if not token.startswith(PREFIX):
        return QrCheck("foreign")
    body = token[len(PREFIX) :]
    shopper_part = body.split(":", 1)[0]
    if not shopper_part.isdigit() or len(shopper_part) > 18:
        return QrCheck("forged")
    shopper = Shopper.objects.filter(pk=int(shopper_part)).select_related("user").first()
    if shopper is None or not shopper.user.is_active:
        return QrCheck("forged")
    try:
        value = _signer(shopper).unsign(body, max_age=_ttl())
    except signing.SignatureExpired:
        return QrCheck("expired", shopper)
    except signing.BadSignature:
        return QrCheck("forged")
    if value != str(shopper.pk):
        return QrCheck("forged")
    return QrCheck("ok", shopper)


def qr_revoke(*, shopper: Shopper) -> None:
    """Void every code already shown (a phone was lost, a screenshot shared)."""
    shopper.qr_secret = secrets.token_urlsafe(24)
    shopper.save(update_fields=["qr_secret"])
