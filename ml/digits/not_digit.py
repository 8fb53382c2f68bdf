"""Training images for the reader's eleventh class: "this piece is not one digit".

Touching digits are split by trying cuts and keeping the pieces the model reads most surely
(ml/digits/touching.py). A model that knows only ten digits reads every piece as some digit,
often surely: two touching digits taken whole ("44" as a 4) or half a digit (an 8's left
side as a 3). So the model is also shown such pieces, labelled NOT_DIGIT: numbers of touching
MNIST training digits are rendered one ink layer per digit, cut exactly as the reader cuts
them, and every piece that holds neither one whole digit nor nearly nothing of one becomes
an example. Whose ink each piece holds is known from the layers.
"""
from __future__ import annotations

import numpy as np

from ml.digits.pages import ink_alpha, touching_layers
from ml.digits.preprocess import normalize_digit
from ml.digits.touching import cut_columns, pieces

NOT_DIGIT = 10          # the class index after the ten digits
INK = 0.35              # ink above this counts as part of a stroke
WHOLE = 0.85            # a piece with this much of one digit's ink, this pure, is that digit
FRAGMENT = 0.6          # below this share of any digit's ink (or purity), a piece is no digit
STRAIGHT = 0.3          # a piece thinner than this (minor / major spread) is one stroke: a 1
                        # looks the same, so such pieces are not taught as "not a digit"


def piece_owner(piece: np.ndarray, layers: list[np.ndarray]) -> tuple[float, float]:
    """The best (coverage, purity) over digits: how much of that digit's ink the piece holds,
    and how much of the piece's ink is that digit's."""
    total = max(int(piece.sum()), 1)
    best = (0.0, 0.0)
    for layer in layers:
        own = int((piece & layer).sum())
        pair = (own / max(int(layer.sum()), 1), own / total)
        if min(pair) > min(best):
            best = pair
    return best


def is_not_digit(coverage: float, purity: float) -> bool:
    return coverage < FRAGMENT or purity < FRAGMENT


def straightness(piece: np.ndarray) -> float:
    """Minor over major spread of the ink: near 0 for one straight stroke."""
    ys, xs = np.nonzero(piece)
    if len(xs) < 3:
        return 0.0
    values = np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(np.float64)))
    return float(np.sqrt(max(values[0], 0) / max(values[1], 1e-9)))


def not_digit_images(digit_images: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, 28, 28) uint8 pieces that are not one digit, from the given MNIST-style digits."""
    found: list[np.ndarray] = []
    while len(found) < count:
        size = int(rng.choice([1, 2, 2, 3, 3]))   # a lone wide digit is cut into fragments too
        chosen = rng.choice(len(digit_images), size=size, replace=False)
        height = int(rng.integers(36, 72))
        layers = [ink_alpha(layer) > INK for layer in touching_layers([digit_images[i] for i in chosen], height, rng)]
        mask = np.any(layers, axis=0)
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            continue
        mask = mask[rows[0] : rows[-1] + 1]
        layers = [layer[rows[0] : rows[-1] + 1] for layer in layers]
        for piece, start, stop in pieces(mask, cut_columns(mask)).values():
            placed = np.zeros_like(mask)
            placed[:, start:stop] = piece
            if is_not_digit(*piece_owner(placed, layers)) and straightness(piece) >= STRAIGHT:
                found.append((normalize_digit(piece) * 255).round().astype(np.uint8))
    order = rng.permutation(len(found))[:count]
    return np.stack([found[i] for i in order])
