from __future__ import annotations

import numpy as np

from vision.qr import decode_qr, qr_svg, render_qr


def test_codes_are_read_from_a_frame_several_at_once():
    frame = np.full((720, 1280, 3), 180, np.uint8)
    a, b = render_qr("MG1:1:first-code-" + "x" * 30), render_qr("MG1:2:second-code-" + "y" * 30)
    frame[50 : 50 + a.shape[0], 50 : 50 + a.shape[1]] = a
    frame[300 : 300 + b.shape[0], 700 : 700 + b.shape[1]] = b
    assert sorted(decode_qr(frame)) == sorted(
        ["MG1:1:first-code-" + "x" * 30, "MG1:2:second-code-" + "y" * 30]
    )


def test_a_frame_without_a_code_reads_nothing():
    noise = np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    assert decode_qr(noise) == []


def test_the_svg_is_an_inline_svg_element():
    svg = qr_svg("MG1:1:abc")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
