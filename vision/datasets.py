"""Training-data formats: Pascal VOC XML (as labelImg writes it) and YOLO label files.
Plain functions, no Django. Boxes are pixel coordinates (x_min, y_min, x_max, y_max)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field

from vision.errors import VisionError


class AnnotationError(VisionError):
    """A training annotation that cannot be read, with a code."""


@dataclass(frozen=True)
class Box:
    label: str
    x_min: float
    y_min: float
    x_max: float
    y_max: float


@dataclass(frozen=True)
class Annotation:
    filename: str
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)


def check_box(box: Box, *, width: int, height: int) -> None:
    """A box must be non-empty and lie inside its image."""
    if not box.label.strip():
        raise AnnotationError("box_no_label", "a box has an empty label")
    if not (box.x_min < box.x_max and box.y_min < box.y_max):
        raise AnnotationError(
            "box_empty", f"box {_fmt(box)} has no area (x_min < x_max and y_min < y_max)"
        )
    if box.x_min < 0 or box.y_min < 0 or box.x_max > width or box.y_max > height:
        raise AnnotationError(
            "box_outside_image", f"box {_fmt(box)} lies outside the {width}×{height} image"
        )


def _fmt(box: Box) -> str:
    return f"{box.label} [{box.x_min:g}, {box.y_min:g}, {box.x_max:g}, {box.y_max:g}]"


def parse_voc(data: bytes | str) -> Annotation:
    """Read one Pascal VOC annotation; every problem is an AnnotationError with a code."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise AnnotationError("xml_corrupt", f"not well-formed XML ({exc})") from None
    if root.tag != "annotation":
        raise AnnotationError("xml_not_voc", f"the root element is <{root.tag}>, not <annotation>")
    filename = (root.findtext("filename") or "").strip()
    try:
        width = int(float(root.findtext("size/width") or ""))
        height = int(float(root.findtext("size/height") or ""))
    except ValueError:
        raise AnnotationError("xml_no_size", "<size> needs numeric <width> and <height>") from None
    if width <= 0 or height <= 0:
        raise AnnotationError("xml_no_size", f"the image size {width}×{height} is not positive")
    boxes = []
    for i, obj in enumerate(root.findall("object"), start=1):
        label = (obj.findtext("name") or "").strip()
        try:
            coords = [float(obj.findtext(f"bndbox/{k}") or "") for k in _VOC_KEYS]
        except ValueError:
            raise AnnotationError(
                "xml_bad_box", f"object {i} ({label or 'no name'}) needs numeric bndbox corners"
            ) from None
        box = Box(label, *coords)
        check_box(box, width=width, height=height)
        boxes.append(box)
    return Annotation(filename=filename, width=width, height=height, boxes=boxes)


_VOC_KEYS = ("xmin", "ymin", "xmax", "ymax")


def write_voc(annotation: Annotation, *, folder: str = "images", path: str = "") -> bytes:
    """The XML labelImg writes, so the folder opens in labelImg again."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = folder
    ET.SubElement(root, "filename").text = annotation.filename
    ET.SubElement(root, "path").text = path or annotation.filename
    ET.SubElement(ET.SubElement(root, "source"), "database").text = "MiniGo"
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(annotation.width)
    ET.SubElement(size, "height").text = str(annotation.height)
    ET.SubElement(size, "depth").text = "3"
    ET.SubElement(root, "segmented").text = "0"
    for box in annotation.boxes:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = box.label
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        bndbox = ET.SubElement(obj, "bndbox")
        for key, value in zip(_VOC_KEYS, (box.x_min, box.y_min, box.x_max, box.y_max)):
            ET.SubElement(bndbox, key).text = _num(value)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def yolo_lines(annotation: Annotation, *, classes: Sequence[str]) -> str:
    """One `class cx cy w h` line per box, normalised to 0..1 (6 decimals)."""
    index = {name: i for i, name in enumerate(classes)}
    w, h = annotation.width, annotation.height
    lines = []
    for b in annotation.boxes:
        cx, cy = (b.x_min + b.x_max) / 2 / w, (b.y_min + b.y_max) / 2 / h
        bw, bh = (b.x_max - b.x_min) / w, (b.y_max - b.y_min) / h
        lines.append(f"{index[b.label]} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
    return "".join(line + "\n" for line in lines)


def parse_yolo(text: str, *, classes: Sequence[str], width: int, height: int) -> list[Box]:
    """YOLO label lines back to pixel boxes."""
    boxes = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            c = int(parts[0])
            cx, cy, bw, bh = (float(v) for v in parts[1:5])
            label = classes[c]
        except (ValueError, IndexError):
            raise AnnotationError("yolo_bad_line", f"line {n}: {line!r}") from None
        boxes.append(
            Box(
                label,
                (cx - bw / 2) * width,
                (cy - bh / 2) * height,
                (cx + bw / 2) * width,
                (cy + bh / 2) * height,
            )
        )
    return boxes


def yolo_data_yaml(*, root: str, classes: Sequence[str], train: str, val: str) -> str:
    """data.yaml as Ultralytics (and YOLOv5) trainers read it. `path` is absolute: both
    resolve a relative one against their own datasets folder, not against the file."""
    names = "".join(f"  {i}: {_yaml_str(name)}\n" for i, name in enumerate(classes))
    return (
        "# Moved this folder? Change `path` to where it is now.\n"
        f"path: {_yaml_str(root)}\ntrain: {train}\nval: {val}\n"
        f"nc: {len(classes)}\nnames:\n{names}"
    )


def _yaml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
