"""YOLO-family product detection with onnxruntime. No Django.

Two output layouts are read, and told apart from the output shape and the class count:
- YOLOv5: [1, N, 5 + C] — cx, cy, w, h, objectness, then C class scores per row;
- YOLOv8 / v11: [1, 4 + C, N] — cx, cy, w, h, then C class scores per column (no objectness).
Boxes are in the letterboxed input's pixels; `detect()` maps them back to the frame.

    detector = Detector("model.onnx")            # class names from the model's metadata
    detections = detector.detect(rgb)            # rgb: (H, W, 3) uint8, RGB order
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.errors import VisionError

V5, V8 = "v5", "v8"
LAYOUTS = (V5, V8)
PAD_VALUE = 114  # the grey Ultralytics pads with; models are trained on it


class ModelError(VisionError):
    """A model that cannot be used, with a machine-readable code."""


@dataclass(frozen=True)
class Detections:
    """Boxes in frame pixels (x1, y1, x2, y2), their confidences and class ids."""

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        class_id = np.asarray(self.class_id, dtype=np.int64).reshape(-1)
        if not (len(xyxy) == len(confidence) == len(class_id)):
            raise ValueError(
                f"xyxy ({len(xyxy)}), confidence ({len(confidence)}) and class_id "
                f"({len(class_id)}) must have one row per detection"
            )
        if not np.isfinite(xyxy).all() or not np.isfinite(confidence).all():
            raise ValueError("boxes and confidences must be finite")
        if (xyxy[:, 2] < xyxy[:, 0]).any() or (xyxy[:, 3] < xyxy[:, 1]).any():
            raise ValueError("boxes must have x2 >= x1 and y2 >= y1")
        if (class_id < 0).any():
            raise ValueError("class ids are not negative")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", confidence)
        object.__setattr__(self, "class_id", class_id)

    def __len__(self) -> int:
        return len(self.class_id)

    def __iter__(self) -> Iterator[tuple[np.ndarray, float, int]]:
        for i in range(len(self)):
            yield self.xyxy[i], float(self.confidence[i]), int(self.class_id[i])

    def __getitem__(self, index: Any) -> Detections:
        return Detections(self.xyxy[index], self.confidence[index], self.class_id[index])

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0))

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]]) -> Detections:
        """From `to_records()` output (e.g. a frame's stored result)."""
        if not records:
            return cls.empty()
        return cls(
            np.array([r["box"] for r in records]),
            np.array([r["confidence"] for r in records]),
            np.array([r["class_id"] for r in records]),
        )

    @classmethod
    def from_yolo(
        cls,
        output: np.ndarray,
        *,
        layout: str,
        confidence: float,
        iou: float,
        letterbox: Letterbox | None = None,
        max_detections: int = 300,
    ) -> Detections:
        """Decode one raw YOLO output, filter, run class-wise NMS, map back to the frame."""
        boxes, scores, class_ids = decode(output, layout=layout, confidence=confidence)
        keep = nms(boxes, scores, class_ids, iou=iou, max_detections=max_detections)
        boxes, scores, class_ids = boxes[keep], scores[keep], class_ids[keep]
        if letterbox is not None:
            boxes = letterbox.to_frame(boxes)
        return cls(boxes, scores, class_ids)

    def to_records(self, class_names: Sequence[str] = ()) -> list[dict[str, Any]]:
        return [
            {
                "label": class_names[c] if c < len(class_names) else str(c),
                "class_id": c,
                "confidence": round(conf, 4),
                "box": [round(float(v), 1) for v in box],
            }
            for box, conf, c in self
        ]


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the model input: scaled by `scale`, then padded."""

    scale: float
    pad_x: int
    pad_y: int
    width: int  # the frame's
    height: int

    def to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        out = np.empty_like(xyxy, dtype=np.float32)
        out[:, [0, 2]] = (xyxy[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (xyxy[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, self.width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, self.height)
        return out


def letterbox(rgb: np.ndarray, *, size: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Fit an (H, W, 3) uint8 frame into size=(height, width) keeping its aspect ratio, pad
    the rest, and return the NCHW float32 tensor in 0..1 with the mapping back."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    in_h, in_w = size
    h, w = rgb.shape[:2]
    scale = min(in_h / h, in_w / w)
    new_w, new_h = round(w * scale), round(h * scale)
    pad_x, pad_y = (in_w - new_w) // 2, (in_h - new_h) // 2
    canvas = np.full((in_h, in_w, 3), PAD_VALUE, dtype=np.uint8)
    resized = (
        rgb
        if (new_w, new_h) == (w, h)
        else cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    )
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    tensor = canvas.transpose(2, 0, 1)[None].astype(np.float32)
    tensor *= 1 / 255.0
    return tensor, Letterbox(scale=scale, pad_x=pad_x, pad_y=pad_y, width=w, height=h)


def detect_layout(shape: Sequence[Any], *, num_classes: int | None) -> tuple[str, int]:
    """(layout, class count) from an output shape [1, A, B]. With the class count known the
    layout is exact; without it the smaller axis is taken as the per-box axis (models have
    thousands of candidate boxes and few classes)."""
    if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape[1:]):
        raise ModelError(
            "model_layout_unknown",
            f"the output shape {list(shape)} is not [1, N, 5+C] (YOLOv5) or [1, 4+C, N] (v8/v11)",
        )
    a, b = shape[1], shape[2]
    if num_classes is not None:
        v8, v5 = a == 4 + num_classes, b == 5 + num_classes
        if v8 and not v5:
            return V8, num_classes
        if v5 and not v8:
            return V5, num_classes
        if v5 and v8:
            return (V8, num_classes) if a < b else (V5, num_classes)
        raise ModelError(
            "model_class_count_mismatch",
            f"the output shape {list(shape)} fits neither 5+{num_classes} (v5) nor "
            f"4+{num_classes} (v8) for the {num_classes} class names given",
        )
    if a < b and a > 4:
        return V8, a - 4
    if b > 5:
        return V5, b - 5
    if a > 4:
        return V8, a - 4
    raise ModelError("model_layout_unknown", f"the output shape {list(shape)} has no class axis")


def decode(
    output: np.ndarray, *, layout: str, confidence: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw output → (xyxy boxes, scores, class ids) above `confidence`, in input pixels.
    Scores are taken on the output as it lies (no transpose of all N candidates), and only
    the candidates above the threshold are gathered."""
    out = np.asarray(output)
    if out.ndim == 3:
        out = out[0]
    if layout == V8:
        cls_scores = out[4:]  # (C, N)
        class_ids = cls_scores.argmax(axis=0)
        scores = np.take_along_axis(cls_scores, class_ids[None], axis=0)[0]
        mask = scores >= confidence
        xywh = out[:4, mask].T
    elif layout == V5:
        # Class scores are at most 1, so objectness below the threshold rules a row out.
        rows = out[out[:, 4] >= confidence]
        cls_scores = rows[:, 5:] * rows[:, 4:5]  # objectness × class score
        class_ids = cls_scores.argmax(axis=1)
        scores = cls_scores[np.arange(len(rows)), class_ids]
        mask = scores >= confidence
        xywh = rows[mask, :4]
    else:
        raise ValueError(f"unknown layout {layout!r}")
    scores, class_ids = scores[mask], class_ids[mask]
    cx, cy, w, h = xywh[:, 0], xywh[:, 1], xywh[:, 2], xywh[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes.astype(np.float32), scores.astype(np.float32), class_ids.astype(np.int64)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    *,
    iou: float,
    max_candidates: int = 30000,
    max_detections: int = 300,
) -> np.ndarray:
    """Greedy class-wise non-maximum suppression; indices kept, best score first. Boxes of
    different classes never suppress each other (each class is shifted to its own area)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-scores, kind="stable")[:max_candidates]
    shifted = boxes + (class_ids[:, None] * (float(np.abs(boxes).max()) + 1.0))
    keep: list[int] = []
    while len(order) and len(keep) < max_detections:
        best = order[0]
        keep.append(int(best))
        if len(order) == 1:
            break
        rest = order[1:]
        order = rest[box_iou(shifted[best], shifted[rest]) <= iou]
    return np.array(keep, dtype=np.int64)


def class_names_from_metadata(metadata: dict[str, str]) -> list[str] | None:
    """Ultralytics (v5 and v8/v11 exports) write `names` as "{0: 'a', 1: 'b'}"; a JSON or
    Python list is read too."""
    raw = metadata.get("names") or metadata.get("classes")
    if not raw:
        return None
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return [n.strip() for n in raw.split(",") if n.strip()] or None
    if isinstance(value, dict):
        try:
            return [str(value[i]) for i in range(len(value))]
        except KeyError:
            return None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return None


def read_labels(path: str | Path) -> list[str]:
    """A labels file: one class name per line (blank lines ignored)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


class Detector:
    """One ONNX model, loaded once; `detect()` is safe to call from several threads."""

    def __init__(
        self,
        model: str | Path | bytes,
        *,
        class_names: Sequence[str] | None = None,
        labels_file: str | Path | None = None,
        input_size: int | tuple[int, int] | None = None,
        confidence: float = 0.25,
        iou: float = 0.45,
        intra_op_threads: int = 1,
        inter_op_threads: int = 1,
        providers: Sequence[str] = ("CPUExecutionProvider",),
    ):
        import onnxruntime as ort  # a quarter of a second: loaded only with a model

        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = inter_op_threads
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        source = bytes(model) if isinstance(model, bytes | bytearray) else str(model)
        try:
            self.session = ort.InferenceSession(source, options, providers=list(providers))
        except Exception as exc:  # onnxruntime raises its own untyped errors
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc)
            raise ModelError("model_unloadable", f"onnxruntime cannot load it: {first}") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelError("model_input_unsupported", "the model must take one NCHW image tensor")
        self.input_name = inputs[0].name
        self.input_dtype = np.float16 if inputs[0].type == "tensor(float16)" else np.float32
        self.output_name = outputs[0].name
        self.input_size = _input_size(inputs[0].shape, input_size)
        self.confidence, self.iou = confidence, iou
        if class_names is None and labels_file is not None:
            class_names = read_labels(labels_file)
        if class_names is None:
            class_names = class_names_from_metadata(
                self.session.get_modelmeta().custom_metadata_map
            )
        shape = list(outputs[0].shape)
        if not all(isinstance(d, int) for d in shape[1:]):
            # A dynamic output shape: run once on a blank input to see the real one.
            shape = list(self._run(self._blank()).shape)
        self.layout, num_classes = detect_layout(
            shape, num_classes=len(class_names) if class_names else None
        )
        if not class_names:
            raise ModelError(
                "model_no_class_names",
                f"the model has {num_classes} classes but no 'names' metadata; "
                "give a labels file (one class name per line)",
            )
        self.class_names = list(class_names)

    def _blank(self) -> np.ndarray:
        h, w = self.input_size
        return np.zeros((1, 3, h, w), dtype=self.input_dtype)

    def _run(self, tensor: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: tensor})[0]

    def warm_up(self, runs: int = 1) -> None:
        """First runs allocate and tune; do them before the first real frame."""
        blank = self._blank()
        for _ in range(runs):
            self._run(blank)

    def detect(
        self, rgb: np.ndarray, *, confidence: float | None = None, iou: float | None = None
    ) -> Detections:
        tensor, box = letterbox(rgb, size=self.input_size)
        if self.input_dtype != np.float32:
            tensor = tensor.astype(self.input_dtype)
        output = self._run(tensor).astype(np.float32, copy=False)
        return Detections.from_yolo(
            output,
            layout=self.layout,
            confidence=self.confidence if confidence is None else confidence,
            iou=self.iou if iou is None else iou,
            letterbox=box,
        )


def _input_size(shape: Sequence[Any], wanted: int | tuple[int, int] | None) -> tuple[int, int]:
    h, w = shape[2], shape[3]
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        return h, w  # a fixed-size model: its own size wins
    if wanted is None:
        wanted = 640
    return (wanted, wanted) if isinstance(wanted, int) else tuple(wanted)  # type: ignore[return-value]


def annotate(bgr: np.ndarray, detections: Detections, class_names: Sequence[str]) -> np.ndarray:
    out = bgr.copy()
    for box, conf, c in detections:
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        colour = tuple(int(v) for v in np.random.default_rng(c).integers(64, 256, 3))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
        label = f"{class_names[c] if c < len(class_names) else c} {conf:.2f}"
        cv2.putText(out, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vision.detect", description="Run a YOLO ONNX model on images."
    )
    parser.add_argument("model")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--labels", help="labels file, one class name per line")
    parser.add_argument("--size", type=int, help="input size for models without a fixed one")
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--iou", type=float, default=0.45)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--save-dir", help="write annotated copies of the images here")
    args = parser.parse_args(argv)
    try:
        detector = Detector(
            args.model,
            labels_file=args.labels,
            input_size=args.size,
            confidence=args.conf,
            iou=args.iou,
            intra_op_threads=args.threads,
        )
    except (ModelError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{args.model}: layout {detector.layout}, input {detector.input_size}, "
        f"classes {detector.class_names}"
    )
    detector.warm_up()
    save_dir = Path(args.save_dir) if args.save_dir else None
    if save_dir:
        save_dir.mkdir(parents=True, exist_ok=True)
    status = 0
    for image in args.images:
        bgr = cv2.imread(image, cv2.IMREAD_COLOR)
        if bgr is None:
            print(f"{image}: cannot read this image", file=sys.stderr)
            status = 1
            continue
        found = detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        print(f"{image}: {len(found)} detection(s)")
        for record in found.to_records(detector.class_names):
            print(f"  {record['label']:<16} {record['confidence']:.3f}  {record['box']}")
        if save_dir:
            cv2.imwrite(
                str(save_dir / Path(image).name), annotate(bgr, found, detector.class_names)
            )
    return status


if __name__ == "__main__":
    sys.exit(main())
