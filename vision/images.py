"""Safe image decoding for everything that arrives from outside (gate and shelf frames,
selfies, uploads): type, byte size, pixel count and decodability are checked before any
pixel is decoded, so a decompression bomb or a truncated file is refused with a code."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vision.errors import VisionError

ALLOWED_FORMATS = ("JPEG", "PNG")
MIN_SIDE = 16


class ImageError(VisionError):
    """An image refused before (or while) decoding it, with a code."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def probe(
    data: bytes, *, max_bytes: int, max_pixels: int, formats: tuple[str, ...] = ALLOWED_FORMATS
) -> ImageInfo:
    """Read only the header: format and size, without decoding pixels."""
    if not data:
        raise ImageError("frame_corrupt", "the image is empty")
    if len(data) > max_bytes:
        raise ImageError("frame_too_large", f"images are at most {max_bytes} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt, (width, height) = img.format, img.size
    except (
        UnidentifiedImageError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ):
        raise ImageError("frame_corrupt", "the data is not a readable image") from None
    if fmt not in formats:
        raise ImageError("frame_bad_type", f"{fmt} images are not accepted; send {formats}")
    if width < MIN_SIDE or height < MIN_SIDE or width * height > max_pixels:
        raise ImageError(
            "frame_dimensions", f"{width}×{height} is outside {MIN_SIDE}px to {max_pixels} pixels"
        )
    return ImageInfo(format=fmt, width=width, height=height)


def decode_rgb(
    data: bytes, *, max_bytes: int, max_pixels: int, formats: tuple[str, ...] = ALLOWED_FORMATS
) -> np.ndarray:
    """Decode to an RGB uint8 array (H, W, 3), upright per EXIF orientation; RGBA, palette
    and greyscale inputs are converted."""
    probe(data, max_bytes=max_bytes, max_pixels=max_pixels, formats=formats)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            img.load()
            img = ImageOps.exif_transpose(img)
            if img.mode != "RGB":
                if img.mode in ("RGBA", "LA", "P"):
                    img = img.convert("RGBA")
                    background = Image.new("RGB", img.size, (255, 255, 255))
                    background.paste(img, mask=img.split()[-1])
                    img = background
                else:
                    img = img.convert("RGB")
            return np.asarray(img, dtype=np.uint8).copy()
    except ImageError:
        raise
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ):
        raise ImageError("frame_corrupt", "the image data is truncated or corrupt") from None
