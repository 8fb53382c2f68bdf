"""The other-writers evaluation set: digits not written by MNIST's writers, as uploads.

Two hands: pen-stroke drawings (ml.digits.writers) from EVAL_SEEDS only, which training
never draws from, and printed digits from the machine's fonts (ml.digits.fonts), which
training never sees. Each is rendered two ways:

- "small scan": the digit 8-16 px high on paper, as from a low-resolution scan or a
  thumbnail, then scaled up 6-20x with nearest-neighbour (blocky) or bilinear filtering;
- "tiny scan": the digit in an 8-10 px grid whose cells count the ink of a binarized
  32-40 px drawing (16 grey levels, as the oldest digit scanners stored them), scaled up
  8-32x, blocky or bilinear; ink only a few pixels high;
- "photo": dark ink on tinted, unevenly lit, noisy paper, blurred, JPEG (ml.digits.synthetic).
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ml.digits.fonts import font_digits
from ml.digits.synthetic import INKS, PAPERS, render_photo
from ml.digits.writers import EVAL_SEEDS, pen_digits
from ml.errors import UserFacingError


@dataclass
class Sample:
    data: bytes        # an encoded image, as uploaded
    label: int
    hand: str          # "pen" or "font"
    rendering: str     # "small_scan" or "photo"


def small_scan(ink: np.ndarray, rng: np.random.Generator) -> bytes:
    """ink: (S, S) float, the digit about 70% of S high. Returns PNG or JPEG bytes."""
    digit_height = rng.uniform(8, 16)
    side = max(8, round(digit_height / 0.7 * rng.uniform(1.0, 1.6)))  # a little paper around it
    small = np.asarray(Image.fromarray(ink, mode="F").resize((side, side), Image.Resampling.BOX), np.float32)
    small = np.clip(small / max(small.max(), 1e-6), 0, 1)
    paper = np.array(PAPERS[rng.integers(len(PAPERS))], np.float32)
    pen = np.array(INKS[rng.integers(len(INKS))], np.float32)
    rgb = paper * (1 - small[..., None]) + pen * small[..., None]
    rgb = np.clip(rgb + rng.normal(0, 0.02, rgb.shape), 0, 1)
    picture = Image.fromarray((rgb * 255).round().astype(np.uint8), mode="RGB")
    zoom = int(rng.integers(6, 21))
    nearest = rng.random() < 0.5
    picture = picture.resize((side * zoom, side * zoom),
                             Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    if rng.random() < 0.5:
        picture.save(buffer, format="JPEG", quality=int(rng.integers(70, 95)))
    else:
        picture.save(buffer, format="PNG")
    return buffer.getvalue()


def tiny_scan(ink: np.ndarray, rng: np.random.Generator) -> bytes:
    grid = int(rng.integers(8, 11))
    ys, xs = np.nonzero(ink > 0.05)
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    fine = grid * 4
    scale = fine / max(crop.shape)  # the digit fills the grid's height (or width), as scanned
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    drawing = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.BILINEAR)) > 0.5
    bitmap = np.zeros((fine, fine), bool)
    top, left = (fine - size[1]) // 2, (fine - size[0]) // 2
    bitmap[top : top + size[1], left : left + size[0]] = drawing
    counts = bitmap.reshape(grid, 4, grid, 4).sum(axis=(1, 3))  # 0..16 per cell
    grey = np.round(255 * (1 - counts / 16)).astype(np.uint8)  # dark ink on white
    picture = Image.fromarray(grey, mode="L")
    zoom = int(rng.integers(8, 33))
    nearest = rng.random() < 0.5
    picture = picture.resize((grid * zoom, grid * zoom),
                             Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def photo(ink: np.ndarray, rng: np.random.Generator) -> bytes:
    return render_photo([(ink * 255).round().astype(np.uint8)], rng)


def build_set(pen_count: int = 400, seed: int = 0, fonts: bool = True) -> list[Sample]:
    """pen_count held-out pen drawings and every font's digits, each rendered both ways."""
    rng = np.random.default_rng(seed)
    images, labels = pen_digits(pen_count, EVAL_SEEDS)
    hands = [("pen", images, labels)]
    if fonts:
        font_images, font_labels, _ = font_digits()
        hands.append(("font", font_images, font_labels))
    samples = []
    for hand, inks, digits in hands:
        for ink, label in zip(inks, digits):
            samples.append(Sample(small_scan(ink, rng), int(label), hand, "small_scan"))
            samples.append(Sample(tiny_scan(ink, rng), int(label), hand, "tiny_scan"))
            samples.append(Sample(photo(ink, rng), int(label), hand, "photo"))
    return samples


def read_accuracy(reader, samples: list[Sample]) -> dict:
    """Reads each sample with the whole pipeline; right = the single digit read is the label.

    Returns overall accuracy and n, and one entry per hand and rendering."""
    groups: dict[str, list[int]] = {}
    unsure = 0
    for sample in samples:
        try:
            reading = reader.read(sample.data)
            right = reading.digits == str(sample.label)
            unsure += reading.digits is None
        except UserFacingError:
            right = False
        for key in ("all", sample.hand, f"{sample.hand}_{sample.rendering}"):
            groups.setdefault(key, []).append(int(right))
    result = {"accuracy": round(float(np.mean(groups["all"])), 4), "n": len(samples),
              "not_sure": round(unsure / max(1, len(samples)), 4)}
    for key, values in sorted(groups.items()):
        if key != "all":
            result[key] = {"accuracy": round(float(np.mean(values)), 4), "n": len(values)}
    return result


def other_writers_accuracy(reader, pen_count: int = 200, seed: int = 0, fonts: bool = True) -> dict:
    """The figure `mlbot eval digits` reports: the whole set read by `reader`."""
    started = time.perf_counter()
    result = read_accuracy(reader, build_set(pen_count, seed, fonts))
    result["set"] = (f"{pen_count} pen-stroke drawings from evaluation-only seeds"
                     + (" and the digits of every installed font" if fonts else "")
                     + ", each as a small scan, a tiny scan and a photo")
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
