"""Printed digits from the TrueType fonts already on the machine: another hand than MNIST's.

Fonts come from matplotlib's bundled set (installed with mlbot's dependencies: DejaVu,
STIX, Computer Modern) and the system's DejaVu; symbol and maths-italic faces, whose
digits are missing or old-style, are skipped. None of them is used for training.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SKIP = ("STIXSiz", "STIXNonUni", "cmex", "cmsy", "cmmi", "LastResort", "Display")
SYSTEM_DIRS = [Path("/usr/share/fonts/truetype/dejavu")]


def font_paths() -> list[Path]:
    dirs = list(SYSTEM_DIRS)
    spec = importlib.util.find_spec("matplotlib")  # found, not imported: importing it is slow
    if spec and spec.submodule_search_locations:
        dirs.insert(0, Path(next(iter(spec.submodule_search_locations)), "mpl-data", "fonts", "ttf"))
    seen, paths = set(), []
    for folder in dirs:
        for path in sorted(folder.glob("*.ttf")) if folder.is_dir() else []:
            if path.name in seen or any(s in path.name for s in SKIP):
                continue
            seen.add(path.name)
            paths.append(path)
    return paths


def font_digit(path: Path, digit: int, side: int = 96) -> np.ndarray:
    """(side, side) float32, the glyph's ink 1.0 on black, about 70% of the side high."""
    font = ImageFont.truetype(str(path), size=side * 2)
    canvas = Image.new("L", (side * 4, side * 4), 0)
    ImageDraw.Draw(canvas).text((side, side // 2), str(digit), fill=255, font=font)
    box = canvas.getbbox()
    if box is None:
        return np.zeros((side, side), np.float32)
    glyph = canvas.crop(box)
    scale = 0.7 * side / max(glyph.size)
    glyph = glyph.resize((max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))),
                         Image.Resampling.BOX)
    out = Image.new("L", (side, side), 0)
    out.paste(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    return np.asarray(out, np.float32) / 255


def font_digits(side: int = 96) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    images, labels, names = [], [], []
    for path in font_paths():
        for digit in range(10):
            image = font_digit(path, digit, side)
            if image.max() > 0:
                images.append(image)
                labels.append(digit)
                names.append(path.stem)
    return images, np.array(labels, dtype=np.int64), names
