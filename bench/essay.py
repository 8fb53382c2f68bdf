"""Essay writer benchmark -> JSON: time for a 500-word essay with the planner and the judge,
per stage (plan, retrieve, propose, judge), over several topics and seeds; one LSTM step;
which engine judged (llama.cpp or transformers); peak RSS.

    python bench/essay.py [--out FILE]   (needs an essay model in MLBOT_HOME: `mlbot train essay`)
"""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.digits import machine  # noqa: E402
from ml.essay.generate import EssayWriter  # noqa: E402
from ml.essay.request import EssayRequest  # noqa: E402
from ml.essay.store import load_published  # noqa: E402
from ml.home import ModelHome  # noqa: E402
from ml.runtime import cap_torch_threads  # noqa: E402

TOPICS = ["the future of farming", "why public libraries still matter", "what friendship teaches us",
          "the joy of cycling", "learning a musical instrument as an adult"]


def step_milliseconds(model, candidates: int = EssayRequest.candidates, steps: int = 200) -> float:
    """One decoding step for `candidates` sentences side by side, as the writer runs it."""
    import torch

    h, c = model.initial_state(candidates)
    token = torch.zeros(candidates, 1, dtype=torch.long)
    with torch.inference_mode():
        for _ in range(20):
            model(token, (h, c))
        started = time.perf_counter()
        for _ in range(steps):
            model(token, (h, c))
    return (time.perf_counter() - started) / steps * 1000


def main() -> None:
    threads = cap_torch_threads()
    started = time.perf_counter()
    home = ModelHome()
    writer = EssayWriter(load_published(home), home)
    writer.write(EssayRequest("warm up", words=100))
    load_seconds = time.perf_counter() - started
    runs = []
    for seed, topic in enumerate(TOPICS):
        start = time.perf_counter()
        essay = writer.write(EssayRequest(topic, words=500, seed=seed))
        seconds = time.perf_counter() - start
        runs.append({"words_asked": 500, "words": essay.words, "seconds": seconds, "tokens": essay.tokens,
                     **{f"{k}_seconds": v for k, v in essay.stage_seconds.items()},
                     **{f"smollm2_{k}_tokens": v for k, v in essay.smollm2_tokens.items()},
                     "paragraphs": len(essay.paragraphs), "longest_copied_run": essay.longest_copied_run,
                     "on_topic": essay.on_topic, "fluency_judge": essay.fluency_judge,
                     "resampled_sentences": essay.resampled_sentences, "topic_mentions": essay.topic_mentions,
                     "sentences": len(essay.judgements), "close_calls": essay.close_calls})
    result = {
        "benchmark": "essay",
        "machine": machine(),
        "torch_threads": threads,
        "model_version": writer.published.version,
        "load_and_warm_up_seconds": round(load_seconds, 2),
        "candidates": EssayRequest.candidates,
        "shortlist": EssayRequest.shortlist,
        # sentences where SmolLM2 read the shortlist; the others had a clear lead (ml/essay/judge.py)
        "close_call_share": round(sum(r["close_calls"] for r in runs) / max(1, sum(r["sentences"] for r in runs)), 3),
        "step_ms_all_candidates": {"float32": round(step_milliseconds(writer.published.model), 2),
                                   "int8": round(step_milliseconds(writer.published.generation_model), 2)},
        "essay_500_words_seconds": {"p50": round(float(np.median([r["seconds"] for r in runs])), 2),
                                    "max": round(max(r["seconds"] for r in runs), 2)},
        "fluency_judge": writer.judges.fluency().name if writer.judges.fluency() else "lstm",
        "stage_seconds_p50": {stage: round(float(np.median([r[f"{stage}_seconds"] for r in runs])), 2)
                              for stage in ("plan", "retrieve", "propose", "judge")},
        "smollm2_tokens_p50": {stage: int(np.median([r[f"smollm2_{stage}_tokens"] for r in runs]))
                               for stage in ("plan", "judge")},
        # kept tokens per second of writing; candidates and resampled sentences cost extra work
        "tokens_per_second": round(sum(r["tokens"] for r in runs) / sum(r["seconds"] for r in runs), 1),
        "length_error_max": round(max(abs(r["words"] - r["words_asked"]) / r["words_asked"] for r in runs), 3),
        "longest_copied_run_max": max(r["longest_copied_run"] for r in runs),
        "runs": [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in runs],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    text = json.dumps(result, indent=2)
    out = Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else \
        Path(__file__).parent / "results" / "essay.json"
    out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
