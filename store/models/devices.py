from __future__ import annotations

from django.db import models


class DeviceKind(models.TextChoices):
    ENTRY_GATE = "entry", "Entry gate"
    EXIT_GATE = "exit", "Exit gate"
    SHELF = "shelf", "Shelf"


class Device(models.Model):
    device_id = models.SlugField(max_length=64, unique=True, help_text="e.g. shelf-1, gate-in")
    kind = models.CharField(max_length=8, choices=DeviceKind.choices)
    name = models.CharField(max_length=100, blank=True)
    # Only a SHA-256 of the token is kept; tokens are 256-bit random, so a plain hash is
    # enough and lookups stay a single indexed query.
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    token_prefix = models.CharField(max_length=8, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    online = models.BooleanField(default=False)
    software_version = models.CharField(max_length=40, blank=True)
    # Events in the last minute, refreshed as events arrive (shown in admin and dashboard).
    event_rate_per_min = models.FloatField(default=0.0)
    # The device's own word that everything it produced up to this time has reached the
    # server (its outbox holds nothing older). Receipts wait for it to pass the exit time.
    watermark = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["device_id"]

    def __str__(self) -> str:
        return self.device_id

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class EventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLIED = "applied", "Applied"
    REVIEW = "review", "Sent to review"
    IGNORED = "ignored", "Ignored (no change)"
    FAILED = "failed", "Failed"


class ShelfEvent(models.Model):
    """A raw sensor event as the device sent it, stored before it is acknowledged."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="events")
    event_id = models.CharField(max_length=64)
    slot_code = models.CharField(max_length=32)
    sensor = models.CharField(max_length=16)
    before = models.FloatField()
    after = models.FloatField()
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=8, choices=EventStatus.choices, default="pending")
    processed_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(fields=["device", "event_id"], name="shelfevent_unique_id")
        ]
        indexes = [models.Index(fields=["device", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.device_id}:{self.event_id}"


class Frame(models.Model):
    """A camera frame. Its JPEG is held only until processed unless frames are kept for
    training data (MINIGO_KEEP_FRAMES), and then it expires (invariant 6)."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="frames")
    event_id = models.CharField(max_length=64)
    camera = models.CharField(max_length=32, default="0")
    seq = models.PositiveBigIntegerField(default=0)
    captured_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    jpeg = models.BinaryField(null=True, blank=True)
    # SHA-256 of the JPEG, kept after the pixels go: tells a resent frame from another frame
    # that reuses its id.
    digest = models.CharField(max_length=64, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=EventStatus.choices, default="pending")
    processed_at = models.DateTimeField(null=True, blank=True)
    # Vision output: faces matched, detections, QR payloads; kept without the pixels.
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-captured_at"]
        constraints = [
            models.UniqueConstraint(fields=["device", "event_id"], name="frame_unique_id")
        ]
        indexes = [models.Index(fields=["device", "captured_at"])]

    def __str__(self) -> str:
        return f"{self.device_id}:{self.event_id}"
