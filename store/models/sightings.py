from __future__ import annotations

from django.db import models


class Sighting(models.Model):
    """A face a shelf camera saw at a moment: attribution evidence for that shelf's events.

    Only who and when are kept (no pixels, no embedding: invariant 6). `shopper` is None for a
    face that matched nobody in the store."""

    device = models.ForeignKey("store.Device", on_delete=models.CASCADE, related_name="+")
    frame = models.ForeignKey(
        "store.Frame", null=True, blank=True, on_delete=models.SET_NULL, related_name="sightings"
    )
    shopper = models.ForeignKey(
        "store.Shopper", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    visit = models.ForeignKey(
        "store.Visit", null=True, blank=True, on_delete=models.CASCADE, related_name="sightings"
    )
    seen_at = models.DateTimeField()
    confidence = models.FloatField()
    distance = models.FloatField(null=True, blank=True)
    # Where across the camera's view the face was (0 left … 1 right), when known: it tells
    # apart two shoppers at one shelf in front of different slots.
    x = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=8, default="face", help_text="face or sees (replay)")

    class Meta:
        ordering = ["-seen_at"]
        indexes = [models.Index(fields=["device", "seen_at"])]

    def __str__(self) -> str:
        return f"{self.shopper_id or 'unknown'} at {self.device_id} {self.seen_at:%H:%M:%S}"
