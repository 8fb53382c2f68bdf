"""What judging only close calls costs -> JSON: essays written with SmolLM2 reading the shortlist
of EVERY sentence (3 candidates, as before close calls), then, per sentence: the first-pass lead
(score with the LSTM's own fluency, best minus second), whether SmolLM2's opinion changed which
candidate was kept, and from which first-pass rank the kept one came. For each margin: the
share of sentences SmolLM2 would not be asked about, and the changes that would be lost.

    python bench/essay_close_calls.py [--words 300] [--out FILE]   (needs essay and friend models in MLBOT_HOME)
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.digits import machine  # noqa: E402
from ml.essay.generate import EssayWriter  # noqa: E402
from ml.essay.judge import CLOSE_CALL_MARGIN  # noqa: E402
from ml.essay.request import EssayRequest  # noqa: E402
from ml.essay.store import load_published  # noqa: E402
from ml.home import ModelHome  # noqa: E402
from ml.runtime import cap_torch_threads  # noqa: E402

TOPICS = ["the future of farming", "why public libraries still matter", "what friendship teaches us",
          "the joy of cycling"]
MARGINS = [0.05, 0.1, 0.15, 0.2, 0.3]


def sentence_rows(judgements: list[dict]) -> list[dict]:
    """(lead, changed, rank of the kept) for each sentence whose shortlist SmolLM2 read."""
    rows = []
    for judgement in judgements:
        shortlist = sorted((s for s in judgement["scores"] if s["shortlisted"]), key=lambda s: -s["first_score"])
        if len(shortlist) < 2:
            continue
        ranks = [s["index"] for s in shortlist]
        rows.append({"lead": shortlist[0]["first_score"] - shortlist[1]["first_score"],
                     "changed": judgement["kept"] != ranks[0], "kept_rank": ranks.index(judgement["kept"]) + 1})
    return rows


def summarise(rows: list[dict]) -> dict:
    n = len(rows)
    return {
        "sentences": n,
        "changed_by_smollm2": sum(r["changed"] for r in rows),
        "kept_from_rank": {str(k): sum(r["kept_rank"] == k for r in rows) for k in (1, 2, 3)},
        "largest_lead_changed": round(max((r["lead"] for r in rows if r["changed"]), default=0.0), 4),
        "by_margin": [{"margin": m, "not_asked_share": round(sum(r["lead"] > m for r in rows) / max(1, n), 3),
                       "changes_lost": sum(r["lead"] > m and r["changed"] for r in rows)} for m in MARGINS],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "essay_close_calls.json")
    args = parser.parse_args()
    threads = cap_torch_threads()
    home = ModelHome()
    writer = EssayWriter(load_published(home), home)
    if writer.judges.fluency() is None:
        sys.exit("the friend model (SmolLM2) is not built: `mlbot train friend`")
    writer.close_call_margin = math.inf  # SmolLM2 reads every sentence's shortlist
    rows = []
    for seed, topic in enumerate(TOPICS):
        essay = writer.write(EssayRequest(topic, words=args.words, seed=seed, shortlist=3))
        rows += sentence_rows(essay.judgements)
    result = {"benchmark": "essay_close_calls", "machine": machine(), "torch_threads": threads,
              "model_version": writer.published.version, "words": args.words, "topics": TOPICS,
              "margin_in_use": CLOSE_CALL_MARGIN, **summarise(rows)}
    text = json.dumps(result, indent=2)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
