"""Digits drawn as random pen strokes: handwriting that is not MNIST's writers.

Each digit has a few stroke skeletons in a unit box (x right, y down), covering the
styles MNIST rarely shows: a crossed 7, a flagged 1 with a base, an open 4, a flat-topped
3, a 5 whose flag is a separate stroke. A drawing jitters the skeleton (per-stroke offsets
and a smooth random warp), slants, rotates and stretches it, picks a pen width, sometimes
lifts the pen mid-stroke, and renders anti-aliased ink (1.0) on black.

Seeds decide everything, so a training set and an evaluation set drawn from disjoint seed
ranges (TRAIN_SEEDS, EVAL_SEEDS) share no drawing.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

# Disjoint seed ranges: training draws from the first, evaluation from the second.
TRAIN_SEEDS = range(0, 1_000_000)
EVAL_SEEDS = range(10_000_000, 11_000_000)

Point = tuple[float, float]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, steps: int = 24) -> list[Point]:
    """Points of an ellipse arc; angles in degrees, y down (90 is the bottom)."""
    angles = np.radians(np.linspace(start, stop, steps))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def _spline(points: list[Point], steps: int = 8) -> list[Point]:
    """Catmull-Rom through the points: smooth curves from a few key points."""
    p = np.array([points[0], *points, points[-1]], dtype=np.float64)
    out = []
    for i in range(1, len(p) - 2):
        for t in np.linspace(0, 1, steps, endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(tuple(0.5 * ((2 * p[i]) + (-p[i - 1] + p[i + 1]) * t
                                    + (2 * p[i - 1] - 5 * p[i] + 4 * p[i + 1] - p[i + 2]) * t2
                                    + (-p[i - 1] + 3 * p[i] - 3 * p[i + 1] + p[i + 2]) * t3)))
    out.append(tuple(p[-2]))
    return out


# STYLES[digit] = list of styles; a style is a list of strokes; a stroke is a polyline.
STYLES: dict[int, list[list[list[Point]]]] = {
    0: [
        [_arc(0.5, 0.5, 0.3, 0.48, -80, 290, 40)],
        [_arc(0.5, 0.5, 0.22, 0.48, -100, 270, 40)],
        [_arc(0.5, 0.5, 0.3, 0.47, -90, 280, 40), [(0.7, 0.1), (0.3, 0.9)]],  # slashed zero
    ],
    1: [
        [[(0.5, 0.02), (0.5, 0.98)]],
        [[(0.34, 0.17), (0.54, 0.02), (0.54, 0.98)]],
        [[(0.34, 0.17), (0.54, 0.02), (0.54, 0.98)], [(0.3, 0.98), (0.78, 0.98)]],
    ],
    2: [
        [_arc(0.5, 0.28, 0.28, 0.26, 190, 390) + [(0.2, 0.98), (0.85, 0.98)]],
        [_arc(0.5, 0.27, 0.27, 0.25, 200, 385) + [(0.24, 0.9), (0.2, 0.8), (0.32, 0.82), (0.36, 0.96), (0.85, 0.96)]],
        [_spline([(0.22, 0.2), (0.5, 0.02), (0.78, 0.22), (0.6, 0.55), (0.2, 0.98)]) + [(0.85, 0.92)]],
    ],
    3: [
        [_arc(0.48, 0.27, 0.27, 0.24, 200, 450) + _arc(0.48, 0.74, 0.3, 0.25, -90, 160)],
        [[(0.22, 0.03), (0.78, 0.03), (0.45, 0.42)] + _arc(0.48, 0.70, 0.3, 0.28, -100, 160)],
    ],
    4: [
        [[(0.66, 0.02), (0.14, 0.68), (0.88, 0.68)], [(0.66, 0.02), (0.66, 0.98)]],
        [[(0.22, 0.02), (0.2, 0.6), (0.86, 0.6)], [(0.68, 0.05), (0.68, 0.98)]],
        [[(0.3, 0.02), (0.16, 0.6), (0.86, 0.62)], [(0.7, 0.3), (0.66, 0.98)]],
    ],
    5: [
        [[(0.78, 0.03), (0.3, 0.03), (0.26, 0.45)] + _arc(0.47, 0.68, 0.3, 0.3, -140, 150)],
        [[(0.3, 0.03), (0.26, 0.45)] + _arc(0.47, 0.68, 0.3, 0.3, -140, 150), [(0.3, 0.03), (0.8, 0.02)]],
    ],
    6: [
        [_spline([(0.72, 0.03), (0.45, 0.16), (0.28, 0.45), (0.25, 0.72)]) + _arc(0.5, 0.72, 0.25, 0.26, 180, -170)],
        [[(0.65, 0.02), (0.28, 0.6)] + _arc(0.5, 0.73, 0.24, 0.25, 210, -150)],
    ],
    7: [
        [[(0.18, 0.04), (0.82, 0.04), (0.4, 0.98)]],
        [[(0.18, 0.04), (0.82, 0.04), (0.4, 0.98)], [(0.36, 0.52), (0.78, 0.5)]],
        [[(0.18, 0.16), (0.2, 0.04), (0.82, 0.04), (0.45, 0.98)]],
        [[(0.18, 0.04), (0.82, 0.04)] + _spline([(0.82, 0.04), (0.6, 0.45), (0.55, 0.98)])[1:]],
    ],
    8: [
        [_arc(0.5, 0.26, 0.22, 0.24, 0, 360), _arc(0.5, 0.74, 0.28, 0.25, -90, 275)],
        [_spline([(0.72, 0.12), (0.5, 0.02), (0.28, 0.14), (0.32, 0.35), (0.5, 0.5), (0.72, 0.66), (0.72, 0.88),
                  (0.5, 0.98), (0.28, 0.88), (0.28, 0.66), (0.5, 0.5), (0.68, 0.35), (0.72, 0.12)])],
    ],
    9: [
        [_arc(0.5, 0.28, 0.27, 0.26, 0, -360) + [(0.76, 0.98)]],
        [_arc(0.5, 0.28, 0.27, 0.26, 10, -350) + _spline([(0.77, 0.3), (0.72, 0.7), (0.4, 0.98)])[1:]],
        [_arc(0.48, 0.3, 0.26, 0.27, 0, -360), [(0.74, 0.1), (0.74, 0.98)]],
    ],
}


def style_count(digit: int) -> int:
    return len(STYLES[digit])


def draw_digit(digit: int, seed: int, side: int = 96, style: int | None = None) -> np.ndarray:
    """One random drawing of `digit`: (side, side) float32, ink 1.0 on black, about 70% high."""
    rng = np.random.default_rng(seed)
    styles = STYLES[digit]
    strokes = styles[int(rng.integers(len(styles)))] if style is None else styles[style]

    width_scale = rng.uniform(0.6, 1.15)
    slant = rng.uniform(-0.15, 0.4)  # people lean right far more often than left
    angle = math.radians(rng.uniform(-8, 8))
    warp_amp = rng.uniform(0.0, 0.05)
    warp = [(rng.uniform(1, 3), rng.uniform(0, 2 * math.pi)) for _ in range(4)]
    pen = rng.uniform(0.05, 0.16)  # stroke width / digit height
    cos, sin = math.cos(angle), math.sin(angle)

    def place(x: float, y: float, offset: np.ndarray) -> Point:
        x = x + offset[0] + warp_amp * math.sin(warp[0][0] * y * math.pi + warp[0][1])
        y = y + offset[1] + warp_amp * math.sin(warp[1][0] * x * math.pi + warp[1][1])
        x = (x - 0.5) * width_scale + slant * (0.5 - y)
        y = y - 0.5
        return cos * x - sin * y, sin * x + cos * y

    drawn = []
    for stroke in strokes:
        offset = rng.normal(0, 0.025, 2)
        drawn.append([place(x, y, offset) for x, y in _densify(stroke)])

    pts = np.array([p for s in drawn for p in s])
    height = pts[:, 1].max() - pts[:, 1].min()
    extent = max(height, pts[:, 0].max() - pts[:, 0].min())
    scale = 0.7 * side / extent
    center = (pts.max(0) + pts.min(0)) / 2
    supersample = 2
    big = side * supersample
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    width = max(1.0, pen * height * scale * supersample)
    for stroke in drawn:
        xy = [((x - center[0]) * scale * supersample + big / 2, (y - center[1]) * scale * supersample + big / 2)
              for x, y in stroke]
        for piece in _lift_pen(xy, rng):
            stroke_width = width * rng.uniform(0.8, 1.2)
            draw.line(piece, fill=255, width=max(1, round(stroke_width)), joint="curve")
            r = stroke_width / 2
            for x, y in (piece[0], piece[-1]):  # round pen tips
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    small = canvas.resize((side, side), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255


def _densify(stroke: list[Point], step: float = 0.04) -> list[Point]:
    """Extra points along straight segments, so the warp bends them too."""
    out = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
        out.extend((x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1))
    return out


def _lift_pen(xy: list[Point], rng: np.random.Generator) -> list[list[Point]]:
    """Usually the whole stroke; sometimes with a small gap (a pen skipping, a faint scan)."""
    if len(xy) < 12 or rng.random() > 0.12:
        return [xy]
    at = int(rng.integers(4, len(xy) - 6))
    gap = int(rng.integers(1, 3))
    return [xy[: at + 1], xy[at + gap :]]


def to_mnist(ink: np.ndarray) -> np.ndarray:
    """A large ink image -> 28x28 float as MNIST: longer side 20 px, centred by mass."""
    ys, xs = np.nonzero(ink > 0.05)
    if len(ys) == 0:
        return np.zeros((28, 28), np.float32)
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    patch = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.BOX), np.float32)
    patch = np.clip(patch / max(patch.max(), 1e-6), 0, 1)
    total = patch.sum()
    cy = (patch.sum(1) * np.arange(patch.shape[0])).sum() / total
    cx = (patch.sum(0) * np.arange(patch.shape[1])).sum() / total
    top = int(np.clip(round(13.5 - cy), 0, 28 - patch.shape[0]))
    left = int(np.clip(round(13.5 - cx), 0, 28 - patch.shape[1]))
    out = np.zeros((28, 28), np.float32)
    out[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    return out


def pen_digits(count: int, seeds: range, side: int = 96) -> tuple[list[np.ndarray], np.ndarray]:
    """`count` drawings with balanced labels, from the first seeds of `seeds`."""
    images, labels = [], []
    for i in range(count):
        digit = i % 10
        images.append(draw_digit(digit, seeds[i], side))
        labels.append(digit)
    return images, np.array(labels, dtype=np.int64)
