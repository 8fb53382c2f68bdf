"""Safe decoding of uploaded images into arrays, with one clear error line for bad files.

Order matters for safety: the byte size is checked before anything is parsed, and the
pixel count is read from the header and capped before a single pixel is decoded.
"""
from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ml.errors import InputError

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 50_000_000          # e.g. 8660 x 5773; phone photos are 12-48 MP
WORKING_SIDE = 1200               # photos are reduced to this long side before analysis
QUICK_SIDE = 256                  # a first look: enough when the digits are not tiny in the photo
ALLOWED_FORMATS = {"PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP"}


@dataclass
class DecodedImage:
    rgb: np.ndarray             # (H, W, 3) float32 in [0, 1]
    alpha: np.ndarray | None    # (H, W) float32 in [0, 1], None when fully opaque
    format: str
    original_size: tuple[int, int]
    reduced: bool = False       # pixels were dropped to reach the requested side: a larger look exists


def check_upload_size(size: int) -> None:
    """Refuse by size alone, so an upload can be refused before it is downloaded."""
    if size == 0:
        raise InputError("the file is empty")
    if size > MAX_BYTES:
        raise InputError(f"the file is {size / 2**20:.1f} MiB; images up to {MAX_BYTES // 2**20} MiB are read")


def decode_image(data: bytes, side: int = WORKING_SIDE) -> DecodedImage:
    """Decode with the long side reduced to about `side` (never below it by more than 2x)."""
    check_upload_size(len(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format or "unknown"
            if fmt not in ALLOWED_FORMATS:
                raise InputError(f"{fmt} images are not read; send PNG, JPEG, WebP, GIF or BMP")
            width, height = original_size = image.size
            if width * height > MAX_PIXELS:
                raise InputError(
                    f"the image is {width}x{height} pixels; at most {MAX_PIXELS // 1_000_000} megapixels are read"
                )
            if fmt == "GIF":
                image.seek(0)
            if fmt in ("JPEG", "MPO"):
                # Let the JPEG decoder scale down while decoding: far faster for photos. It scales by 1/2, 1/4 or 1/8 while keeping at least the requested
                # size in both directions, so ask for the aspect ratio the image has.
                scale = side / max(width, height)
                image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
            image.load()
            image = ImageOps.exif_transpose(image) or image
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        log.info("refused a decompression bomb: %s", exc)
        raise InputError("the image claims too many pixels to be read safely") from exc
    except UnidentifiedImageError as exc:
        raise InputError("the file is not an image (send PNG, JPEG, WebP, GIF or BMP)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        log.info("image decoding failed: %r", exc)
        raise InputError("the image file is corrupt or truncated") from exc
    return _to_arrays(image, fmt, original_size, side)


def _to_arrays(image: Image.Image, fmt: str, original_size: tuple[int, int], side: int) -> DecodedImage:
    reduced = max(image.size) < max(original_size)
    factor = max(image.size) // side
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float32)[::max(1, factor), ::max(1, factor)]
        span = values.max() - values.min()
        gray = (values - values.min()) / span if span > 0 else np.zeros_like(values)
        return DecodedImage(np.repeat(gray[..., None], 3, axis=2), None, fmt, original_size, reduced)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    if factor >= 2:  # an integer box reduction: fast, and each pixel averages whole cells
        image = image.reduce(factor)
        reduced = True
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    alpha = None
    if has_alpha:
        alpha = pixels[..., 3]
        if alpha.min() >= 0.999:
            alpha = None
    return DecodedImage(np.ascontiguousarray(pixels[..., :3]), alpha, fmt, original_size, reduced)
