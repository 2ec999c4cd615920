from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


def validate_camera_region(value: object) -> None:
    """[x1, y1, x2, y2], fractions of the shelf camera's frame (0..1), x1 < x2, y1 < y2."""
    if value is None:
        return
    ok = (
        isinstance(value, list)
        and len(value) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )
    if not ok or not (0 <= value[0] < value[2] <= 1 and 0 <= value[1] < value[3] <= 1):
        raise ValidationError(
            "A camera region is [x1, y1, x2, y2] with 0 ≤ x1 < x2 ≤ 1 and 0 ≤ y1 < y2 ≤ 1 "
            "(fractions of the frame), e.g. [0, 0.5, 0.5, 1] for the bottom-left quarter."
        )


def validate_reach(value: object) -> None:
    """[x1, x2], fractions of the shelf camera's view width (0..1), x1 < x2; None clears it."""
    if value is None:
        return
    ok = (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )
    if not ok or not (0 <= value[0] < value[1] <= 1):
        raise ValidationError(
            "A reach band is [x1, x2] with 0 ≤ x1 < x2 ≤ 1 (fractions of the camera's view, "
            "left to right), e.g. [0.25, 0.5].",
            code="bad_reach",
        )


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    # Prices are tax-inclusive, as shelf labels in small shops are; the receipt shows the
    # tax contained in each line.
    tax_rate = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Fraction, e.g. 0.2000 for 20%",
    )
    unit_weight_g = models.FloatField(validators=[MinValueValidator(0.1)])
    weight_tolerance_g = models.FloatField(default=5.0, validators=[MinValueValidator(0.0)])
    image = models.ImageField(upload_to="products/", blank=True)
    age_restricted = models.BooleanField(default=False)
    # Hours (store-local) in which the product is not sold, e.g. 22:00-06:00 for alcohol; a
    # pick then goes to review like an unverified shopper's. Both empty: sold at any hour.
    no_sale_from = models.TimeField(null=True, blank=True)
    no_sale_until = models.TimeField(null=True, blank=True)
    # Markdown: this percentage off an item picked within `markdown_days` days of its batch's
    # best-before date (0 = never marked down).
    markdown_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    markdown_days = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_gte_0"),
            models.CheckConstraint(
                condition=models.Q(unit_weight_g__gt=0), name="product_unit_weight_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class SensorKind(models.TextChoices):
    LOAD_CELL = "load_cell", "Load cell (grams)"
    ULTRASONIC = "ultrasonic", "Ultrasonic distance (mm)"
    LIGHT = "light", "Light sensor (present / absent)"
    CAMERA = "camera", "Camera only"


class Shelf(models.Model):
    name = models.CharField(max_length=100)
    device = models.OneToOneField(
        "store.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="shelf"
    )
    has_camera = models.BooleanField(default=False)
    detector = models.ForeignKey(
        "store.DetectorModel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="shelves",
        help_text="Product detector run on this shelf's camera frames",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "shelves"

    def __str__(self) -> str:
        return self.name


class Slot(models.Model):
    shelf = models.ForeignKey(Shelf, on_delete=models.CASCADE, related_name="slots")
    code = models.CharField(max_length=32)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="slots"
    )
    sensor = models.CharField(
        max_length=16, choices=SensorKind.choices, default=SensorKind.LOAD_CELL
    )
    stock = models.PositiveIntegerField(default=0)
    capacity = models.PositiveIntegerField(default=20)
    low_stock_threshold = models.PositiveIntegerField(default=3)
    # Ultrasonic lanes: distance to the back of an empty lane and the depth of one item.
    lane_depth_mm = models.FloatField(null=True, blank=True)
    item_depth_mm = models.FloatField(null=True, blank=True)
    # Where this slot lies in the shelf camera's frame; detections whose centre falls inside
    # count for it. Empty: every detection of the slot's product on that shelf counts.
    camera_region = models.JSONField(
        null=True,
        blank=True,
        validators=[validate_camera_region],
        help_text="[x1, y1, x2, y2] as fractions (0..1) of the shelf camera frame",
    )
    # The calibrated reach band: the horizontal part of the shelf camera's view (fractions of
    # its width, left to right) where the face of a shopper taking from this slot appears.
    # Both empty: uncalibrated, and a face's position says nothing about this slot.
    reach_from = models.FloatField(
        null=True, blank=True, help_text="left edge of the reach band (0..1 of the view)"
    )
    reach_to = models.FloatField(
        null=True, blank=True, help_text="right edge of the reach band (0..1 of the view)"
    )

    class Meta:
        ordering = ["shelf__name", "code"]
        constraints = [
            models.UniqueConstraint(fields=["shelf", "code"], name="slot_unique_code_per_shelf"),
            models.CheckConstraint(condition=models.Q(stock__gte=0), name="slot_stock_gte_0"),
            models.CheckConstraint(
                condition=models.Q(reach_from__isnull=True, reach_to__isnull=True)
                | models.Q(reach_from__gte=0, reach_to__lte=1, reach_from__lt=models.F("reach_to")),
                name="slot_reach_band_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shelf.name}/{self.code}"

    def clean(self) -> None:
        super().clean()
        if self.reach_from is not None or self.reach_to is not None:
            validate_reach([self.reach_from, self.reach_to])

    @property
    def reach(self) -> tuple[float, float] | None:
        """(left, right) of the calibrated reach band, or None when uncalibrated."""
        if self.reach_from is None or self.reach_to is None:
            return None
        return (self.reach_from, self.reach_to)

    @property
    def is_low(self) -> bool:
        return self.stock <= self.low_stock_threshold
