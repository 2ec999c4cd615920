from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from tests.conftest import FIXTURES
from vision.images import ImageError, decode_rgb, probe

LIMITS = {"max_bytes": 2_000_000, "max_pixels": 4000 * 4000}


def _jpeg(w: int = 64, h: int = 48, **save) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 10, 10)).save(buf, "JPEG", **save)
    return buf.getvalue()


def test_it_decodes_a_jpeg_to_rgb():
    arr = decode_rgb(_jpeg(), **LIMITS)
    assert arr.shape == (48, 64, 3) and arr.dtype == np.uint8
    assert arr[0, 0, 0] > 150


def test_exif_rotation_is_applied():
    img = Image.new("RGB", (64, 32), (0, 0, 0))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    assert decode_rgb(buf.getvalue(), **LIMITS).shape == (64, 32, 3)


def test_rgba_and_greyscale_become_rgb():
    for mode in ("RGBA", "L", "P"):
        buf = io.BytesIO()
        Image.new(mode, (40, 30)).save(buf, "PNG")
        assert decode_rgb(buf.getvalue(), **LIMITS).shape == (30, 40, 3), mode


@pytest.mark.parametrize(
    "data,code",
    [
        (b"", "frame_corrupt"),
        (b"GIF89a" + b"\x00" * 100, "frame_corrupt"),
        (b"\xff\xd8\xff" + b"\x00" * 50, "frame_corrupt"),
    ],
)
def test_garbage_is_refused(data, code):
    with pytest.raises(ImageError) as err:
        decode_rgb(data, **LIMITS)
    assert err.value.code == code


def test_a_truncated_jpeg_is_refused():
    data = _jpeg(640, 480)
    with pytest.raises(ImageError) as err:
        decode_rgb(data[: len(data) // 2], **LIMITS)
    assert err.value.code == "frame_corrupt"


def test_oversized_and_tiny_images_are_refused():
    with pytest.raises(ImageError) as err:
        probe(_jpeg(64, 48), max_bytes=100, max_pixels=10**6)
    assert err.value.code == "frame_too_large"
    with pytest.raises(ImageError) as err:
        probe(_jpeg(400, 400), max_bytes=10**6, max_pixels=100 * 100)
    assert err.value.code == "frame_dimensions"
    with pytest.raises(ImageError) as err:
        probe(_jpeg(8, 8), **LIMITS)
    assert err.value.code == "frame_dimensions"


def test_a_decompression_bomb_is_refused_before_decoding():
    buf = io.BytesIO()
    Image.new("L", (20000, 20000)).save(buf, "PNG")  # tiny file, 400 megapixels
    assert len(buf.getvalue()) < 2_000_000
    with pytest.raises(ImageError) as err:
        decode_rgb(buf.getvalue(), **LIMITS)
    assert err.value.code in ("frame_dimensions", "frame_corrupt")


def test_a_png_is_refused_where_only_jpeg_is_accepted():
    buf = io.BytesIO()
    Image.new("RGB", (40, 30)).save(buf, "PNG")
    with pytest.raises(ImageError) as err:
        probe(buf.getvalue(), formats=("JPEG",), **LIMITS)
    assert err.value.code == "frame_bad_type"


def test_the_vision_package_imports_no_django():
    import subprocess
    import sys

    code = "import sys, vision.images; print('django' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(FIXTURES) + "/..",
    )
    assert out.stdout.strip() == "False"
