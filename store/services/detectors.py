"""A store's own detector models: checking an upload, mapping classes to products, choosing
the shelves that use it, and loading it (lazily, once per process) for the workers."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q

from store.errors import DomainError
from store.models import ClassMapping, DetectorModel, Product, Shelf
from vision.detect import Detector, ModelError


@dataclass(frozen=True)
class ModelInfo:
    layout: str
    class_names: list[str]
    input_size: int


def detector_inspect(
    *, data: bytes, labels: list[str] | None = None, input_size: int = 640
) -> ModelInfo:
    """Check that onnxruntime loads the model, that its output is a YOLO layout we read, and
    that its class names are known (from its metadata or `labels`). Runs it once on a blank
    frame, so a model that loads but cannot run is refused too."""
    if not data:
        raise DomainError("model_unloadable", "the file is empty")
    try:
        detector = Detector(data, class_names=labels or None, input_size=input_size)
        detector.warm_up()
    except ModelError as exc:
        raise DomainError(exc.code, exc.message) from None
    except Exception as exc:  # onnxruntime's own errors when the graph cannot run
        raise DomainError("model_unrunnable", f"the model fails on a blank frame: {exc}") from None
    h, w = detector.input_size
    if h != w:
        raise DomainError("model_input_unsupported", f"the model input {w}×{h} is not square")
    return ModelInfo(layout=detector.layout, class_names=detector.class_names, input_size=h)


def detector_create(
    *,
    name: str,
    data: bytes,
    filename: str = "model.onnx",
    labels: list[str] | None = None,
    input_size: int = 640,
    confidence: float = 0.25,
    iou: float = 0.45,
) -> DetectorModel:
    info = detector_inspect(data=data, labels=labels, input_size=input_size)
    detector = DetectorModel(name=name, confidence=confidence, iou=iou)
    detector.file.save(filename, ContentFile(data), save=False)
    detector_apply_model(detector=detector, info=info)
    return detector


def detector_apply_model(*, detector: DetectorModel, info: ModelInfo) -> list[ClassMapping]:
    """Save `detector` as its checked model file describes it (a new detector, or a new file or
    class names for one): layout, class names and input size come from the model, mappings of
    classes it no longer has go, and its new classes get rows. Returns the new rows."""
    detector.layout = info.layout
    detector.class_names = info.class_names
    detector.input_size = info.input_size
    with transaction.atomic():
        detector.save()
        detector.mappings.exclude(class_name__in=info.class_names).delete()
        return detector_sync_mappings(detector=detector)


def detector_sync_mappings(*, detector: DetectorModel) -> list[ClassMapping]:
    """One mapping row per class name, so the admin shows them all; a class whose name is a
    product's SKU or name is mapped to it, the rest wait for a person (a hand maps to none)."""
    existing = set(detector.mappings.values_list("class_name", flat=True))
    created = []
    for class_name in detector.class_names:
        if class_name in existing:
            continue
        product = Product.objects.filter(
            Q(sku__iexact=class_name) | Q(name__iexact=class_name)
        ).first()
        created.append(
            ClassMapping.objects.create(detector=detector, class_name=class_name, product=product)
        )
    return created


def detector_assign_shelves(*, detector: DetectorModel, shelves: Iterable[Shelf]) -> None:
    """Exactly these shelves' cameras run this detector from now on."""
    ids = [s.pk for s in shelves]
    with transaction.atomic():
        Shelf.objects.filter(detector=detector).exclude(pk__in=ids).update(detector=None)
        Shelf.objects.filter(pk__in=ids).update(detector=detector)


_cache: dict[int, tuple[tuple, Detector]] = {}
_cache_lock = threading.Lock()


def detector_load(*, model: DetectorModel) -> Detector:
    """The loaded detector for this model row, built on first use in this process and again
    only when the row changes (a new file, new names or thresholds)."""
    key = (
        model.file.name,
        tuple(model.class_names),
        model.input_size,
        model.confidence,
        model.iou,
    )
    with _cache_lock:
        cached = _cache.get(model.pk)
        if cached is not None and cached[0] == key:
            return cached[1]
        with model.file.open("rb") as f:
            data = f.read()
        detector = Detector(
            data,
            class_names=model.class_names or None,
            input_size=model.input_size,
            confidence=model.confidence,
            iou=model.iou,
            intra_op_threads=settings.MINIGO["DETECTOR_THREADS"],
        )
        detector.warm_up()
        _cache[model.pk] = (key, detector)
        return detector
