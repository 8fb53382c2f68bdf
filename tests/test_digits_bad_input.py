"""Every kind of bad upload gets one clear line, and nothing crashes."""
import io
import zlib
import struct

import numpy as np
import pytest
from PIL import Image

from ml.digits.imageio import MAX_BYTES, decode_image
from ml.digits.preprocess import prepare_page
from ml.errors import InputError
from tests.conftest import png_bytes


def huge_png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims an enormous canvas (a decompression bomb)."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((200, 200, 3), 200, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


BAD_INPUTS = {
    "empty": (b"", "empty"),
    "text": (b"hello, this is not a picture\n" * 20, "not an image"),
    "truncated png": (png_bytes(np.random.default_rng(0).integers(0, 255, (300, 300), dtype=np.uint8))[:3000],
                      "corrupt or truncated"),
    "truncated jpeg": (jpeg_bytes()[:400], "corrupt or truncated"),
    "too large": (b"\x89PNG" + bytes(MAX_BYTES + 1), "MiB"),
    "bomb": (huge_png_header(60_000, 60_000), "pixels"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_gets_one_clear_line(name):
    data, expected = BAD_INPUTS[name]
    with pytest.raises(InputError) as info:
        prepare_page(decode_image(data))
    message = str(info.value)
    assert expected in message and "\n" not in message and len(message) < 200


def test_unsupported_format_is_named():
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(buffer, format="TIFF")
    with pytest.raises(InputError, match="TIFF images are not read"):
        decode_image(buffer.getvalue())


def test_too_many_marks_is_one_line():
    dots = np.full((400, 1200), 250, np.uint8)
    for k in range(20):  # twenty short upright bars, well apart
        dots[150:250, 30 + 58 * k : 42 + 58 * k] = 20
    with pytest.raises(InputError, match="separate marks") as info:
        prepare_page(decode_image(png_bytes(dots)))
    assert "\n" not in str(info.value)
