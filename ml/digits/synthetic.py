"""Photo-like renderings of MNIST digits, to measure the whole pipeline end to end.

Real photos are not available offline, so `mlbot eval digits` also reports accuracy on
MNIST test digits drawn as dark ink on tinted, unevenly lit, noisy paper, off-centre on
a larger canvas, blurred and JPEG-compressed. It is a stand-in for real photos, not a
replacement: the README says so next to the figure.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

PAPERS = [(0.96, 0.96, 0.94), (0.98, 0.95, 0.85), (0.99, 0.97, 0.70), (0.90, 0.93, 0.98), (0.85, 0.85, 0.85)]
INKS = [(0.05, 0.05, 0.08), (0.10, 0.15, 0.55), (0.25, 0.25, 0.25), (0.55, 0.08, 0.10)]


def _ink_alpha(digits: list[np.ndarray], height: int, gap: float, rng: np.random.Generator) -> np.ndarray:
    pieces = []
    for digit in digits:
        img = Image.fromarray(digit).crop(Image.fromarray(digit).getbbox() or (0, 0, 28, 28))
        scale = height / img.height
        img = img.resize((max(1, round(img.width * scale)), height), Image.Resampling.BICUBIC)
        pieces.append(np.asarray(img, dtype=np.float32) / 255)
        pieces.append(np.zeros((height, max(2, int(gap * height * rng.uniform(0.6, 1.2)))), np.float32))
    strip = np.concatenate(pieces[:-1], axis=1)
    return np.clip((strip - 0.15) * 1.4, 0, 1)  # firmer edges, as a pen stroke


def render_photo(
    digits: list[np.ndarray], rng: np.random.Generator, *, inverted: bool = False, fmt: str = "JPEG"
) -> bytes:
    """digits: MNIST 28x28 uint8 images (white on black). Returns encoded image bytes."""
    height = int(rng.integers(40, 260))
    alpha = _ink_alpha(digits, height, gap=rng.uniform(0.15, 0.5), rng=rng)
    margin_y = int(height * rng.uniform(0.3, 2.0))
    margin_x = int(height * rng.uniform(0.3, 2.0))
    canvas_h, canvas_w = alpha.shape[0] + 2 * margin_y, alpha.shape[1] + 2 * margin_x
    full = np.zeros((canvas_h, canvas_w), np.float32)
    top = int(rng.integers(0, 2 * margin_y + 1))
    left = int(rng.integers(0, 2 * margin_x + 1))
    full[top : top + alpha.shape[0], left : left + alpha.shape[1]] = alpha
    full = np.asarray(
        Image.fromarray(full, mode="F").rotate(float(rng.uniform(-6, 6)), Image.Resampling.BILINEAR), np.float32
    )

    paper = np.array(PAPERS[rng.integers(len(PAPERS))], np.float32)
    ink = np.array(INKS[rng.integers(len(INKS))], np.float32)
    if inverted:
        paper, ink = 1 - paper * 0.9, 1 - ink
    image = paper * (1 - full[..., None]) + ink * full[..., None]

    ys, xs = np.mgrid[0:canvas_h, 0:canvas_w].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(direction) * xs / canvas_w + np.sin(direction) * ys / canvas_h)
    lighting = 1 - rng.uniform(0, 0.35) * (ramp - ramp.min()) / max(1e-6, np.ptp(ramp))
    image = image * lighting[..., None]
    grain = rng.normal(0, rng.uniform(0.005, 0.03), (canvas_h, canvas_w, 1)).astype(np.float32)
    image = np.clip(image + grain, 0, 1)

    picture = Image.fromarray((image * 255).round().astype(np.uint8), mode="RGB")
    picture = picture.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.2))))
    buffer = io.BytesIO()
    if fmt == "JPEG":
        picture.save(buffer, format="JPEG", quality=int(rng.integers(60, 95)))
    else:
        picture.save(buffer, format=fmt)
    return buffer.getvalue()
