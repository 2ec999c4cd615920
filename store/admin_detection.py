"""Admin for product detection: upload a model (checked before it is saved), map its classes
to products, choose the shelves whose cameras run it; review training images."""

from __future__ import annotations

import base64
from html import escape

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.db.models import Count
from django.utils.safestring import mark_safe

from store import models as m
from store.admin_base import Refusing
from store.errors import DomainError
from store.services.detectors import (
    detector_apply_model,
    detector_assign_shelves,
    detector_inspect,
)


class DetectorModelForm(forms.ModelForm):
    labels_file = forms.FileField(
        required=False,
        help_text="Only for a model without class names in its metadata: one name per line.",
    )
    shelves = forms.ModelMultipleChoiceField(
        queryset=m.Shelf.objects.all(),
        required=False,
        widget=FilteredSelectMultiple("shelves", is_stacked=False),
        help_text="The shelves whose cameras run this model.",
    )

    class Meta:
        model = m.DetectorModel
        fields = ["name", "file", "input_size", "confidence", "iou"]
        help_texts = {
            "file": "A YOLOv5, v8 or v11 detector exported to ONNX (e.g. `yolo export "
            "format=onnx`). It is checked with onnxruntime before it is saved.",
            "input_size": "Used only when the model's input size is not fixed.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.info = None
        if self.instance.pk:
            self.fields["shelves"].initial = list(self.instance.shelves.all())

    def clean_confidence(self):
        value = self.cleaned_data["confidence"]
        if not 0 < value < 1:
            raise forms.ValidationError("between 0 and 1")
        return value

    def clean_iou(self):
        value = self.cleaned_data["iou"]
        if not 0 < value <= 1:
            raise forms.ValidationError("between 0 and 1")
        return value

    def clean(self):
        cleaned = super().clean()
        upload, labels_file = cleaned.get("file"), cleaned.get("labels_file")
        if upload is None or self.errors:
            return cleaned
        if "file" not in self.changed_data and labels_file is None:
            return cleaned  # the checked model stays; only settings changed
        labels = None
        if labels_file is not None:
            try:
                text = labels_file.read().decode("utf-8")
            except UnicodeDecodeError:
                self.add_error("labels_file", "The labels file is not UTF-8 text.")
                return cleaned
            labels = [line.strip() for line in text.splitlines() if line.strip()]
        upload.open("rb")
        upload.seek(0)
        data = upload.read()
        upload.seek(0)
        try:
            self.info = detector_inspect(
                data=data, labels=labels, input_size=cleaned.get("input_size") or 640
            )
        except DomainError as exc:
            field = "labels_file" if labels and exc.code == "model_class_count_mismatch" else "file"
            self.add_error(field, f"This model cannot be used: {exc.message} ({exc.code}).")
        return cleaned


class ClassMappingInline(Refusing, admin.TabularInline):
    model = m.ClassMapping
    refused = ("add",)  # the rows are the model's own class names
    extra = 0
    fields = ["class_name", "product"]
    readonly_fields = ["class_name"]
    autocomplete_fields = ["product"]
    verbose_name = "class → product"
    verbose_name_plural = "Class names → products (a class such as “hand” maps to none)"


@admin.register(m.DetectorModel)
class DetectorModelAdmin(admin.ModelAdmin):
    form = DetectorModelForm
    list_display = ["name", "layout", "input_size", "class_count", "shelf_list", "uploaded_at"]
    readonly_fields = ["layout", "class_names", "uploaded_at"]
    inlines = [ClassMappingInline]

    @admin.display(description="classes")
    def class_count(self, obj) -> int:
        return len(obj.class_names)

    @admin.display(description="shelves")
    def shelf_list(self, obj) -> str:
        return ", ".join(s.name for s in obj.shelves.all()) or "—"

    def save_model(self, request, obj, form, change):
        if form.info is None:
            super().save_model(request, obj, form, change)  # only its settings changed
        else:
            # The form checked the upload (form.info); the service saves it as it describes.
            created = detector_apply_model(detector=obj, info=form.info)
            if created:
                unmapped = [c.class_name for c in created if c.product_id is None]
                self.message_user(
                    request,
                    f"{obj.layout} model with {len(obj.class_names)} classes. "
                    + (f"Map these to products below: {', '.join(unmapped)}." if unmapped else ""),
                    level=messages.INFO,
                )
        detector_assign_shelves(detector=obj, shelves=form.cleaned_data.get("shelves") or [])


@admin.register(m.ClassMapping)
class ClassMappingAdmin(admin.ModelAdmin):
    list_display = ["detector", "class_name", "product"]
    list_filter = ["detector"]
    autocomplete_fields = ["product"]


class DatasetBoxInline(admin.TabularInline):
    model = m.DatasetBox
    extra = 0
    fields = ["label", "x_min", "y_min", "x_max", "y_max", "confidence"]
    readonly_fields = ["confidence"]


@admin.register(m.DatasetImage)
class DatasetImageAdmin(admin.ModelAdmin):
    """Reviewing detections: correct, add or delete boxes, then mark the image reviewed;
    only reviewed images are exported for training unless asked otherwise."""

    list_display = ["id", "original_name", "source", "width", "height", "box_count", "reviewed"]
    list_filter = ["reviewed", "source"]
    search_fields = ["original_name"]
    readonly_fields = ["preview", "width", "height", "source", "frame", "created_at"]
    fields = ["preview", "file", "reviewed", "original_name", "source", "frame", "width", "height"]
    inlines = [DatasetBoxInline]
    actions = ["mark_reviewed"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_boxes=Count("boxes"))

    @admin.display(description="boxes", ordering="_boxes")
    def box_count(self, obj) -> int:
        return obj._boxes

    @admin.action(description="Mark the selected images reviewed")
    def mark_reviewed(self, request, queryset):
        n = queryset.update(reviewed=True)
        self.message_user(request, f"{n} image(s) marked reviewed.")

    @admin.display(description="image and boxes")
    def preview(self, obj) -> str:
        if not obj.pk or not obj.file:
            return "—"
        try:
            with obj.file.open("rb") as f:
                data = base64.b64encode(f.read()).decode()
        except OSError:
            return "(image file missing)"
        rects = "".join(
            f'<rect x="{b.x_min}" y="{b.y_min}" width="{b.x_max - b.x_min}" '
            f'height="{b.y_max - b.y_min}" fill="none" stroke="#e91e63" stroke-width="2"/>'
            f'<text x="{b.x_min + 3}" y="{b.y_min + 14}" fill="#e91e63" font-size="13">'
            f"{escape(b.label)}</text>"
            for b in obj.boxes.all()
        )
        return mark_safe(
            f'<svg viewBox="0 0 {obj.width} {obj.height}" style="max-width:640px;width:100%">'
            f'<image href="data:image/jpeg;base64,{data}" width="{obj.width}" '
            f'height="{obj.height}"/>{rects}</svg>'
        )
