from __future__ import annotations

import random
import string

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


def test_it_reads_every_code_of_a_batch_of_random_tokens():
    # Signed entry codes are random text; the classic detector alone missed about one in
    # thirty of them on a plain frame, which would leave that shopper standing at the gate.
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "-_"
    missed = []
    for _ in range(120):
        token = "mg1:" + "".join(rng.choice(alphabet) for _ in range(60))
        frame = np.full((480, 640, 3), 170, np.uint8)
        code = render_qr(token, scale=5)
        frame[40 : 40 + code.shape[0], 180 : 180 + code.shape[1]] = code
        if decode_qr(frame) != [token]:
            missed.append(token)
    assert missed == []
