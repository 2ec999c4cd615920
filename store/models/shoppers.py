from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


def _qr_secret() -> str:
    return secrets.token_urlsafe(24)


class Shopper(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shopper"
    )
    display_name = models.CharField(max_length=100)
    face_consent = models.BooleanField(default=False)
    face_consent_at = models.DateTimeField(null=True, blank=True)
    email_receipts = models.BooleanField(default=True)
    # Age checked by staff at the kiosk: only the fact and who checked, never the document.
    age_verified_at = models.DateTimeField(null=True, blank=True)
    age_verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Per-shopper key for the short-lived signed entry QR codes; rotating it voids every
    # code already shown.
    qr_secret = models.CharField(max_length=64, default=_qr_secret)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class FaceEmbedding(models.Model):
    """A 128-d face embedding; the only biometric MiniGo keeps (invariant 6)."""

    shopper = models.ForeignKey(Shopper, on_delete=models.CASCADE, related_name="embeddings")
    vector = models.BinaryField()
    source = models.CharField(max_length=16, default="selfie")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shopper_id", "created_at"]

    def __str__(self) -> str:
        return f"embedding {self.pk} of {self.shopper}"
