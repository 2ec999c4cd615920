"""Shopping together: a payer admits companions, whose picks land on the payer's cart."""

from __future__ import annotations

from django.db import models


class ShoppingGroup(models.Model):
    """A payer's "+N": up to `announced` companions walking in with them. Companions the gate
    recognises become members (their own visit, shown live, paid by the payer); the rest are
    guests the store counts but cannot name."""

    payer = models.ForeignKey("store.Shopper", on_delete=models.PROTECT, related_name="groups")
    payer_visit = models.OneToOneField(
        "store.Visit", null=True, blank=True, on_delete=models.PROTECT, related_name="group"
    )
    announced = models.PositiveSmallIntegerField(default=0)
    guests = models.PositiveSmallIntegerField(default=0)
    # When the payer last said "+N" (inside the store, that opens the gate window again).
    announced_at = models.DateTimeField()
    # An announcement not used by then lapses (the payer changed their mind).
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-announced_at"]

    def __str__(self) -> str:
        return f"group of {self.payer} (+{self.announced})"


class GroupMember(models.Model):
    group = models.ForeignKey(ShoppingGroup, on_delete=models.CASCADE, related_name="members")
    visit = models.OneToOneField(
        "store.Visit", on_delete=models.PROTECT, related_name="group_membership"
    )
    joined_at = models.DateTimeField()

    class Meta:
        ordering = ["joined_at", "id"]

    def __str__(self) -> str:
        return f"{self.visit} in {self.group}"
