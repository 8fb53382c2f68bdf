"""The three writers of `mlbot eval essay` (LSTM, Kneser-Ney 5, human paragraphs) on the 20
fixed topics, with a chosen number of corpus passages in the proposers' caches -> JSON.

    python bench/essay_writers.py [--passages N] [--topics K] [--out FILE]

`--passages 0` measures the writers without retrieval priming (the ablation the README quotes).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.digits import machine  # noqa: E402
from ml.essay.evaluate_writers import TOPICS, evaluate_writers  # noqa: E402
from ml.home import ModelHome  # noqa: E402
from ml.runtime import cap_torch_threads  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=3)
    parser.add_argument("--topics", type=int, default=len(TOPICS))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    threads = cap_torch_threads()
    result = {"benchmark": "essay_writers", "machine": machine(), "torch_threads": threads,
              **evaluate_writers(ModelHome(), topics=TOPICS[: args.topics], passages=args.passages)}
    text = json.dumps(result, indent=2)
    out = Path(args.out) if args.out else Path(__file__).parent / "results" / f"essay_writers_p{args.passages}.json"
    out.write_text(text + "\n")
    print(json.dumps({k: result[k] for k in ("writers", "goals") if k in result}, indent=2))


if __name__ == "__main__":
    main()
