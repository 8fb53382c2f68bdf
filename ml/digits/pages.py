"""Uploads the reader must handle beyond one digit on clean paper, rendered from a seed:

- pages with no digit at all: plain paper, paper texture, a smudge, a shadow, a wall, a
  single pen line (`blank_page`); the reader must answer "no digits", not guess one;
- numbers of 2-5 MNIST test digits written so close that neighbouring strokes touch or
  overlap, on plain, ruled or squared paper (`touching_number`); the reader must split them.

Real photos of these are not available offline; these are stand-ins, and the README says so.
Seeds decide everything: tests and tuning use TUNE_SEEDS, `mlbot eval digits` EVAL_SEEDS.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ml.digits.synthetic import INKS, PAPERS

TUNE_SEEDS = range(0, 100_000)
EVAL_SEEDS = range(5_000_000, 5_100_000)

BLANK_KINDS = ("paper", "texture", "smudge", "shadow", "wall", "line")
LINE_COLOURS = [(0.55, 0.70, 0.90), (0.70, 0.70, 0.72), (0.85, 0.55, 0.55), (0.45, 0.60, 0.85)]
WALLS = [(0.93, 0.90, 0.84), (0.80, 0.78, 0.74), (0.88, 0.84, 0.70), (0.75, 0.82, 0.86), (0.72, 0.45, 0.35)]


def _noise(shape: tuple[int, int], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Smooth noise with unit spread: texture at the scale of `sigma` pixels."""
    from scipy import ndimage

    field = ndimage.gaussian_filter(rng.normal(0, 1, shape).astype(np.float32), sigma)
    return field / (field.std() + 1e-6)


def _lighting(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(direction) * xs / width + np.sin(direction) * ys / height
    return 1 - strength * (ramp - ramp.min()) / max(1e-6, float(np.ptp(ramp)))


def _encode(image: np.ndarray, rng: np.random.Generator, blur: float) -> bytes:
    picture = Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8), mode="RGB")
    if blur > 0:
        picture = picture.filter(ImageFilter.GaussianBlur(blur))
    buffer = io.BytesIO()
    if rng.random() < 0.8:
        picture.save(buffer, format="JPEG", quality=int(rng.integers(60, 95)))
    else:
        picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _page_size(rng: np.random.Generator) -> tuple[int, int]:
    """(height, width): from a thumbnail to a ~1.2 MP photo, either orientation."""
    long_side = int(rng.integers(240, 1300))
    short_side = int(long_side * rng.uniform(0.6, 1.0))
    return (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)


def _ruling(shape: tuple[int, int], rng: np.random.Generator, spacing: float, squared: bool) -> np.ndarray:
    """Coverage (0-1) of ruled or squared paper's printed lines, slightly tilted."""
    height, width = shape
    thickness = rng.uniform(0.8, 2.5)
    tilt = np.tan(np.radians(rng.uniform(-3, 3)))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)

    def lines(coordinate: np.ndarray) -> np.ndarray:
        phase = np.mod(coordinate + rng.uniform(0, spacing), spacing)
        distance = np.minimum(phase, spacing - phase)
        return np.clip(thickness / 2 + 0.5 - distance, 0, 1)

    cover = lines(ys + tilt * xs)
    if squared:
        cover = np.maximum(cover, lines(xs - tilt * ys))
    return cover * rng.uniform(0.35, 0.8)


def _paper(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    colour = np.array(PAPERS[rng.integers(len(PAPERS))], np.float32)
    return np.broadcast_to(colour, (*shape, 3)).copy()


def _finish(image: np.ndarray, rng: np.random.Generator, light: float = 0.35) -> bytes:
    image = image * _lighting(image.shape[:2], rng, rng.uniform(0, light))[..., None]
    grain = rng.normal(0, rng.uniform(0.004, 0.03), (*image.shape[:2], 1)).astype(np.float32)
    return _encode(image + grain, rng, float(rng.uniform(0, 1.2)))


def blank_page(rng: np.random.Generator, kind: str | None = None) -> bytes:
    """An encoded image with no digit on it. kind: one of BLANK_KINDS, or None for any."""
    kind = kind or BLANK_KINDS[rng.integers(len(BLANK_KINDS))]
    shape = _page_size(rng)
    height, width = shape
    image = _paper(shape, rng)
    if kind in ("texture", "smudge", "shadow", "line") and rng.random() < 0.5:
        fibres = _noise(shape, rng, rng.uniform(0.7, 3.0)) * rng.uniform(0.01, 0.05)
        image = image * (1 + fibres[..., None])
    if kind == "texture":
        for sigma in (rng.uniform(0.6, 1.5), rng.uniform(2, 6), rng.uniform(10, 40)):
            image = image * (1 + rng.uniform(0.01, 0.06) * _noise(shape, rng, sigma)[..., None])
    elif kind == "smudge":
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        for _ in range(int(rng.integers(1, 4))):
            cy, cx = rng.uniform(0.15, 0.85) * height, rng.uniform(0.15, 0.85) * width
            ry, rx = rng.uniform(0.03, 0.2, 2) * min(shape)
            angle = rng.uniform(0, np.pi)
            u = ((xs - cx) * np.cos(angle) + (ys - cy) * np.sin(angle)) / rx
            v = (-(xs - cx) * np.sin(angle) + (ys - cy) * np.cos(angle)) / ry
            blob = np.exp(-(u**2 + v**2) / 2) * (1 + 0.3 * _noise(shape, rng, max(2.0, min(rx, ry) / 3)))
            image = image * (1 - rng.uniform(0.1, 0.45) * np.clip(blob, 0, 1.3)[..., None])
    elif kind == "shadow":
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        offset = rng.uniform(0.2, 0.8)
        side = np.cos(angle) * xs / width + np.sin(angle) * ys / height
        edge = side - (side.min() + offset * np.ptp(side))
        softness = rng.uniform(0.002, 0.08)
        shade = 1 / (1 + np.exp(-np.clip(edge / softness, -30, 30)))
        image = image * (1 - rng.uniform(0.15, 0.55) * shade)[..., None]
    elif kind == "wall":
        image = np.broadcast_to(np.array(WALLS[rng.integers(len(WALLS))], np.float32), (*shape, 3)).copy()
        for sigma in (rng.uniform(0.6, 2), rng.uniform(3, 10), rng.uniform(15, 60)):
            image = image * (1 + rng.uniform(0.02, 0.1) * _noise(shape, rng, sigma)[..., None])
        if rng.random() < 0.4:  # bricks or tiles: a grid of mortar joints
            course = rng.uniform(0.08, 0.3) * height
            brick = course * rng.uniform(1.5, 3.5)
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            row = np.floor(ys / course)
            joint_y = np.mod(ys, course) < rng.uniform(2, 6)
            joint_x = np.mod(xs + (row % 2) * brick / 2, brick) < rng.uniform(2, 6)
            mortar = rng.uniform(0.6, 1.3)
            image = np.where((joint_y | joint_x)[..., None], image * mortar, image)
    elif kind == "line":
        alpha = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(alpha)
        pen = max(1, int(rng.uniform(0.004, 0.015) * max(shape)))
        cy, cx = rng.uniform(0.25, 0.75) * height, rng.uniform(0.25, 0.75) * width
        if rng.random() < 0.6:  # a short stroke, nearer horizontal than a 1 ever is
            angle = np.radians(rng.uniform(-40, 40))
            half = rng.uniform(0.1, 0.35) * width
        else:  # a long rule across most of the page, at any angle
            angle = rng.uniform(0, np.pi)
            half = 0.8 * max(shape)
        dx, dy = half * np.cos(angle), half * np.sin(angle)
        bend = rng.uniform(-0.05, 0.05) * half
        points = [(cx - dx, cy - dy), (cx - bend * np.sin(angle), cy + bend * np.cos(angle)), (cx + dx, cy + dy)]
        draw.line(points, fill=255, width=pen, joint="curve")
        cover = np.asarray(alpha, np.float32)[..., None] / 255
        ink = np.array(INKS[rng.integers(len(INKS))], np.float32)
        image = image * (1 - cover) + ink * cover
    return _finish(image, rng)


def _crop(digit: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(digit > 30)
    return digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _scaled(digit: np.ndarray, height: int) -> np.ndarray:
    img = Image.fromarray(_crop(digit))
    width = max(1, round(img.width * height / img.height))
    return np.asarray(img.resize((width, height), Image.Resampling.BICUBIC), np.float32) / 255


def touching_layers(digits: list[np.ndarray], height: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Digits side by side, each pushed left until its strokes overlap its neighbour's: one
    ink layer per digit on a common canvas, so whose ink is where stays known (training data
    for the reader's "not one digit" class uses that; a page only needs their union)."""
    pieces = [_scaled(d, int(height * rng.uniform(0.85, 1.0))) for d in digits]
    canvas_w = sum(p.shape[1] for p in pieces) + height
    shape = (int(height * 1.1), canvas_w)
    layers = []
    right_edge = np.full(shape[0], -1.0)  # rightmost ink column per row so far
    for index, piece in enumerate(pieces):
        top = int(rng.integers(0, shape[0] - piece.shape[0] + 1))
        rows = np.arange(piece.shape[0]) + top
        inked = piece > 0.3
        has = inked.any(axis=1)
        left_ink = np.where(has, inked.argmax(axis=1), 10**6)
        if index == 0:
            left = 0
        else:
            # Where the piece first meets the ink so far, then a little further: the strokes
            # touch or cross by a few pixels, as in a number written quickly.
            gaps = np.where(has & (right_edge[rows] >= 0), left_ink - right_edge[rows], np.inf)
            overlap = rng.uniform(1, max(2.0, 0.05 * height))
            left = int(max(0, round(-np.min(gaps) - overlap + 1))) if np.isfinite(gaps).any() else int(right_edge.max())
            left = max(left, 0)
        layer = np.zeros(shape, np.float32)
        layer[top : top + piece.shape[0], left : left + piece.shape[1]] = piece
        layers.append(layer)
        right_ink = np.where(has, piece.shape[1] - 1 - inked[:, ::-1].argmax(axis=1) + left, -1)
        right_edge[rows] = np.maximum(right_edge[rows], right_ink)
    used = np.nonzero(np.max(layers, axis=0).max(axis=0) > 0)[0]
    return [layer[:, : used.max() + 1] for layer in layers]


def ink_alpha(layer: np.ndarray) -> np.ndarray:
    """A scaled digit's grey levels as pen ink: faint edges dropped, the rest darkened."""
    return np.clip((layer - 0.15) * 1.4, 0, 1)


def _touching_strip(digits: list[np.ndarray], height: int, rng: np.random.Generator) -> np.ndarray:
    return ink_alpha(np.max(touching_layers(digits, height, rng), axis=0))


def touching_number(digits: list[np.ndarray], rng: np.random.Generator, paper: str | None = None) -> bytes:
    """digits: MNIST 28x28 uint8 images. paper: "plain", "ruled", "squared", or None for any."""
    paper = paper or ("plain", "ruled", "squared")[rng.integers(3)]
    height = int(rng.integers(50, 200))
    alpha = _touching_strip(digits, height, rng)
    margin_y, margin_x = int(height * rng.uniform(0.3, 1.2)), int(height * rng.uniform(0.2, 0.8))
    shape = (alpha.shape[0] + 2 * margin_y, alpha.shape[1] + 2 * margin_x)
    full = np.zeros(shape, np.float32)
    full[margin_y : margin_y + alpha.shape[0], margin_x : margin_x + alpha.shape[1]] = alpha
    full = np.asarray(Image.fromarray(full, mode="F").rotate(float(rng.uniform(-4, 4)), Image.Resampling.BILINEAR))
    image = _paper(shape, rng)
    if paper != "plain":
        spacing = height * rng.uniform(0.3, 0.7)
        cover = _ruling(shape, rng, spacing, squared=paper == "squared")[..., None]
        colour = np.array(LINE_COLOURS[rng.integers(len(LINE_COLOURS))], np.float32)
        image = image * (1 - cover) + colour * cover
    ink = np.array(INKS[rng.integers(len(INKS))], np.float32)
    image = image * (1 - full[..., None]) + ink * full[..., None]
    return _finish(image, rng, light=0.25)


def megapixel_photo(digits: list[np.ndarray], rng: np.random.Generator, shape: tuple[int, int] = (864, 1152)) -> bytes:
    """A ~1 MP phone-style JPEG of MNIST digits written apart on paper: the speed benchmark's input."""
    height = int(rng.integers(150, 350))
    pieces = []
    for digit in digits:
        pieces += [_scaled(digit, height), np.zeros((height, int(height * rng.uniform(0.2, 0.4))), np.float32)]
    alpha = np.clip((np.concatenate(pieces[:-1], axis=1) - 0.15) * 1.4, 0, 1)
    alpha = alpha[:, : shape[1] - 20]
    full = np.zeros(shape, np.float32)
    top = int(rng.integers(10, shape[0] - height - 10))
    left = int(rng.integers(10, shape[1] - alpha.shape[1] - 9))
    full[top : top + height, left : left + alpha.shape[1]] = alpha
    ink = np.array(INKS[rng.integers(len(INKS))], np.float32)
    image = _paper(shape, rng) * (1 - full[..., None]) + ink * full[..., None]
    image = image * _lighting(shape, rng, rng.uniform(0, 0.3))[..., None]
    image = image + rng.normal(0, 0.01, (*shape, 1)).astype(np.float32)
    picture = Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8), mode="RGB")
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=int(rng.integers(80, 95)))
    return buffer.getvalue()
