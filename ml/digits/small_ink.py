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

SMALL_HEIGHT = 24          # native pixels; MNIST's digits are 20 high
MAX_SIDE = 640             # larger images are photos: the main path handles them (and fast)
MAX_FACTOR = 40
STRETCH = 0.6              # ink at 60% of the darkest counts as full ink
TOLERANCE = 0.25           # mean error of the rebuilt image, as a share of the mean ink


def _resize(array: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
    return np.asarray(Image.fromarray(array.astype(np.float32), mode="F").resize(size, resample))


def _autocorrelation(profile: np.ndarray, lags: range) -> np.ndarray:
    p = profile - profile.mean()
    return np.array([float((p[:-lag] * p[lag:]).sum()) / (len(p) - lag) if lag < len(p) else 0.0 for lag in lags])


def native_scale(ink: np.ndarray) -> float:
    """The factor the image was scaled up by (1.0 if none). Scaling up by nearest or
    bilinear filtering leaves a kink every `factor` pixels (block edges, interpolation
    knots): the period of the second differences, where it stands out clearly or where
    the image's reduction by it rebuilds the image."""
    height, width = ink.shape
    if ink.max() <= 0 or max(height, width) > MAX_SIDE or min(height, width) < 12:
        return 1.0
    lags = range(2, min(MAX_FACTOR, min(height, width) // 6) + 1)
    if len(lags) == 0:
        return 1.0
    across = np.abs(np.diff(ink, n=2, axis=1)).sum(axis=0)
    down = np.abs(np.diff(ink, n=2, axis=0)).sum(axis=1)
    score = _autocorrelation(across, lags) + _autocorrelation(down, lags)
    if score.max() <= 0:
        return 1.0
    period = lags[int(np.nonzero(score >= 0.8 * score.max())[0][0])]  # the first peak, not a multiple
    small = (max(1, round(width / period)), max(1, round(height / period)))
    # A clear period is enough, except 8 and 16: JPEG's 8x8 blocks have those.
    if period % 8 and score.max() >= 3 * float(np.median(np.abs(score))):
        return width / small[0]
    reduced = _resize(ink, small, Image.Resampling.BOX)
    mean_ink = float(ink.mean())
    for resample in (Image.Resampling.NEAREST, Image.Resampling.BILINEAR):
        if np.abs(_resize(reduced, (width, height), resample) - ink).mean() <= TOLERANCE * mean_ink:
            return width / small[0]
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
    patch = patch[:28, :28] / max(float(patch.max()), 1e-6)
    canvas = np.zeros((28, 28), np.float32)
    cy, cx = ndimage.center_of_mass(patch)
    top = int(np.clip(round(14 - cy), 0, 28 - patch.shape[0]))
    left = int(np.clip(round(14 - cx), 0, 28 - patch.shape[1]))
    canvas[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    return canvas


def small_digits(ink: np.ndarray) -> list[tuple[np.ndarray, tuple[int, int, int, int]]] | None:
    """ink: the background-subtracted ink signal of the whole upload. None unless its ink is
    small; else (28x28 image, box in the upload) for each digit, left to right, split at
    columns without ink."""
    peak = float(ink.max())
    if peak < 0.08:
        return None
    factor = native_scale(ink)
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
