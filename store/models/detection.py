from __future__ import annotations

from django.db import models


class DetectorModel(models.Model):
    """A store's own YOLO-family ONNX product detector."""

    name = models.CharField(max_length=100)
    file = models.FileField(upload_to="detectors/")
    class_names = models.JSONField(default=list, blank=True)
    input_size = models.PositiveIntegerField(default=640)
    layout = models.CharField(max_length=8, blank=True, help_text="v5 or v8, found on upload")
    confidence = models.FloatField(default=0.25)
    iou = models.FloatField(default=0.45)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return self.name


class ClassMapping(models.Model):
    detector = models.ForeignKey(DetectorModel, on_delete=models.CASCADE, related_name="mappings")
    class_name = models.CharField(max_length=100)
    # None: a class that is no product (a hand, a person).
    product = models.ForeignKey(
        "store.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["detector_id", "class_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["detector", "class_name"], name="classmapping_unique_class"
            )
        ]

    def __str__(self) -> str:
        return f"{self.class_name} → {self.product or '—'}"


class DatasetImage(models.Model):
    """A training image (a kept shelf frame or an imported labelImg file)."""

    file = models.ImageField(upload_to="dataset/", width_field="width", height_field="height")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=16, default="frame")
    original_name = models.CharField(max_length=255, blank=True)
    frame = models.ForeignKey(
        "store.Frame", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name or self.file.name


class DatasetBox(models.Model):
    image = models.ForeignKey(DatasetImage, on_delete=models.CASCADE, related_name="boxes")
    label = models.CharField(max_length=100)
    # Pixel coordinates in the image, as Pascal VOC has them (not "xmin": PostgreSQL reserves it).
    x_min = models.FloatField()
    y_min = models.FloatField()
    x_max = models.FloatField()
    y_max = models.FloatField()
    confidence = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["image_id", "id"]

    def __str__(self) -> str:
        return f"{self.label} [{self.x_min:.0f},{self.y_min:.0f},{self.x_max:.0f},{self.y_max:.0f}]"
