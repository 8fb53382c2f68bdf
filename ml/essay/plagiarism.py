"""The plagiarism guard: how many words in a row did an essay copy from the corpus?

Words are lower-cased runs of letters, digits and apostrophes, so punctuation and case do
not hide a copy. The corpus is kept as word ids with a suffix array over them; the longest
copied run starting at a word is found by binary search for the essay's words among the
sorted suffixes and comparing with the neighbours there.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
MAX_COPIED_RUN = 12  # the guard resamples text that copies more words in a row than this
_LOOKAHEAD = 64  # runs are measured up to this many words (far above anything allowed)


def words_of(text: str) -> list[str]:
    return WORD.findall(text.lower())


def suffix_array(ids: np.ndarray) -> np.ndarray:
    """Suffix array by prefix doubling: O(n log^2 n) with numpy sorts, seconds for 2M words."""
    n = len(ids)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rank = np.unique(ids, return_inverse=True)[1].astype(np.int64)
    step = 1
    while True:
        second = np.full(n, -1, dtype=np.int64)
        second[: n - step] = rank[step:] if step < n else second[:0]
        order = np.lexsort((second, rank))
        changed = np.empty(n, dtype=bool)
        changed[0] = False
        changed[1:] = (rank[order][1:] != rank[order][:-1]) | (second[order][1:] != second[order][:-1])
        new_rank = np.empty(n, dtype=np.int64)
        new_rank[order] = np.cumsum(changed)
        rank = new_rank
        if rank.max() == n - 1 or step >= n:
            return order
        step *= 2


@dataclass
class CorpusIndex:
    vocabulary: dict[str, int]
    ids: np.ndarray  # the corpus as word ids
    suffixes: np.ndarray  # suffix array over ids

    @classmethod
    def build(cls, texts: Iterable[str]) -> "CorpusIndex":
        vocabulary: dict[str, int] = {}
        ids = []
        for text in texts:
            ids.extend(vocabulary.setdefault(w, len(vocabulary)) for w in words_of(text))
            ids.append(-1)  # a separator no essay word matches: runs never span two documents
        array = np.array(ids, dtype=np.int32)
        return cls(vocabulary, array, suffix_array(array).astype(np.int32))

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        words = np.array(sorted(self.vocabulary, key=self.vocabulary.get), dtype=object)
        np.savez_compressed(buffer, words="\n".join(words).encode(), ids=self.ids, suffixes=self.suffixes)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "CorpusIndex":
        arrays = np.load(io.BytesIO(data))
        words = bytes(arrays["words"]).decode().split("\n")
        return cls({w: i for i, w in enumerate(words)}, arrays["ids"], arrays["suffixes"])

    def encode(self, words: Sequence[str]) -> np.ndarray:
        # -2 for words the corpus never uses: they match nothing (the separator is -1)
        return np.array([self.vocabulary.get(w, -2) for w in words], dtype=np.int32)

    def _common_prefix(self, query: np.ndarray, start: int) -> int:
        candidate = self.ids[start : start + len(query)]
        mismatch = np.flatnonzero(candidate != query[: len(candidate)])
        return int(mismatch[0]) if len(mismatch) else len(candidate)

    def _compare(self, query: np.ndarray, start: int) -> int:
        """-1 if query sorts before the suffix at start, 1 after, 0 if it is its prefix."""
        candidate = self.ids[start : start + len(query)]
        mismatch = np.flatnonzero(candidate != query[: len(candidate)])
        if len(mismatch) == 0:
            return 0 if len(candidate) == len(query) else 1
        i = mismatch[0]
        return -1 if query[i] < candidate[i] else 1

    def longest_match_at(self, query: np.ndarray) -> int:
        """Length of the longest prefix of query found anywhere in the corpus."""
        if len(query) == 0 or query[0] < 0:
            return 0
        low, high = 0, len(self.suffixes)
        while low < high:
            mid = (low + high) // 2
            if self._compare(query, int(self.suffixes[mid])) > 0:
                low = mid + 1
            else:
                high = mid
        best = 0
        for neighbour in (low - 1, low):
            if 0 <= neighbour < len(self.suffixes):
                best = max(best, self._common_prefix(query, int(self.suffixes[neighbour])))
        return best

    def _contains(self, window: tuple[int, ...]) -> bool:
        """Does the corpus hold these word ids in a row? A binary search over the suffix
        array comparing short tuples (each comparison in C, no numpy call per step)."""
        ids, suffixes, n = self.ids, self.suffixes, len(window)
        low, high = 0, len(suffixes)
        while low < high:
            mid = (low + high) // 2
            start = int(suffixes[mid])
            if tuple(ids[start: start + n].tolist()) < window:
                low = mid + 1
            else:
                high = mid
        if low == len(suffixes):
            return False
        start = int(suffixes[low])
        return tuple(ids[start: start + n].tolist()) == window

    def copies_more_than(self, words: Sequence[str], limit: int) -> bool:
        """Is there a run of more than `limit` words in a row that the corpus also has? The
        writer asks this of every candidate: faster than measuring the longest run."""
        query = self.encode(words).tolist()
        for i in range(len(query) - limit):
            window = tuple(query[i: i + limit + 1])
            if min(window) >= 0 and self._contains(window):  # an unknown word (-2) matches nothing
                return True
        return False

    def longest_copied_run(self, words: Sequence[str]) -> int:
        """The most words in a row, anywhere in `words`, that also stand in a row in the corpus."""
        query = self.encode(words)
        best = 0
        for i in range(len(query)):
            if len(query) - i <= best:
                break
            best = max(best, self.longest_match_at(query[i : i + _LOOKAHEAD]))
        return best
