"""The reader end to end on pages with no digit and on numbers with touching digits.

Used by `mlbot eval digits` (EVAL_SEEDS) and while tuning (TUNE_SEEDS, MNIST training digits).
"""
from __future__ import annotations

import numpy as np

from ml.digits.data import Mnist
from ml.digits.pages import BLANK_KINDS, EVAL_SEEDS, blank_page, touching_number
from ml.errors import UserFacingError


def blank_pages(reader, count: int, seeds: range = EVAL_SEEDS) -> dict:
    """How often a page with no digit is read as digits (sure or not): the goal is <= 2%."""
    read = 0
    by_kind = {kind: 0 for kind in BLANK_KINDS}
    for index in range(count):
        kind = BLANK_KINDS[index % len(BLANK_KINDS)]
        page = blank_page(np.random.default_rng(seeds[index]), kind)
        try:
            reading = reader.read(page)
        except UserFacingError:
            continue  # an error line is not a digit either
        if not reading.no_digits:
            read += 1
            by_kind[kind] += 1
    return {"read_as_digit": round(read / count, 4), "n": count, "by_kind": by_kind}


def touching_numbers(reader, data: Mnist, count: int, seeds: range = EVAL_SEEDS, test: bool = True) -> dict:
    """Numbers of 2-5 MNIST digits whose strokes touch, a third each on plain, ruled and squared paper."""
    images, labels = (data.test_images, data.test_labels) if test else (data.train_images, data.train_labels)
    right = sure_right = 0
    by_paper = {paper: [0, 0] for paper in ("plain", "ruled", "squared")}
    for index in range(count):
        rng = np.random.default_rng(seeds[index])
        chosen = rng.choice(len(labels), size=int(rng.integers(2, 6)), replace=False)
        paper = ("plain", "ruled", "squared")[index % 3]
        page = touching_number([images[i] for i in chosen], rng, paper)
        try:
            reading = reader.read(page)
        except UserFacingError:
            reading = None
        correct = reading is not None and reading.best_guess == "".join(str(labels[i]) for i in chosen)
        right += correct
        sure_right += correct and reading.digits is not None
        by_paper[paper][0] += correct
        by_paper[paper][1] += 1
    return {
        "accuracy": round(right / count, 4), "sure_and_right": round(sure_right / count, 4), "n": count,
        "by_paper": {paper: round(r / max(1, n), 4) for paper, (r, n) in by_paper.items()},
    }
