"""The training-data loop: dataset images from kept shelf frames and labelImg folders, and
exports in YOLO and Pascal VOC form for the usual trainers."""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from PIL import Image

from store.errors import DomainError
from store.models import DatasetBox, DatasetImage, Frame
from vision import datasets
from vision.datasets import Annotation, AnnotationError, Box
from vision.images import ImageError, probe

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
IMPORT_MAX_BYTES = 64 * 1024 * 1024
Progress = Callable[[Iterable[Any], int, str], Iterable[Any]]


def _no_progress(items: Iterable[Any], total: int, desc: str) -> Iterable[Any]:
    return items


@dataclass
class ImportResult:
    imported: int = 0
    boxes: int = 0
    already_present: int = 0
    unlabelled_images: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (file, code, message)


@dataclass(frozen=True)
class _Pair:
    xml_name: str
    image_path: Path
    annotation: Annotation


def _find_image(directory: Path, xml_path: Path, annotation: Annotation) -> Path | None:
    candidates = [directory / annotation.filename] if annotation.filename else []
    candidates += [xml_path.with_suffix(s) for s in IMAGE_SUFFIXES]
    candidates += [xml_path.with_suffix(s.upper()) for s in IMAGE_SUFFIXES]
    for path in candidates:
        if path.is_file() and path.parent.resolve() == directory.resolve():
            return path
    return None


def _check_pair(directory: Path, xml_path: Path) -> _Pair:
    try:
        annotation = datasets.parse_voc(xml_path.read_bytes())
    except AnnotationError as exc:
        raise DomainError(exc.code, exc.message) from None
    image_path = _find_image(directory, xml_path, annotation)
    if image_path is None:
        raise DomainError(
            "image_missing", f"no image {annotation.filename or xml_path.stem + '.jpg'} beside it"
        )
    try:
        info = probe(image_path.read_bytes(), max_bytes=IMPORT_MAX_BYTES, max_pixels=10**8)
    except ImageError as exc:
        raise DomainError(exc.code, f"{image_path.name}: {exc.message}") from None
    if (info.width, info.height) != (annotation.width, annotation.height):
        raise DomainError(
            "image_size_mismatch",
            f"{image_path.name} is {info.width}×{info.height} but the XML says "
            f"{annotation.width}×{annotation.height}",
        )
    return _Pair(xml_path.name, image_path, annotation)


def dataset_import_voc(
    *, directory: Path, skip_bad: bool = False, progress: Progress = _no_progress
) -> ImportResult:
    """Import a labelImg folder (image + Pascal VOC XML pairs) as reviewed dataset images.

    Every pair is checked before anything is written. With any bad pair and without
    `skip_bad`, nothing is imported and the errors are returned; with it, the good pairs are
    imported. A pair imported before (same file name) is left as it is."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DomainError("not_a_directory", f"{directory} is not a directory")
    result = ImportResult()
    xml_paths = sorted(directory.glob("*.xml"))
    if not xml_paths:
        raise DomainError("no_annotations", f"{directory} holds no Pascal VOC .xml files")
    pairs = []
    for xml_path in progress(xml_paths, len(xml_paths), "checking"):
        try:
            pairs.append(_check_pair(directory, xml_path))
        except DomainError as exc:
            result.errors.append((xml_path.name, exc.code, exc.message))
    labelled = {p.image_path.name for p in pairs} | {
        x.with_suffix(s).name for x in xml_paths for s in IMAGE_SUFFIXES
    }
    result.unlabelled_images = sum(
        1
        for p in directory.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and p.name not in labelled
    )
    if result.errors and not skip_bad:
        return result
    present = set(
        DatasetImage.objects.filter(
            source="voc", original_name__in=[p.image_path.name for p in pairs]
        ).values_list("original_name", flat=True)
    )
    written: list[DatasetImage] = []
    try:
        with transaction.atomic():
            for pair in progress(pairs, len(pairs), "importing"):
                if pair.image_path.name in present:
                    result.already_present += 1
                    continue
                image = _image_create(
                    data=pair.image_path.read_bytes(),
                    name=pair.image_path.name,
                    source="voc",
                    boxes=pair.annotation.boxes,
                    reviewed=True,
                    written=written,
                    width=pair.annotation.width,
                    height=pair.annotation.height,
                )
                result.imported += 1
                result.boxes += image.box_count
    except BaseException:
        # The rows rolled back; the files written so far must go too.
        for image in written:
            image.file.delete(save=False)
        raise
    return result


def _image_create(
    *,
    data: bytes,
    name: str,
    source: str,
    boxes: Iterable[Box],
    reviewed: bool,
    written: list[DatasetImage],
    width: int,
    height: int,
    frame: Frame | None = None,
    confidences: Iterable[float | None] | None = None,
) -> DatasetImage:
    image = DatasetImage(source=source, original_name=name, reviewed=reviewed, frame=frame)
    image.file.save(name, ContentFile(data), save=False)
    written.append(image)
    # Set from the checked header: the field's own dimension update runs before the file
    # is written and would leave them empty.
    image.width, image.height = width, height
    image.save()
    boxes = list(boxes)
    confs = list(confidences) if confidences is not None else [None] * len(boxes)
    DatasetBox.objects.bulk_create(
        DatasetBox(
            image=image,
            label=b.label,
            x_min=b.x_min,
            y_min=b.y_min,
            x_max=b.x_max,
            y_max=b.y_max,
            confidence=c,
        )
        for b, c in zip(boxes, confs)
    )
    image.box_count = len(boxes)
    return image


def dataset_image_from_frame(
    *, frame: Frame, jpeg: bytes, records: list[dict[str, Any]]
) -> DatasetImage | None:
    """Keep a shelf frame with its detections as an unreviewed training image (only when
    frames are kept; it expires with the frame unless a person reviews it)."""
    if not settings.MINIGO["KEEP_FRAMES"] or not records:
        return None
    boxes, confidences = [], []
    for r in records:
        box = Box(r["label"], *r["box"])
        try:
            datasets.check_box(box, width=frame.width, height=frame.height)
        except AnnotationError:
            continue  # a degenerate detection is no training label
        boxes.append(box)
        confidences.append(r["confidence"])
    if not boxes:
        return None
    written: list[DatasetImage] = []
    name = f"{frame.device.device_id}_{frame.event_id}.jpg"
    try:
        with transaction.atomic():
            return _image_create(
                data=jpeg,
                name=name,
                source="frame",
                boxes=boxes,
                reviewed=False,
                written=written,
                width=frame.width,
                height=frame.height,
                frame=frame,
                confidences=confidences,
            )
    except BaseException:
        for image in written:
            image.file.delete(save=False)
        raise


def dataset_expire() -> int:
    """Delete unreviewed frame images past the frame retention (invariant 6); a reviewed
    image is curated training data and stays."""
    cutoff = timezone.now() - timedelta(hours=settings.MINIGO["FRAME_RETENTION_HOURS"])
    expired = DatasetImage.objects.filter(source="frame", reviewed=False).filter(
        Q(frame__expires_at__lte=timezone.now()) | Q(created_at__lte=cutoff)
    )
    count = 0
    for image in expired:
        image.file.delete(save=False)
        image.delete()
        count += 1
    return count


@dataclass
class ExportResult:
    images: int = 0
    boxes: int = 0
    classes: list[str] = field(default_factory=list)


def _annotation(image: DatasetImage, filename: str) -> Annotation:
    return Annotation(
        filename=filename,
        width=image.width,
        height=image.height,
        boxes=[Box(b.label, b.x_min, b.y_min, b.x_max, b.y_max) for b in image.boxes.all()],
    )


def _jpeg_bytes(image: DatasetImage) -> bytes:
    with image.file.open("rb") as f:
        data = f.read()
    if data[:3] == b"\xff\xd8\xff":
        return data
    with Image.open(io.BytesIO(data)) as img:
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=95)
        return out.getvalue()


def _unique_stems(images: list[DatasetImage]) -> list[str]:
    seen: set[str] = set()
    stems = []
    for image in images:
        stem = Path(image.original_name or image.file.name).stem or f"image_{image.pk}"
        if stem in seen:
            stem = f"{stem}_{image.pk}"
        seen.add(stem)
        stems.append(stem)
    return stems


def dataset_export(
    *,
    out: Path,
    fmt: str,
    include_unreviewed: bool = False,
    val_fraction: float = 0.1,
    progress: Progress = _no_progress,
) -> ExportResult:
    """Write the dataset to `out` (which must be new or empty).

    yolo: data.yaml, images/{train,val}/*.jpg, labels/{train,val}/*.txt (the split is by a
    hash of the file name, so it is stable from one export to the next).
    voc: *.jpg beside *.xml, the folder labelImg opens."""
    if fmt not in ("yolo", "voc"):
        raise DomainError("bad_format", "the format is yolo or voc")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DomainError("output_not_empty", f"{out} exists and is not an empty directory")
    qs = DatasetImage.objects.prefetch_related("boxes").order_by("id")
    if not include_unreviewed:
        qs = qs.filter(reviewed=True)
    images = list(qs)
    if not images:
        raise DomainError("dataset_empty", "no dataset images to export")
    classes = sorted({b.label for image in images for b in image.boxes.all()})
    result = ExportResult(classes=classes)
    out.mkdir(parents=True, exist_ok=True)
    splits_used = set()
    for image, stem in progress(zip(images, _unique_stems(images)), len(images), "exporting"):
        annotation = _annotation(image, f"{stem}.jpg")
        data = _jpeg_bytes(image)
        if fmt == "voc":
            (out / f"{stem}.jpg").write_bytes(data)
            (out / f"{stem}.xml").write_bytes(datasets.write_voc(annotation, folder=out.name))
        else:
            split = "val" if zlib.crc32(stem.encode()) % 1000 < val_fraction * 1000 else "train"
            splits_used.add(split)
            (out / "images" / split).mkdir(parents=True, exist_ok=True)
            (out / "labels" / split).mkdir(parents=True, exist_ok=True)
            (out / "images" / split / f"{stem}.jpg").write_bytes(data)
            (out / "labels" / split / f"{stem}.txt").write_text(
                datasets.yolo_lines(annotation, classes=classes)
            )
        result.images += 1
        result.boxes += len(annotation.boxes)
    if fmt == "yolo":
        train = "images/train" if "train" in splits_used else "images/val"
        val = "images/val" if "val" in splits_used else train
        (out / "data.yaml").write_text(
            datasets.yolo_data_yaml(root=str(out.resolve()), classes=classes, train=train, val=val)
        )
        (out / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    return result
