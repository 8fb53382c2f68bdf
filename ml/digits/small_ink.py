"""Digits only a few pixels high (tiny scans, thumbnails, often scaled up afterwards).

Thresholding such a digit and rebuilding it from the binary mask, as the main path does,
turns its grey cells into broken, blocky strokes, often split into several "digits". This
path first undoes any scaling up (finds the coarsest grid that reproduces the image), then,
if the ink is at most SMALL_HEIGHT native pixels high, scales the grey ink itself with a
smooth filter into MNIST's 20x20 box, which is how MNIST's own digits were made.
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

SMALL_HEIGHT = 16          # native pixels; MNIST's digits are 20 high, and those the main path reads well
MAX_SIDE = 640             # larger images are photos: the main path handles them (and fast)
MAX_FACTOR = 40
STRETCH = 0.6              # ink at 60% of the darkest counts as full ink
TOLERANCE = 0.25           # mean error of a rebuilt image, as a share of the mean ink (the
                           # background subtraction is not blocky)


def _resize(array: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
    return np.asarray(Image.fromarray(array.astype(np.float32), mode="F").resize(size, resample))


def _autocorrelation(profile: np.ndarray, lags: range) -> np.ndarray:
    p = profile - profile.mean()
    return np.array([float((p[:-lag] * p[lag:]).sum()) / (len(p) - lag) for lag in lags])


def _rebuilds(ink: np.ndarray, period: int) -> bool:
    """Whether the image is its own cell centres (one pixel in `period`), scaled up."""
    height, width = ink.shape
    cells = _resize(ink, (max(1, round(width / period)), max(1, round(height / period))), Image.Resampling.NEAREST)
    # JPEG's 8x8 blocks look like scaling up by 8 or 16: those need a closer rebuild.
    limit = (TOLERANCE if period % 8 else TOLERANCE / 2.5) * float(ink.mean())
    return any(np.abs(_resize(cells, (width, height), resample) - ink).mean() <= limit
               for resample in (Image.Resampling.NEAREST, Image.Resampling.BILINEAR))


def native_scale(ink: np.ndarray) -> float:
    """The factor the image was scaled up by (1.0 if none). Scaling up by nearest or
    bilinear filtering leaves a change or a kink every `factor` pixels: the likeliest
    periods of the first and second differences are tried, largest first, and one is
    kept if the image's cell centres, scaled up again, rebuild the image."""
    height, width = ink.shape
    if ink.max() <= 0 or max(height, width) > MAX_SIDE or min(height, width) < 12:
        return 1.0
    lags = range(3, min(MAX_FACTOR, min(height, width) // 6) + 1)
    if len(lags) == 0:
        return 1.0
    candidates = set()
    for order in (1, 2):
        score = sum(_autocorrelation(np.abs(np.diff(ink, n=order, axis=axis)).sum(axis=1 - axis), lags)
                    for axis in (0, 1))
        candidates.update(lags[i] for i in np.argsort(score)[::-1][:3])
    for period in sorted(candidates, reverse=True):
        if _rebuilds(ink, period):
            return float(period)
    return 1.0


def small_digit_image(ink: np.ndarray) -> np.ndarray:
    """Grey ink of one digit at native resolution -> 28x28 as MNIST: smooth (bicubic)
    scaling of the longer side to 20, centred by mass."""
    # Stretched so that a cell half covered by a stroke is about full ink, as MNIST's
    # strokes are; the scan's lightest cells stay faint.
    ink = np.clip(ink / max(STRETCH * float(ink.max()), 1e-6), 0, 1)
    ys, xs = np.nonzero(ink > 0.1)
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    height, width = crop.shape
    scale = 20.0 / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Pad by a pixel so bicubic filtering does not clip the ink at the crop's edges.
    padded = np.pad(crop, 1)
    patch = _resize(padded, (size[0] + 2 * max(1, round(scale)), size[1] + 2 * max(1, round(scale))),
                    Image.Resampling.BICUBIC)
    patch = np.clip(patch, 0, None)
    ys, xs = np.nonzero(patch > 0.01 * patch.max())  # the padding did its job: drop it
    patch = patch[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1][:28, :28] / max(float(patch.max()), 1e-6)
    canvas = np.zeros((28, 28), np.float32)
    cy, cx = ndimage.center_of_mass(patch)
    top = int(np.clip(round(14 - cy), 0, 28 - patch.shape[0]))
    left = int(np.clip(round(14 - cx), 0, 28 - patch.shape[1]))
    canvas[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    return canvas


def small_digits(ink: np.ndarray, factor: float | None = None) -> list[tuple[np.ndarray, tuple[int, int, int, int]]] | None:
    """ink: the background-subtracted ink signal of the whole upload. None unless its ink is
    small; else (28x28 image, box in the upload) for each digit, left to right, split at
    columns without ink."""
    peak = float(ink.max())
    if peak < 0.08:
        return None
    factor = native_scale(ink) if factor is None else factor  # the caller may have found it already
    height, width = ink.shape
    native = _resize(ink, (max(1, round(width / factor)), max(1, round(height / factor))), Image.Resampling.BOX)
    inked = native > 0.2 * float(native.max())
    labels, count = ndimage.label(inked, structure=np.ones((3, 3), bool))
    if count == 0:
        return None
    areas = ndimage.sum_labels(inked, labels, np.arange(1, count + 1))
    inked = np.isin(labels, 1 + np.nonzero(areas >= 0.1 * areas.max())[0])  # specks are not digits
    rows = np.nonzero(inked.any(axis=1))[0]
    if rows[-1] - rows[0] + 1 > SMALL_HEIGHT:
        return None
    columns = inked.any(axis=0)
    digits = []
    x = 0
    while x < len(columns):
        if not columns[x]:
            x += 1
            continue
        start = x
        while x < len(columns) and columns[x]:
            x += 1
        # The stroke and the grey just around it: part of how the digit was scanned.
        near = ndimage.binary_dilation(inked[:, start:x])
        piece = np.where(near, native[:, start:x], 0)
        ys = np.nonzero(inked[:, start:x].any(axis=1))[0]
        box = (int(start * factor), int(ys[0] * factor), int(np.ceil(x * factor)), int(np.ceil((ys[-1] + 1) * factor)))
        digits.append((small_digit_image(piece), box))
    return digits or None
