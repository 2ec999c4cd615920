"""Vision on gate frames: face identification (and QR codes) at the entry and exit gates.

Seam for issue #4: `gate_frame_analyse` runs outside any transaction (slow, no side effects);
`gate_frame_apply` runs under the frame's row lock and writes. Until that issue lands, frames of
this kind are stored, acked and released, and nothing is inferred from them."""

from __future__ import annotations

from typing import Any

import numpy as np

from store.models import Frame


def gate_frame_analyse(*, frame: Frame, rgb: np.ndarray | None) -> dict[str, Any]:
    return {}


def gate_frame_apply(*, frame: Frame, analysis: dict[str, Any]) -> dict[str, Any]:
    return {}
