"""Interpolated modified Kneser-Ney n-gram model (Chen & Goodman), vectorised with numpy.

The baseline the essay LSTM must beat. It works on any integer token stream, so the same
code measures a character model (bytes) and a model over the LSTM's own subword tokens.

An n-gram is stored as (index of its context in the table one order down) * V + token, so
keys stay within int64 for any order and lookups are binary searches in sorted arrays.
Order k < n uses continuation counts (how many distinct tokens precede the k-gram), which
is what makes Kneser-Ney better than plain back-off for rare contexts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class _Order:
    keys: np.ndarray  # sorted unique k-gram keys
    counts: np.ndarray  # raw counts at the top order, continuation counts below
    denominator: np.ndarray  # per context (index into the order below): sum of counts
    gamma: np.ndarray  # per context: the mass moved to the order below
    discounts: tuple[float, float, float]


def _lookup(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index of each query in the sorted keys, or -1."""
    at = np.searchsorted(keys, queries)
    at = np.minimum(at, len(keys) - 1)
    found = (keys[at] == queries) & (queries >= 0)
    return np.where(found, at, -1)


def _discounts(counts: np.ndarray) -> tuple[float, float, float]:
    n = [int((counts == i).sum()) for i in range(1, 5)]
    if min(n) == 0:
        return 0.5, 1.0, 1.5
    y = n[0] / (n[0] + 2 * n[1])
    d = (1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2])
    return tuple(float(min(max(x, 0.05), i + 1)) for i, x in enumerate(d))


def _discount_of(counts: np.ndarray, discounts: tuple[float, float, float]) -> np.ndarray:
    d1, d2, d3 = discounts
    return np.where(counts == 0, 0.0, np.where(counts == 1, d1, np.where(counts == 2, d2, d3)))


class KneserNey:
    def __init__(self, vocab_size: int, order: int):
        if order < 1:
            raise ValueError("order must be at least 1")
        self.vocab_size = vocab_size
        self.order = order
        self.orders: list[_Order] = []

    def fit(self, stream: np.ndarray) -> "KneserNey":
        V, seq = self.vocab_size, np.asarray(stream, dtype=np.int64)
        ids = [seq.copy()]  # ids[k-1][t]: index of the k-gram ending at t in order k's table
        tables = [np.arange(V, dtype=np.int64)]
        first_positions = [None]
        for k in range(2, self.order + 1):
            previous = ids[-1]
            keys = np.full(len(seq), -1, dtype=np.int64)
            valid = np.zeros(len(seq), dtype=bool)
            valid[1:] = previous[:-1] >= 0
            keys[valid] = previous[np.flatnonzero(valid) - 1] * V + seq[valid]
            table, first, inverse = np.unique(keys[valid], return_index=True, return_inverse=True)
            current = np.full(len(seq), -1, dtype=np.int64)
            current[valid] = inverse
            ids.append(current)
            tables.append(table)
            first_positions.append(np.flatnonzero(valid)[first])
        self.orders = []
        for k in range(1, self.order + 1):
            table = tables[k - 1]
            if k == self.order:
                counts = np.bincount(ids[k - 1][ids[k - 1] >= 0], minlength=len(table))
            else:  # continuation counts: distinct (k+1)-grams whose last k tokens are this k-gram
                suffix = ids[k - 1][first_positions[k]]
                counts = np.bincount(suffix[suffix >= 0], minlength=len(table))
            discounts = _discounts(counts)
            contexts = np.zeros(len(table), dtype=np.int64) if k == 1 else table // V
            n_contexts = 1 if k == 1 else len(tables[k - 2])
            denominator = np.bincount(contexts, weights=counts, minlength=n_contexts)
            moved = np.bincount(contexts, weights=_discount_of(counts, discounts), minlength=n_contexts)
            with np.errstate(divide="ignore", invalid="ignore"):
                gamma = np.where(denominator > 0, moved / denominator, 0.0)
            self.orders.append(_Order(table, counts.astype(np.float64), denominator, gamma, discounts))
        return self

    def log_probabilities(self, stream: np.ndarray) -> np.ndarray:
        """Natural-log probability of each token given the ones before it in the stream."""
        V, seq = self.vocab_size, np.asarray(stream, dtype=np.int64)
        inside = (seq >= 0) & (seq < V)
        first = self.orders[0]
        counts = np.where(inside, first.counts[np.clip(seq, 0, V - 1)], 0.0)
        p = (np.maximum(counts - _discount_of(counts, first.discounts), 0) + first.gamma[0] / V * first.denominator[0])
        p = p / first.denominator[0] if first.denominator[0] > 0 else np.full(len(seq), 1.0 / V)
        ids = np.where(inside, seq, -1)
        for k in range(2, self.order + 1):
            level = self.orders[k - 1]
            context = np.full(len(seq), -1, dtype=np.int64)
            context[1:] = ids[:-1]
            keys = np.where(context >= 0, context * V + seq, -1)
            ids = _lookup(level.keys, keys)
            seen = context >= 0
            seen[seen] = level.denominator[context[seen]] > 0
            counts = np.where(ids >= 0, level.counts[np.maximum(ids, 0)], 0.0)
            c = counts[seen]
            ctx = context[seen]
            p_here = np.maximum(c - _discount_of(c, level.discounts), 0) / level.denominator[ctx] + level.gamma[ctx] * p[seen]
            p = p.copy()
            p[seen] = p_here
        return np.log(np.maximum(p, 1e-300))


    def next_distribution(self, context) -> np.ndarray:
        """P(next token) over the whole vocabulary after the given tokens (the last order-1 count)."""
        V = self.vocab_size
        first = self.orders[0]
        if first.denominator[0] > 0:
            p = (np.maximum(first.counts - _discount_of(first.counts, first.discounts), 0)
                 + first.gamma[0] / V * first.denominator[0]) / first.denominator[0]
        else:
            p = np.full(V, 1.0 / V)
        context = [int(t) for t in context][-(self.order - 1):] if self.order > 1 else []
        for k in range(2, self.order + 1):
            if len(context) < k - 1:
                break
            gram = context[-(k - 1):]
            index = gram[0]  # the (k-1)-gram's row in order k-1's table, built up from its first token
            for j in range(1, k - 1):
                index = int(_lookup(self.orders[j].keys, np.array([index * V + gram[j]]))[0]) if index >= 0 else -1
            level = self.orders[k - 1]
            if index < 0 or level.denominator[index] <= 0:
                continue
            lo, hi = np.searchsorted(level.keys, [index * V, index * V + V])
            counts = np.zeros(V)
            counts[level.keys[lo:hi] % V] = level.counts[lo:hi]
            p = np.maximum(counts - _discount_of(counts, level.discounts), 0) / level.denominator[index] \
                + level.gamma[index] * p
        return p


def bits_per_character(log_probs: np.ndarray, characters: int) -> float:
    return float(-log_probs.sum() / math.log(2) / characters)
