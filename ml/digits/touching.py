"""Splitting a mark that may be several touching digits ("2026" written in one sweep).

A digit is rarely much wider than it is tall, so a wide mark is probably several digits
whose strokes touch. Where to cut is uncertain, so the mark offers candidate cut columns
(where little ink crosses the column) and every piece between two of them that is as wide
as a digit can be; the model reads every piece, and `best_path` keeps the sequence of
pieces from the left edge to the right edge that the model reads most confidently.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

SPLIT_ASPECT = 0.8     # width / height above which a mark may hold several digits (single
                        # rendered MNIST digits reach 1.34 at the 99th percentile, 1.53 at most)
WHOLE_ASPECT = 1.6      # up to this a single wide digit (a 0, a long-armed 7) stays possible
MIN_WIDTH = 0.18        # a piece narrower than this (x height) is not a digit, even a 1
MAX_WIDTH = 1.25        # nor one wider than this
CUT_STEP = 0.12         # cuts start every this many heights along a wide mark
BAND = 0.25             # and may drift this many heights either way
# Each piece's reading adds log(confidence) + PIECE_BONUS. A bonus would favour more, narrower
# pieces; on touching numbers it helped less than it cost single wide digits (0 kept).
PIECE_BONUS = 0.0
# Reading the mark whole adds WHOLE_BONUS: 3.5% of single rendered MNIST test digits are wide
# enough to be cut, and a cut single digit is a wrong answer. On rendered touching numbers
# this costs 47% -> 38%; the README says so.
WHOLE_BONUS = 0.35

Piece = tuple[np.ndarray, int, int]   # the piece's mask, its first and last+1 column in the mark


def cut_columns(mask: np.ndarray) -> list[int]:
    """Where cuts may start: the mark's edges and evenly spaced columns between them."""
    height, width = mask.shape
    if width <= SPLIT_ASPECT * height:
        return [0, width]
    step = CUT_STEP * height
    inner = np.arange(MIN_WIDTH * height, width - MIN_WIDTH * height + 1e-6, step)
    return [0, *sorted({int(round(x)) for x in inner}), width]


def seams(mask: np.ndarray, cuts: list[int]) -> np.ndarray:
    """(len(cuts), height): for each cut, the column it passes in every row.

    Touching digits overlap, so no straight column separates them; each inner cut is a
    path from top to bottom that drifts at most a pixel a row, within a band around its
    column, crossing as little ink as it can (dynamic programming, all cuts at once)."""
    height, width = mask.shape
    paths = np.zeros((len(cuts), height), dtype=np.int64)
    paths[0], paths[-1] = 0, width
    inner = cuts[1:-1]
    if not inner:
        return paths
    half = max(2, int(BAND * height))
    offsets = np.arange(-half, half + 1)
    columns = np.clip(np.asarray(inner)[:, None] + offsets[None, :], 0, width - 1)  # (cuts, band)
    # Ink costs 1; leaving the starting column costs a little, so clean gaps are cut straight.
    cost = mask[:, columns].astype(np.float32).transpose(1, 0, 2) + 0.02 * np.abs(offsets) / half
    total = cost[:, 0].copy()
    step = np.zeros((len(inner), height, len(offsets)), dtype=np.int8)
    for row in range(1, height):
        left = np.concatenate([np.full((len(inner), 1), np.inf, np.float32), total[:, :-1]], axis=1)
        right = np.concatenate([total[:, 1:], np.full((len(inner), 1), np.inf, np.float32)], axis=1)
        stacked = np.stack([left + 0.01, total, right + 0.01])
        choice = stacked.argmin(axis=0)
        step[:, row] = choice - 1
        total = stacked.min(axis=0) + cost[:, row]
    position = total.argmin(axis=1)
    lanes = np.arange(len(inner))
    for row in range(height - 1, -1, -1):
        paths[1:-1, row] = columns[lanes, position]
        position = position + step[lanes, row, position]
    return paths


def pieces(mask: np.ndarray, cuts: list[int]) -> dict[tuple[int, int], Piece]:
    """Every piece between two cuts that could be one digit, by (first, last) cut index."""
    height, width = mask.shape
    paths = seams(mask, cuts)
    xs = np.arange(width)[None, :]
    found = {}
    for i in range(len(cuts) - 1):
        for j in range(i + 1, len(cuts)):
            whole = i == 0 and j == len(cuts) - 1
            span = cuts[j] - cuts[i]
            if span > MAX_WIDTH * height and not (whole and width <= WHOLE_ASPECT * height):
                break
            if span < MIN_WIDTH * height and not whole:
                continue
            start, stop = int(paths[i].min()), int(paths[j].max())
            inside = (xs[:, start:stop] >= paths[i][:, None]) & (xs[:, start:stop] < paths[j][:, None])
            piece = _drop_crumbs(mask[:, start:stop] & inside)
            if piece is None:
                continue
            ys = np.flatnonzero(piece.any(axis=1))
            if ys[-1] - ys[0] + 1 < 0.4 * height:  # a sliver of a neighbour, not a digit
                continue
            found[(i, j)] = (piece, start, stop)
    return found


def _drop_crumbs(piece: np.ndarray) -> np.ndarray | None:
    """Bits of the neighbouring digit left by the cut: far smaller than the piece's own ink."""
    labels, count = ndimage.label(piece, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return None
    if count > 1:
        areas = ndimage.sum_labels(piece, labels, index=np.arange(1, count + 1))
        piece = np.isin(labels, 1 + np.flatnonzero(areas >= 0.1 * areas.max()))
    return piece


def best_path(cut_count: int, scores: dict[tuple[int, int], float], bonus: float = PIECE_BONUS,
              whole_bonus: float = WHOLE_BONUS) -> list[tuple[int, int]]:
    """The pieces from the first cut to the last with the highest total score (dynamic programming).

    scores: (i, j) -> log(confidence) of the model's reading of the piece between cuts i and j."""
    whole = (0, cut_count - 1)
    if whole in scores:
        scores = {**scores, whole: scores[whole] + whole_bonus}
    best = [-np.inf] * cut_count
    back: list[tuple[int, int] | None] = [None] * cut_count
    best[0] = 0.0
    for j in range(1, cut_count):
        for (i, jj), score in scores.items():
            if jj == j and best[i] > -np.inf and best[i] + score + bonus > best[j]:
                best[j] = best[i] + score + bonus
                back[j] = (i, j)
    if back[-1] is None:
        return []
    path, j = [], cut_count - 1
    while j > 0:
        step = back[j]
        path.append(step)
        j = step[0]
    return path[::-1]
