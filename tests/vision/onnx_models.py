"""Tiny ONNX models built with onnx.helper whose output is a known constant, so decoding,
NMS and box mapping can be checked exactly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def constant_model(
    output: np.ndarray,
    *,
    input_shape: Sequence[int | str] = (1, 3, 64, 64),
    names: Sequence[str] | None = None,
    names_metadata: str | None = None,
) -> bytes:
    """A model that ignores its image input and returns `output` (float32)."""
    value = numpy_helper.from_array(np.asarray(output, dtype=np.float32), name="raw")
    graph = helper.make_graph(
        nodes=[
            helper.make_node("Constant", [], ["raw"], value=value),
            helper.make_node("Identity", ["raw"], ["output0"]),
        ],
        name="constant_yolo",
        inputs=[helper.make_tensor_value_info("images", TensorProto.FLOAT, list(input_shape))],
        outputs=[helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if names is not None:
        names_metadata = repr(dict(enumerate(names)))
    if names_metadata is not None:
        helper.set_model_props(model, {"names": names_metadata})
    onnx.checker.check_model(model)
    return model.SerializeToString()


def v8_output(rows: Sequence[Sequence[float]], num_classes: int) -> np.ndarray:
    """[1, 4 + C, N] from rows (cx, cy, w, h, score_0 .. score_C-1)."""
    arr = np.array(rows, dtype=np.float32).reshape(-1, 4 + num_classes)
    return arr.T[None].copy()


def v5_output(rows: Sequence[Sequence[float]], num_classes: int) -> np.ndarray:
    """[1, N, 5 + C] from rows (cx, cy, w, h, objectness, score_0 .. score_C-1)."""
    return np.array(rows, dtype=np.float32).reshape(1, -1, 5 + num_classes)
