from __future__ import annotations

import numpy as np
import pytest

from tests.vision.onnx_models import constant_model, v5_output, v8_output
from vision import detect
from vision.detect import Detections, Detector, ModelError

NAMES = ["cocacola", "juice", "hand"]

# Candidate boxes in model-input pixels of a 640×640 model: (cx, cy, w, h, per-class scores).
# The first two overlap heavily (IoU 0.82) and are the same class; the third overlaps the
# first as much but is another class; the fourth is below the confidence threshold.
CANDIDATES = [
    (320, 320, 200, 100, [0.90, 0.05, 0.01]),
    (330, 320, 200, 100, [0.80, 0.10, 0.02]),
    (320, 325, 200, 100, [0.02, 0.70, 0.01]),
    (100, 200, 40, 40, [0.01, 0.01, 0.20]),
]


def v8_rows():
    return [[cx, cy, w, h, *scores] for cx, cy, w, h, scores in CANDIDATES]


def v5_rows():
    # Objectness 0.5 halves every score but the first row's (objectness 1.0): the v5
    # score is objectness × class score.
    rows = []
    for i, (cx, cy, w, h, scores) in enumerate(CANDIDATES):
        obj = 1.0 if i == 0 else 0.5
        rows.append([cx, cy, w, h, obj, *[s if i == 0 else s * 2 for s in scores]])
    return rows


def frame(width: int, height: int) -> np.ndarray:
    return np.zeros((height, width, 3), dtype=np.uint8)


def test_it_reads_the_v8_layout_and_maps_boxes_through_the_letterbox():
    model = constant_model(v8_output(v8_rows(), 3), input_shape=(1, 3, 640, 640), names=NAMES)
    detector = Detector(model)
    assert detector.layout == "v8"
    assert detector.class_names == NAMES
    assert detector.input_size == (640, 640)
    # A 320×160 frame is scaled ×2 to 640×320 and padded by 160 rows above and below.
    found = detector.detect(frame(320, 160), confidence=0.25, iou=0.45)
    assert found.class_id.tolist() == [0, 1]
    np.testing.assert_allclose(found.confidence, [0.90, 0.70], rtol=1e-6)
    np.testing.assert_allclose(found.xyxy[0], [110, 55, 210, 105])
    np.testing.assert_allclose(found.xyxy[1], [110, 57.5, 210, 107.5])


def test_it_reads_the_v5_layout_with_objectness_to_the_same_detections():
    model = constant_model(v5_output(v5_rows(), 3), input_shape=(1, 3, 640, 640), names=NAMES)
    detector = Detector(model)
    assert detector.layout == "v5"
    found = detector.detect(frame(320, 160), confidence=0.25, iou=0.45)
    assert found.class_id.tolist() == [0, 1]
    np.testing.assert_allclose(found.confidence, [0.90, 0.70], rtol=1e-6)
    np.testing.assert_allclose(found.xyxy, [[110, 55, 210, 105], [110, 57.5, 210, 107.5]])


def test_a_tall_frame_is_padded_left_and_right():
    # A 100×400 frame into 640×640: scale 1.6 → 160×640, padded by 240 columns each side.
    model = constant_model(
        v8_output([[320, 320, 160, 64, 0.9]], 1), input_shape=(1, 3, 640, 640), names=["x"]
    )
    found = Detector(model).detect(frame(100, 400))
    np.testing.assert_allclose(found.xyxy, [[0, 180, 100, 220]])


def test_boxes_that_reach_into_the_padding_are_clipped_to_the_frame():
    model = constant_model(
        v8_output([[320, 160, 400, 100, 0.9]], 1), input_shape=(1, 3, 640, 640), names=["x"]
    )
    # 320×160 frame: the box spans y 110..210 in the input, the frame starts at y=160.
    found = Detector(model).detect(frame(320, 160))
    np.testing.assert_allclose(found.xyxy, [[60, 0, 260, 25]])


def test_nms_suppresses_within_a_class_but_not_across_classes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    classes = np.array([0, 0, 1, 0])
    assert detect.nms(boxes, scores, classes, iou=0.5).tolist() == [0, 2, 3]
    # A stricter threshold keeps nothing that overlaps; a loose one keeps everything.
    assert detect.nms(boxes, scores, classes, iou=0.99).tolist() == [0, 1, 2, 3]


def test_confidence_filtering_uses_the_threshold_given():
    model = constant_model(v8_output(v8_rows(), 3), input_shape=(1, 3, 640, 640), names=NAMES)
    detector = Detector(model, confidence=0.1, iou=0.45)
    assert detector.detect(frame(640, 640)).class_id.tolist() == [0, 1, 2]
    assert detector.detect(frame(640, 640), confidence=0.75).class_id.tolist() == [0]


def test_the_layout_is_told_from_the_shape_without_class_names():
    assert detect.detect_layout([1, 6, 8400], num_classes=None) == ("v8", 2)
    assert detect.detect_layout([1, 25200, 85], num_classes=None) == ("v5", 80)
    assert detect.detect_layout([1, 7, 3], num_classes=3) == ("v8", 3)
    assert detect.detect_layout([1, 3, 8], num_classes=3) == ("v5", 3)


def test_it_refuses_an_output_that_fits_no_layout():
    with pytest.raises(ModelError) as err:
        detect.detect_layout([1, 10, 10, 10], num_classes=None)
    assert err.value.code == "model_layout_unknown"
    with pytest.raises(ModelError) as err:
        detect.detect_layout([1, 9, 8400], num_classes=3)
    assert err.value.code == "model_class_count_mismatch"


def test_class_names_come_from_a_labels_file_when_the_model_has_none(tmp_path):
    model = constant_model(v8_output(v8_rows(), 3), input_shape=(1, 3, 640, 640))
    with pytest.raises(ModelError) as err:
        Detector(model)
    assert err.value.code == "model_no_class_names"
    labels = tmp_path / "labels.txt"
    labels.write_text("cocacola\njuice\n\nhand\n")
    assert Detector(model, labels_file=labels).class_names == NAMES


def test_ultralytics_names_metadata_is_read():
    assert detect.class_names_from_metadata({"names": "{0: 'Normal', 1: 'Fall'}"}) == [
        "Normal",
        "Fall",
    ]
    assert detect.class_names_from_metadata({"names": '["a", "b"]'}) == ["a", "b"]
    assert detect.class_names_from_metadata({}) is None


def test_a_model_with_a_dynamic_input_uses_the_size_given():
    model = constant_model(
        v8_output([[160, 160, 32, 32, 0.9]], 1),
        input_shape=(1, 3, "height", "width"),
        names=["x"],
    )
    detector = Detector(model, input_size=320)
    assert detector.input_size == (320, 320)
    found = detector.detect(frame(320, 320))
    np.testing.assert_allclose(found.xyxy, [[144, 144, 176, 176]])


def test_it_refuses_bytes_that_are_not_a_model():
    with pytest.raises(ModelError) as err:
        Detector(b"this is not an onnx file")
    assert err.value.code == "model_unloadable"


def test_warm_up_runs_the_model():
    model = constant_model(v8_output(v8_rows(), 3), input_shape=(1, 3, 640, 640), names=NAMES)
    detector = Detector(model, intra_op_threads=2)
    detector.warm_up(runs=2)
    assert len(detector.detect(frame(64, 64))) == 2


def test_detections_are_validated_on_construction():
    with pytest.raises(ValueError, match="one row per detection"):
        Detections(np.zeros((2, 4)), np.zeros(1), np.zeros(2))
    with pytest.raises(ValueError, match="x2 >= x1"):
        Detections(np.array([[10, 0, 5, 5]]), np.ones(1), np.zeros(1))
    with pytest.raises(ValueError, match="finite"):
        Detections(np.array([[0, 0, np.nan, 5]]), np.ones(1), np.zeros(1))
    assert len(Detections.empty()) == 0


def test_detections_round_trip_through_records():
    found = Detections(np.array([[1, 2, 3, 4]]), np.array([0.5]), np.array([1]))
    records = found.to_records(["a", "b"])
    assert records == [{"label": "b", "class_id": 1, "confidence": 0.5, "box": [1, 2, 3, 4]}]
    again = Detections.from_records(records)
    np.testing.assert_array_equal(again.xyxy, found.xyxy)
    assert again.class_id.tolist() == [1]


def test_the_command_prints_detections_and_saves_annotated_images(tmp_path, capsys):
    import cv2

    model_path = tmp_path / "m.onnx"
    model_path.write_bytes(
        constant_model(v8_output(v8_rows(), 3), input_shape=(1, 3, 640, 640), names=NAMES)
    )
    image = tmp_path / "shelf.jpg"
    cv2.imwrite(str(image), np.full((160, 320, 3), 200, np.uint8))
    out = tmp_path / "out"
    assert detect.main([str(model_path), str(image), "--save-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 detection(s)" in printed
    assert "cocacola" in printed and "juice" in printed
    saved = cv2.imread(str(out / "shelf.jpg"))
    assert saved.shape == (160, 320, 3)
    assert (saved != 200).any()  # boxes were drawn


def test_the_command_reports_an_unreadable_image(tmp_path, capsys):
    model_path = tmp_path / "m.onnx"
    model_path.write_bytes(constant_model(v8_output(v8_rows(), 3), names=NAMES))
    assert detect.main([str(model_path), str(tmp_path / "missing.jpg")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_nms_stops_at_the_detection_cap():
    # 50 boxes side by side that overlap nothing: the cap bounds the work and the output.
    boxes = np.array([[i * 20, 0, i * 20 + 10, 10] for i in range(50)], float)
    scores = np.linspace(0.9, 0.5, 50)
    keep = detect.nms(boxes, scores, np.zeros(50, int), iou=0.5, max_detections=7)
    assert keep.tolist() == list(range(7))
